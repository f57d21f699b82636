/**
 * Table-driven tests of the frame and segment-header codecs: what the
 * encoder writes, byte for byte, and how the decoder classifies every kind
 * of input (ok, zero, incomplete, bad with each reason).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { FRAME_HEADER_SIZE_BYTES, FRAME_SIZE_BYTES_LIMIT, SEGMENT_HEADER_SIZE_BYTES } from '../constants.js';
import { beginFrame, encodeRecord, sealFrame } from './frame-encoder.js';
import { FrameDecoder } from './frame-decoder.js';
import {
  FORMAT_VERSION,
  FRAME_HEADER,
  FRAME_MAGIC,
  RECORD_HEADER,
  SEGMENT_HEADER,
  SEGMENT_MAGIC,
  decodeSegmentHeader,
  encodeSegmentHeader,
  frameSizeBytes,
  isAllZero,
  readUint53,
  recordEntrySizeBytes,
  writeUint53,
} from './format.js';

const LIMIT_BYTES = 1024;

/** A record as the tests look at it: a view into the frame's buffer. */
interface DecodedRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly data: Buffer;
}

interface FrameSpec {
  readonly payloads: readonly Uint8Array[];
  readonly firstOffset: number;
  readonly timestampMs: number;
  readonly groupDelta?: number;
  readonly timestampDeltasMs?: readonly number[];
  readonly syncedOffset?: number;
}

/** Encodes one sealed frame at `leadingBytes` into a buffer filled with 0xee elsewhere. */
function encode(spec: FrameSpec, leadingBytes = 0, trailingBytes = 0): { buffer: Buffer; sizeBytes: number } {
  const sizeBytes = FRAME_HEADER_SIZE_BYTES + spec.payloads.reduce((sum, payload) => sum + recordEntrySizeBytes(payload.length), 0);
  const buffer = Buffer.alloc(leadingBytes + sizeBytes + trailingBytes, 0xee);
  beginFrame(buffer, leadingBytes, spec.firstOffset, spec.timestampMs, spec.groupDelta ?? 0, spec.syncedOffset ?? spec.firstOffset);
  let position = leadingBytes + FRAME_HEADER_SIZE_BYTES;
  spec.payloads.forEach((payload, index) => {
    position += encodeRecord(buffer, position, payload, spec.timestampDeltasMs?.[index] ?? 0);
  });
  assert.equal(position - leadingBytes, sizeBytes);
  sealFrame(buffer, leadingBytes, sizeBytes, spec.payloads.length);
  return { buffer, sizeBytes };
}

function oneFrame(payload: Uint8Array = Buffer.from('payload!'), firstOffset = 7, timestampMs = 1_700_000_000_123): Buffer {
  return encode({ payloads: [payload], firstOffset, timestampMs }).buffer;
}

/** Rewrites a frame's checksum after a test edited it, so only the edit itself is wrong. */
function reseal(buffer: Buffer, framePosition = 0): void {
  const sizeBytes = buffer.readUInt32LE(framePosition + FRAME_HEADER.frameSizeBytes);
  const checked = buffer.subarray(framePosition + FRAME_HEADER.frameSizeBytes, framePosition + sizeBytes);
  buffer.writeUInt32LE(crc32(checked), framePosition + FRAME_HEADER.crc);
}

function decodeRecords(decoder: FrameDecoder, buffer: Buffer, position: number, from = 0, to = Infinity): DecodedRecord[] {
  const records: DecodedRecord[] = [];
  decoder.records(buffer, position, from, to, {
    add: (offset, timestamp, dataPosition, dataSizeBytes) => records.push({ offset, timestamp, data: buffer.subarray(dataPosition, dataPosition + dataSizeBytes) }),
  });
  return records;
}

describe('frame sizes', () => {
  const table: Array<[payloadBytes: number, entryBytes: number]> = [
    [1, 16],
    [7, 16],
    [8, 16],
    [9, 24],
    [16, 24],
    [17, 32],
    [1024, 1032],
    [16 * 1024 * 1024, 16 * 1024 * 1024 + 8],
  ];
  for (const [payloadBytes, entryBytes] of table) {
    test(`a ${payloadBytes}-byte payload takes a ${entryBytes}-byte record entry and a ${entryBytes + 40}-byte single-record frame`, () => {
      assert.equal(recordEntrySizeBytes(payloadBytes), entryBytes);
      assert.equal(frameSizeBytes(payloadBytes), FRAME_HEADER_SIZE_BYTES + entryBytes);
      assert.equal(entryBytes % 8, 0);
    });
  }
});

describe('writeUint53 and readUint53', () => {
  for (const value of [0, 1, 0xffff_ffff, 2 ** 32, 2 ** 32 + 5, 1_700_000_000_123, Number.MAX_SAFE_INTEGER]) {
    test(`round-trip ${value} through two little-endian u32 halves`, () => {
      const buffer = Buffer.alloc(12, 0xaa);
      writeUint53(buffer, value, 2);
      assert.equal(readUint53(buffer, 2), value);
      assert.equal(buffer.readUInt32LE(2), value % 2 ** 32);
      assert.equal(buffer.readUInt32LE(6), Math.floor(value / 2 ** 32));
      assert.equal(buffer[0], 0xaa);
      assert.equal(buffer[10], 0xaa);
    });
  }
});

describe('isAllZero', () => {
  test('says true for zeros and false as soon as one byte is set, across 64 KiB blocks', () => {
    const buffer = Buffer.alloc(200 * 1024);
    assert.equal(isAllZero(buffer, 0, buffer.length), true);
    assert.equal(isAllZero(buffer, 5, 5), true);
    buffer[150 * 1024] = 1;
    assert.equal(isAllZero(buffer, 0, buffer.length), false);
    assert.equal(isAllZero(buffer, 0, 150 * 1024), true);
    assert.equal(isAllZero(buffer, 150 * 1024 + 1, buffer.length), true);
  });
});

describe('frame encoder', () => {
  test('lays out every header field and record entry as docs/FORMAT.md says', () => {
    const payloads = [Buffer.from('abcdefghijk'), Buffer.from('xy')]; // entries of 24 and 16 bytes
    const { buffer, sizeBytes } = encode({ payloads, firstOffset: 2 ** 32 + 3, timestampMs: 1_700_000_000_123, groupDelta: 2, timestampDeltasMs: [0, -5] }, 8, 8);
    assert.equal(sizeBytes, FRAME_HEADER_SIZE_BYTES + 24 + 16);
    const frame = buffer.subarray(8, 8 + sizeBytes);
    assert.equal(frame.readUInt32LE(FRAME_HEADER.frameSizeBytes), sizeBytes);
    assert.equal(readUint53(frame, FRAME_HEADER.firstOffsetLow), 2 ** 32 + 3);
    assert.equal(readUint53(frame, FRAME_HEADER.timestampMsLow), 1_700_000_000_123);
    assert.equal(frame.readUInt32LE(FRAME_HEADER.recordCount), 2);
    assert.equal(frame.readUInt32LE(FRAME_HEADER.groupDelta), 2);
    assert.equal(frame.readUInt16LE(FRAME_HEADER.flags), 0);
    assert.equal(frame.readUInt16LE(FRAME_HEADER.magic), FRAME_MAGIC);
    assert.equal(frame.readUInt32LE(FRAME_HEADER.syncedDelta), 0, 'by default everything before the frame was synced');
    assert.equal(frame.readUInt32LE(FRAME_HEADER.crc), crc32(frame.subarray(4)), 'the checksum covers everything after it, padding included');
    const first = frame.subarray(FRAME_HEADER_SIZE_BYTES);
    assert.equal(first.readUInt32LE(RECORD_HEADER.payloadSizeBytes), 11);
    assert.equal(first.readInt32LE(RECORD_HEADER.timestampDeltaMs), 0);
    assert.deepEqual(first.subarray(8, 19), payloads[0]);
    assert.deepEqual(first.subarray(19, 24), Buffer.alloc(5), 'padding is zeros');
    const second = frame.subarray(FRAME_HEADER_SIZE_BYTES + 24);
    assert.equal(second.readUInt32LE(RECORD_HEADER.payloadSizeBytes), 2);
    assert.equal(second.readInt32LE(RECORD_HEADER.timestampDeltaMs), -5);
    assert.deepEqual(second.subarray(8, 10), payloads[1]);
    assert.deepEqual(second.subarray(10, 16), Buffer.alloc(6));
    assert.equal(buffer[7], 0xee, 'bytes before the frame are untouched');
    assert.equal(buffer[8 + sizeBytes], 0xee, 'bytes after the frame are untouched');
  });

  test('refuses to write past the end of the buffer', () => {
    assert.throws(() => beginFrame(Buffer.alloc(39), 0, 0, 0, 0, 0), { name: 'AssertionError' });
    assert.throws(() => beginFrame(Buffer.alloc(64), 0, 5, 0, 0, 6), { name: 'AssertionError' }, 'nothing after a frame is synced before it');
    assert.throws(() => encodeRecord(Buffer.alloc(50), 40, Buffer.from('x'), 0), { name: 'AssertionError' });
  });

  test('refuses to seal a frame without records', () => {
    const buffer = Buffer.alloc(64);
    beginFrame(buffer, 0, 0, 0, 0, 0);
    assert.throws(() => sealFrame(buffer, 0, 40, 0), { name: 'AssertionError' });
  });

  test('a sealed frame decodes back to the same payloads, offsets and timestamps', () => {
    const payloads = [1, 7, 8, 9, 31, 32, 33, 500].map((sizeBytes, index) => Buffer.alloc(sizeBytes, index + 1));
    const deltas = payloads.map((_, index) => index * 3);
    const { buffer } = encode({ payloads, firstOffset: 100, timestampMs: 1_000, groupDelta: 4, timestampDeltasMs: deltas });
    const decoder = new FrameDecoder(LIMIT_BYTES);
    assert.equal(decoder.decode(buffer, 0, buffer.length, 100), 'ok');
    assert.equal(decoder.firstOffset, 100);
    assert.equal(decoder.recordCount, payloads.length);
    assert.equal(decoder.groupFirstOffset, 96);
    assert.equal(decoder.timestampMs, 1_000);
    assert.equal(decoder.frameSizeBytes, buffer.length);
    assert.equal(decoder.lastTimestampMs(buffer, 0), 1_000 + deltas[deltas.length - 1]!);
    const records = decodeRecords(decoder, buffer, 0);
    assert.deepEqual(records.map((record) => record.offset), payloads.map((_, index) => 100 + index));
    assert.deepEqual(records.map((record) => record.timestamp), deltas.map((delta) => 1_000 + delta));
    records.forEach((record, index) => assert.deepEqual(record.data, payloads[index]));
  });

  test('records() yields only the offsets in [from, to)', () => {
    const payloads = ['a', 'b', 'c', 'd', 'e'].map((text) => Buffer.from(text));
    const { buffer } = encode({ payloads, firstOffset: 10, timestampMs: 5 });
    const decoder = new FrameDecoder(LIMIT_BYTES);
    assert.equal(decoder.decode(buffer, 0, buffer.length, 10), 'ok');
    assert.deepEqual(decodeRecords(decoder, buffer, 0, 12, 14).map((record) => record.data.toString()), ['c', 'd']);
    assert.deepEqual(decodeRecords(decoder, buffer, 0, 0, 11).map((record) => record.offset), [10]);
    assert.deepEqual(decodeRecords(decoder, buffer, 0, 14, 100).map((record) => record.offset), [14]);
    assert.deepEqual(decodeRecords(decoder, buffer, 0, 15, 100), []);
  });
});

describe('FrameDecoder.decode', () => {
  test('returns ok for a valid frame at its expected offset, and for any offset when told -1', () => {
    const buffer = oneFrame();
    const decoder = new FrameDecoder(LIMIT_BYTES);
    assert.equal(decoder.decode(buffer, 0, buffer.length, 7), 'ok');
    assert.equal(decoder.decode(buffer, 0, buffer.length, -1), 'ok');
    assert.equal(decoder.firstOffset, 7);
  });

  test('returns ok for a payload of exactly the limit', () => {
    const buffer = oneFrame(Buffer.alloc(LIMIT_BYTES, 3));
    const decoder = new FrameDecoder(LIMIT_BYTES);
    assert.equal(decoder.decode(buffer, 0, buffer.length, 7), 'ok');
    assert.equal(decodeRecords(decoder, buffer, 0)[0]?.data.length, LIMIT_BYTES);
  });

  const zeroCases: Array<[name: string, make: () => { buffer: Buffer; start: number; end: number }]> = [
    ['a whole zero header', () => ({ buffer: Buffer.alloc(64), start: 0, end: 64 })],
    ['zeros shorter than a header at the end of the bytes', () => ({ buffer: Buffer.alloc(20), start: 0, end: 20 })],
    ['no bytes at all', () => ({ buffer: Buffer.alloc(8), start: 8, end: 8 })],
    [
      'a zero header after a valid frame',
      () => {
        const frame = oneFrame();
        const buffer = Buffer.concat([frame, Buffer.alloc(FRAME_HEADER_SIZE_BYTES)]);
        return { buffer, start: frame.length, end: buffer.length };
      },
    ],
  ];
  for (const [name, make] of zeroCases) {
    test(`returns zero for ${name}`, () => {
      const { buffer, start, end } = make();
      assert.equal(new FrameDecoder(LIMIT_BYTES).decode(buffer, start, end, 0), 'zero');
    });
  }

  test('returns incomplete, needing a whole header, when a non-zero header is cut short', () => {
    const buffer = oneFrame();
    for (let endPosition = 1; endPosition < FRAME_HEADER_SIZE_BYTES; endPosition += 1) {
      const decoder = new FrameDecoder(LIMIT_BYTES);
      assert.equal(decoder.decode(buffer, 0, endPosition, 7), 'incomplete', `cut at ${endPosition}`);
      assert.equal(decoder.frameSizeBytes, FRAME_HEADER_SIZE_BYTES);
    }
  });

  test('returns incomplete, needing the whole frame, when the records are cut short (padding included)', () => {
    const buffer = oneFrame(Buffer.alloc(100, 9));
    for (let endPosition = FRAME_HEADER_SIZE_BYTES; endPosition < buffer.length; endPosition += 1) {
      const decoder = new FrameDecoder(LIMIT_BYTES);
      assert.equal(decoder.decode(buffer, 0, endPosition, 7), 'incomplete', `cut at ${endPosition}`);
      assert.equal(decoder.frameSizeBytes, buffer.length);
    }
  });

  const badCases: Array<[name: string, damage: (frame: Buffer) => void, reason: RegExp, expectedOffset?: number]> = [
    ['a wrong magic', (frame) => frame.writeUInt16LE(0x1234, FRAME_HEADER.magic), /magic/],
    ['a zero magic with other header bytes set', (frame) => frame.writeUInt16LE(0, FRAME_HEADER.magic), /magic/],
    ['a frame size of zero', (frame) => frame.writeUInt32LE(0, FRAME_HEADER.frameSizeBytes), /frame size 0 is impossible/],
    ['a frame size smaller than a header and one record', (frame) => frame.writeUInt32LE(48, FRAME_HEADER.frameSizeBytes), /impossible/],
    ['a frame size that is not a multiple of 8', (frame) => frame.writeUInt32LE(60, FRAME_HEADER.frameSizeBytes), /impossible/],
    ['a frame size over the limit', (frame) => frame.writeUInt32LE(FRAME_SIZE_BYTES_LIMIT + 8, FRAME_HEADER.frameSizeBytes), /impossible/],
    ['a frame size of 4 GiB - 8', (frame) => frame.writeUInt32LE(0xffff_fff8, FRAME_HEADER.frameSizeBytes), /impossible/],
    ['an unknown flag bit', (frame) => frame.writeUInt16LE(0x0100, FRAME_HEADER.flags), /flags/],
    ['the top flag bit', (frame) => frame.writeUInt16LE(0x8000, FRAME_HEADER.flags), /flags/],
    ['bit 0, which this version does not use', (frame) => frame.writeUInt16LE(0x0001, FRAME_HEADER.flags), /flags/],
    ['a payload codec this version does not know', (frame) => frame.writeUInt16LE(0x0002, FRAME_HEADER.flags), /flags/],
    ['a flipped payload byte', (frame) => (frame[50] = (frame[50] ?? 0) ^ 0x01), /checksum/],
    ['a flipped padding byte', (frame) => (frame[frame.length - 1] = (frame[frame.length - 1] ?? 0) ^ 0x01), /checksum/],
    ['a flipped checksum byte', (frame) => (frame[0] = (frame[0] ?? 0) ^ 0x80), /checksum/],
    ['a changed timestamp', (frame) => (frame[FRAME_HEADER.timestampMsLow] = (frame[FRAME_HEADER.timestampMsLow] ?? 0) ^ 1), /checksum/],
    ['a changed record count', (frame) => frame.writeUInt32LE(2, FRAME_HEADER.recordCount), /checksum/],
    ['a changed group delta', (frame) => frame.writeUInt32LE(3, FRAME_HEADER.groupDelta), /checksum/],
    ['a changed first offset', (frame) => frame.writeUInt32LE(8, FRAME_HEADER.firstOffsetLow), /checksum/],
    ['a changed record timestamp delta', (frame) => frame.writeInt32LE(9, FRAME_HEADER_SIZE_BYTES + RECORD_HEADER.timestampDeltaMs), /checksum/],
    [
      'a valid frame holding another offset than the one expected here',
      (frame) => {
        frame.writeUInt32LE(8, FRAME_HEADER.firstOffsetLow);
        reseal(frame);
      },
      /offset 8 where offset 7 belongs/,
      7,
    ],
    [
      'a checksummed group delta larger than the first offset',
      (frame) => {
        frame.writeUInt32LE(8, FRAME_HEADER.groupDelta);
        reseal(frame);
      },
      /impossible/,
    ],
    [
      'a checksummed record count of zero',
      (frame) => {
        frame.writeUInt32LE(0, FRAME_HEADER.recordCount);
        reseal(frame);
      },
      /records do not fill the frame/,
    ],
    [
      'a checksummed record count larger than the records present',
      (frame) => {
        frame.writeUInt32LE(2, FRAME_HEADER.recordCount);
        reseal(frame);
      },
      /records do not fill the frame/,
    ],
    [
      'a checksummed record length of zero',
      (frame) => {
        frame.writeUInt32LE(0, FRAME_HEADER_SIZE_BYTES + RECORD_HEADER.payloadSizeBytes);
        reseal(frame);
      },
      /records do not fill the frame/,
    ],
    [
      'a checksummed record length running past the frame',
      (frame) => {
        frame.writeUInt32LE(100, FRAME_HEADER_SIZE_BYTES + RECORD_HEADER.payloadSizeBytes);
        reseal(frame);
      },
      /records do not fill the frame/,
    ],
    [
      'a checksummed record length over the limit',
      (frame) => {
        frame.writeUInt32LE(0xffff_ffff, FRAME_HEADER_SIZE_BYTES + RECORD_HEADER.payloadSizeBytes);
        reseal(frame);
      },
      /records do not fill the frame/,
    ],
    [
      'a checksummed record shorter than its frame',
      (frame) => {
        frame.writeUInt32LE(1, FRAME_HEADER_SIZE_BYTES + RECORD_HEADER.payloadSizeBytes);
        reseal(frame);
      },
      /records do not fill the frame/,
    ],
  ];
  for (const [name, damage, reason, expectedOffset] of badCases) {
    test(`returns bad for ${name}`, () => {
      // 9 bytes: a 24-byte entry with 7 bytes of padding, so a length of 1 (16 bytes) no longer fills it.
      const buffer = oneFrame(Buffer.from('payload!!'));
      damage(buffer);
      const decoder = new FrameDecoder(LIMIT_BYTES);
      assert.equal(decoder.decode(buffer, 0, buffer.length, expectedOffset ?? 7), 'bad');
      assert.match(decoder.reason, reason);
    });
  }

  test('a frame size over the limit is bad even when only the header is present, so nothing is ever sized from it', () => {
    const header = oneFrame(Buffer.from('x')).subarray(0, FRAME_HEADER_SIZE_BYTES);
    for (const claimedBytes of [FRAME_SIZE_BYTES_LIMIT + 8, 0xffff_fff8]) {
      header.writeUInt32LE(claimedBytes, FRAME_HEADER.frameSizeBytes);
      const decoder = new FrameDecoder(LIMIT_BYTES);
      assert.equal(decoder.decode(header, 0, header.length, 7), 'bad', `claims ${claimedBytes}`);
      assert.equal(decoder.frameSizeBytes, 0, 'no size is reported to callers');
    }
  });

  test('a plausible frame size larger than the bytes present is incomplete, never read past the end', () => {
    const header = oneFrame(Buffer.from('x')).subarray(0, FRAME_HEADER_SIZE_BYTES);
    header.writeUInt32LE(1024 * 1024, FRAME_HEADER.frameSizeBytes);
    const decoder = new FrameDecoder(LIMIT_BYTES);
    assert.equal(decoder.decode(header, 0, header.length, 7), 'incomplete');
    assert.equal(decoder.frameSizeBytes, 1024 * 1024);
  });

  test('a reused decoder reports the fields of the last frame, not an earlier one', () => {
    const decoder = new FrameDecoder(LIMIT_BYTES);
    const first = oneFrame(Buffer.from('first'), 1, 100);
    const second = encode({ payloads: [Buffer.alloc(70, 1), Buffer.from('z')], firstOffset: 2, timestampMs: 200 }).buffer;
    assert.equal(decoder.decode(first, 0, first.length, 1), 'ok');
    assert.equal(decoder.decode(second, 0, second.length, 2), 'ok');
    assert.equal(decoder.firstOffset, 2);
    assert.equal(decoder.recordCount, 2);
    assert.equal(decoder.timestampMs, 200);
    assert.equal(decoder.frameSizeBytes, second.length);
  });

  test('frames back to back decode one after another at their own positions', () => {
    const a = encode({ payloads: [Buffer.from('a'), Buffer.from('bb')], firstOffset: 0, timestampMs: 1 }).buffer;
    const b = encode({ payloads: [Buffer.alloc(300, 2)], firstOffset: 2, timestampMs: 2, groupDelta: 2 }).buffer;
    const buffer = Buffer.concat([a, b, Buffer.alloc(64)]);
    const decoder = new FrameDecoder(LIMIT_BYTES);
    assert.equal(decoder.decode(buffer, 0, buffer.length, 0), 'ok');
    assert.equal(decoder.decode(buffer, a.length, buffer.length, 2), 'ok');
    assert.equal(decoder.groupFirstOffset, 0);
    assert.equal(decoder.decode(buffer, a.length + b.length, buffer.length, 3), 'zero');
  });
});

describe('segment header', () => {
  function header(baseOffset = 1234, createdAtMs = 1_700_000_000_000): Buffer {
    const buffer = Buffer.alloc(SEGMENT_HEADER_SIZE_BYTES + 8, 0xee);
    encodeSegmentHeader(buffer, 4, baseOffset, createdAtMs, 0xa1b2c3d4);
    return buffer.subarray(4, 4 + SEGMENT_HEADER_SIZE_BYTES);
  }

  test('encodes magic, version, base offset, creation time and a checksum over bytes 0-27', () => {
    const bytes = header(2 ** 40 + 1, 1_700_000_000_000);
    assert.equal(bytes.readUInt32LE(SEGMENT_HEADER.magic), SEGMENT_MAGIC);
    assert.equal(bytes.toString('latin1', 0, 4), 'TWAL');
    assert.equal(bytes.readUInt16LE(SEGMENT_HEADER.version), FORMAT_VERSION);
    assert.equal(bytes.readUInt16LE(SEGMENT_HEADER.flags), 0);
    assert.equal(readUint53(bytes, SEGMENT_HEADER.baseOffsetLow), 2 ** 40 + 1);
    assert.equal(readUint53(bytes, SEGMENT_HEADER.createdAtMsLow), 1_700_000_000_000);
    assert.equal(bytes.readUInt32LE(SEGMENT_HEADER.nonce), 0xa1b2c3d4);
    assert.equal(bytes.readUInt32LE(SEGMENT_HEADER.crc), crc32(bytes.subarray(0, 28)));
  });

  test('decodes an encoded header to ok with its base offset and creation time', () => {
    assert.deepEqual(decodeSegmentHeader(header(99, 12345)), { kind: 'ok', baseOffset: 99, createdAtMs: 12345, nonce: 0xa1b2c3d4 });
  });

  test('decodes an all-zero header as zero', () => {
    assert.deepEqual(decodeSegmentHeader(Buffer.alloc(SEGMENT_HEADER_SIZE_BYTES)), { kind: 'zero' });
  });

  test('decodes a well-formed header of another version as unsupported, naming the version', () => {
    const bytes = header();
    bytes.writeUInt16LE(2, SEGMENT_HEADER.version);
    bytes.writeUInt32LE(crc32(bytes.subarray(0, 28)), SEGMENT_HEADER.crc);
    assert.deepEqual(decodeSegmentHeader(bytes), { kind: 'unsupported', version: 2 });
  });

  const badHeaders: Array<[name: string, damage: (bytes: Buffer) => Buffer, reason: RegExp]> = [
    ['a header cut short', (bytes) => bytes.subarray(0, 31), /cut short/],
    ['a wrong magic', (bytes) => (bytes.writeUInt32LE(0x12345678, 0), bytes), /magic/],
    ['a flipped base-offset bit', (bytes) => ((bytes[8] = (bytes[8] ?? 0) ^ 1), bytes), /checksum/],
    ['a version change without a new checksum', (bytes) => (bytes.writeUInt16LE(2, SEGMENT_HEADER.version), bytes), /checksum/],
    ['a flipped checksum', (bytes) => ((bytes[30] = (bytes[30] ?? 0) ^ 1), bytes), /checksum/],
  ];
  for (const [name, damage, reason] of badHeaders) {
    test(`decodes ${name} as bad`, () => {
      const status = decodeSegmentHeader(damage(header()));
      assert.equal(status.kind, 'bad');
      assert.match(status.kind === 'bad' ? status.reason : '', reason);
    });
  }
});

describe('synced offset', () => {
  test('the decoder reports the synced offset the encoder wrote, and saturates far-back ones at 0', () => {
    const decoder = new FrameDecoder(1024);
    const near = encode({ payloads: [Buffer.from('a')], firstOffset: 100, timestampMs: 1, syncedOffset: 90 });
    assert.equal(decoder.decode(near.buffer, 0, near.sizeBytes, 100), 'ok');
    assert.equal(decoder.syncedOffset, 90);
    const far = encode({ payloads: [Buffer.from('a')], firstOffset: 2 ** 40, timestampMs: 1, syncedOffset: 0 });
    assert.equal(decoder.decode(far.buffer, 0, far.sizeBytes, 2 ** 40), 'ok');
    assert.equal(decoder.syncedOffset, 0);
  });
});
