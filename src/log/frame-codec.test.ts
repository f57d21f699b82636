/**
 * Table-driven tests of the frame and segment-header codecs: what the
 * encoder writes, byte for byte, and how the decoder classifies every kind
 * of input (ok, zero, incomplete, bad with each reason).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { FRAME_HEADER_SIZE_BYTES, SEGMENT_HEADER_SIZE_BYTES } from '../constants.js';
import { encodeFrame, sealFrames } from './frame-encoder.js';
import { FrameDecoder } from './frame-decoder.js';
import {
  FORMAT_VERSION,
  FRAME_FLAG_GROUP_END,
  FRAME_HEADER,
  FRAME_MAGIC,
  SEGMENT_HEADER,
  SEGMENT_MAGIC,
  decodeSegmentHeader,
  encodeSegmentHeader,
  frameSizeBytes,
  isAllZero,
  readUint53,
  writeUint53,
} from './format.js';

const LIMIT_BYTES = 1024;

interface FrameSpec {
  readonly payload: Uint8Array;
  readonly offset: number;
  readonly timestampMs: number;
}

/** Encodes `frames` as one sealed write group; returns the buffer and each frame's position. */
function encodeGroup(frames: readonly FrameSpec[], leadingBytes = 0): { buffer: Buffer; positions: number[] } {
  const totalBytes = frames.reduce((sum, frame) => sum + frameSizeBytes(frame.payload.length), leadingBytes);
  // Fill with garbage so that every byte the encoder leaves alone would show.
  const buffer = Buffer.alloc(totalBytes, 0xee);
  const positions: number[] = [];
  let position = leadingBytes;
  const firstOffset = frames[0]?.offset ?? 0;
  for (const frame of frames) {
    positions.push(position);
    position += encodeFrame(buffer, position, frame.payload, frame.offset, frame.timestampMs, frame.offset - firstOffset);
  }
  sealFrames(buffer, leadingBytes, position, positions[positions.length - 1] ?? leadingBytes);
  return { buffer, positions };
}

function oneFrame(payload: Uint8Array = Buffer.from('hello'), offset = 7, timestampMs = 1_700_000_000_123): Buffer {
  return encodeGroup([{ payload, offset, timestampMs }]).buffer;
}

/** Rewrites a frame's checksum after a test edited its header, so only the edit is wrong. */
function reseal(buffer: Buffer, framePosition = 0): void {
  const payloadSizeBytes = buffer.readUInt32LE(framePosition + FRAME_HEADER.payloadSizeBytes);
  const endPosition = framePosition + FRAME_HEADER_SIZE_BYTES + payloadSizeBytes;
  buffer.writeUInt32LE(crc32(buffer.subarray(framePosition + FRAME_HEADER.payloadSizeBytes, endPosition)), framePosition);
}

describe('frameSizeBytes', () => {
  const table: Array<[payloadBytes: number, frameBytes: number]> = [
    [1, 40],
    [7, 40],
    [8, 40],
    [9, 48],
    [16, 48],
    [17, 56],
    [1024, 1056],
    [16 * 1024 * 1024, 16 * 1024 * 1024 + 32],
  ];
  for (const [payloadBytes, frameBytes] of table) {
    test(`a ${payloadBytes}-byte payload takes a ${frameBytes}-byte frame`, () => {
      assert.equal(frameSizeBytes(payloadBytes), frameBytes);
      assert.equal(frameBytes % 8, 0);
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

describe('encodeFrame and sealFrames', () => {
  test('encodeFrame lays out every header field as docs/FORMAT.md says', () => {
    const payload = Buffer.from('abcdefghijk'); // 11 bytes: 5 bytes of padding
    const buffer = Buffer.alloc(64, 0xee);
    const sizeBytes = encodeFrame(buffer, 8, payload, 2 ** 32 + 3, 1_700_000_000_123, 2);
    assert.equal(sizeBytes, 48);
    const frame = buffer.subarray(8, 8 + sizeBytes);
    assert.equal(frame.readUInt32LE(FRAME_HEADER.payloadSizeBytes), 11);
    assert.equal(readUint53(frame, FRAME_HEADER.offsetLow), 2 ** 32 + 3);
    assert.equal(readUint53(frame, FRAME_HEADER.timestampMsLow), 1_700_000_000_123);
    assert.equal(frame.readUInt32LE(FRAME_HEADER.groupDelta), 2);
    assert.equal(frame.readUInt16LE(FRAME_HEADER.flags), 0);
    assert.equal(frame.readUInt16LE(FRAME_HEADER.magic), FRAME_MAGIC);
    assert.deepEqual(frame.subarray(32, 43), payload);
    assert.deepEqual(frame.subarray(43, 48), Buffer.alloc(5), 'padding is zeros');
    assert.equal(buffer[7], 0xee, 'bytes before the frame are untouched');
    assert.equal(buffer[56], 0xee, 'bytes after the frame are untouched');
  });

  test('encodeFrame refuses to write past the end of the buffer', () => {
    const buffer = Buffer.alloc(40);
    assert.throws(() => encodeFrame(buffer, 8, Buffer.from('x'), 0, 0, 0), { name: 'AssertionError' });
  });

  test('sealFrames flags only the last frame of the group and checksums header and payload of each', () => {
    const frames = [
      { payload: Buffer.from('a'), offset: 10, timestampMs: 5 },
      { payload: Buffer.alloc(100, 2), offset: 11, timestampMs: 6 },
      { payload: Buffer.from('last one'), offset: 12, timestampMs: 7 },
    ];
    const { buffer, positions } = encodeGroup(frames, 16);
    positions.forEach((position, index) => {
      const flags = buffer.readUInt16LE(position + FRAME_HEADER.flags);
      assert.equal(flags, index === positions.length - 1 ? FRAME_FLAG_GROUP_END : 0);
      const payloadSizeBytes = buffer.readUInt32LE(position + FRAME_HEADER.payloadSizeBytes);
      const checked = buffer.subarray(position + 4, position + FRAME_HEADER_SIZE_BYTES + payloadSizeBytes);
      assert.equal(buffer.readUInt32LE(position + FRAME_HEADER.crc), crc32(checked));
      assert.equal(buffer.readUInt32LE(position + FRAME_HEADER.groupDelta), index);
    });
  });

  test('a sealed group decodes back to the same payloads, offsets, timestamps and group deltas', () => {
    const frames = [1, 7, 8, 9, 31, 32, 33, 500].map((sizeBytes, index) => ({
      payload: Buffer.alloc(sizeBytes, index + 1),
      offset: 100 + index,
      timestampMs: 1_000 + index,
    }));
    const { buffer, positions } = encodeGroup(frames);
    const decoder = new FrameDecoder(LIMIT_BYTES);
    let position = 0;
    frames.forEach((frame, index) => {
      assert.equal(position, positions[index]);
      assert.equal(decoder.decode(buffer, position, buffer.length, frame.offset), 'ok');
      assert.equal(decoder.offset, frame.offset);
      assert.equal(decoder.timestampMs, frame.timestampMs);
      assert.equal(decoder.groupDelta, index);
      assert.equal(decoder.payloadSizeBytes, frame.payload.length);
      assert.equal(decoder.frameSizeBytes, frameSizeBytes(frame.payload.length));
      assert.equal(decoder.flags, index === frames.length - 1 ? FRAME_FLAG_GROUP_END : 0);
      const payloadPosition = position + FRAME_HEADER_SIZE_BYTES;
      assert.deepEqual(buffer.subarray(payloadPosition, payloadPosition + decoder.payloadSizeBytes), frame.payload);
      position += decoder.frameSizeBytes;
    });
    assert.equal(position, buffer.length);
  });
});

describe('FrameDecoder.decode', () => {
  test('returns ok for a valid frame at its expected offset, and for any offset when told -1', () => {
    const buffer = oneFrame();
    const decoder = new FrameDecoder(LIMIT_BYTES);
    assert.equal(decoder.decode(buffer, 0, buffer.length, 7), 'ok');
    assert.equal(decoder.decode(buffer, 0, buffer.length, -1), 'ok');
    assert.equal(decoder.offset, 7);
  });

  test('returns ok when only the padding after the payload is damaged (padding is outside the checksum)', () => {
    const buffer = oneFrame(Buffer.from('hello')); // 37 bytes used, 3 bytes padding
    buffer[39] = 0xff;
    assert.equal(new FrameDecoder(LIMIT_BYTES).decode(buffer, 0, buffer.length, 7), 'ok');
  });

  test('returns ok for a payload of exactly the limit', () => {
    const buffer = oneFrame(Buffer.alloc(LIMIT_BYTES, 3));
    const decoder = new FrameDecoder(LIMIT_BYTES);
    assert.equal(decoder.decode(buffer, 0, buffer.length, 7), 'ok');
    assert.equal(decoder.payloadSizeBytes, LIMIT_BYTES);
  });

  const zeroCases: Array<[name: string, make: () => { buffer: Buffer; start: number; end: number }]> = [
    ['a whole zero header', () => ({ buffer: Buffer.alloc(64), start: 0, end: 64 })],
    ['zeros shorter than a header at the end of the bytes', () => ({ buffer: Buffer.alloc(20), start: 0, end: 20 })],
    ['no bytes at all', () => ({ buffer: Buffer.alloc(8), start: 8, end: 8 })],
    [
      'a zero header after a valid frame',
      () => {
        const frame = oneFrame();
        const buffer = Buffer.concat([frame, Buffer.alloc(32)]);
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

  test('returns incomplete, needing the whole frame, when the payload is cut short', () => {
    const payload = Buffer.alloc(100, 9);
    const buffer = oneFrame(payload);
    for (let endPosition = FRAME_HEADER_SIZE_BYTES; endPosition < FRAME_HEADER_SIZE_BYTES + payload.length; endPosition += 1) {
      const decoder = new FrameDecoder(LIMIT_BYTES);
      assert.equal(decoder.decode(buffer, 0, endPosition, 7), 'incomplete', `cut at ${endPosition}`);
      assert.equal(decoder.frameSizeBytes, frameSizeBytes(payload.length));
    }
  });

  test('returns incomplete for a header claiming exactly the limit when few bytes follow, without reading past them', () => {
    const buffer = oneFrame(Buffer.alloc(8, 1)).subarray(0, 40);
    buffer.writeUInt32LE(LIMIT_BYTES, FRAME_HEADER.payloadSizeBytes);
    const decoder = new FrameDecoder(LIMIT_BYTES);
    assert.equal(decoder.decode(buffer, 0, buffer.length, 7), 'incomplete');
    assert.equal(decoder.frameSizeBytes, frameSizeBytes(LIMIT_BYTES));
  });

  const badCases: Array<[name: string, damage: (frame: Buffer) => void, reason: RegExp, expectedOffset?: number]> = [
    ['a wrong magic', (frame) => frame.writeUInt16LE(0x1234, FRAME_HEADER.magic), /magic/],
    ['a zero magic with other header bytes set', (frame) => frame.writeUInt16LE(0, FRAME_HEADER.magic), /magic/],
    [
      'a zero length',
      (frame) => {
        frame.writeUInt32LE(0, FRAME_HEADER.payloadSizeBytes);
      },
      /length is zero/,
    ],
    ['a length one over the limit', (frame) => frame.writeUInt32LE(LIMIT_BYTES + 1, FRAME_HEADER.payloadSizeBytes), /exceeds the limit/],
    ['a length of 4 GiB - 1', (frame) => frame.writeUInt32LE(0xffff_ffff, FRAME_HEADER.payloadSizeBytes), /exceeds the limit/],
    ['an unknown flag bit', (frame) => frame.writeUInt16LE(FRAME_FLAG_GROUP_END | 0x0100, FRAME_HEADER.flags), /flags/],
    ['the top flag bit', (frame) => frame.writeUInt16LE(0x8000, FRAME_HEADER.flags), /flags/],
    ['a payload codec this version does not know', (frame) => frame.writeUInt16LE(FRAME_FLAG_GROUP_END | 0x0002, FRAME_HEADER.flags), /flags/],
    ['a flipped payload byte', (frame) => (frame[33] = (frame[33] ?? 0) ^ 0x01), /checksum/],
    ['a flipped checksum byte', (frame) => (frame[0] = (frame[0] ?? 0) ^ 0x80), /checksum/],
    ['a changed timestamp', (frame) => (frame[FRAME_HEADER.timestampMsLow] = (frame[FRAME_HEADER.timestampMsLow] ?? 0) ^ 1), /checksum/],
    ['a changed group delta', (frame) => frame.writeUInt32LE(3, FRAME_HEADER.groupDelta), /checksum/],
    ['a cleared group-end flag', (frame) => frame.writeUInt16LE(0, FRAME_HEADER.flags), /checksum/],
    ['a changed offset', (frame) => frame.writeUInt32LE(8, FRAME_HEADER.offsetLow), /checksum/],
    [
      'a valid frame holding another offset than the one expected here',
      (frame) => {
        frame.writeUInt32LE(8, FRAME_HEADER.offsetLow);
        reseal(frame);
      },
      /offset 8 where offset 7 belongs/,
      7,
    ],
  ];
  for (const [name, damage, reason, expectedOffset] of badCases) {
    test(`returns bad for ${name}`, () => {
      const buffer = oneFrame(Buffer.from('payload!'));
      damage(buffer);
      const decoder = new FrameDecoder(LIMIT_BYTES);
      assert.equal(decoder.decode(buffer, 0, buffer.length, expectedOffset ?? 7), 'bad');
      assert.match(decoder.reason, reason);
    });
  }

  test('a length over the limit is bad even when only the header is present, so nothing is ever sized from it', () => {
    const header = oneFrame(Buffer.from('x')).subarray(0, FRAME_HEADER_SIZE_BYTES);
    for (const claimedBytes of [LIMIT_BYTES + 1, 2 ** 28, 2 ** 31, 0xffff_ffff]) {
      header.writeUInt32LE(claimedBytes, FRAME_HEADER.payloadSizeBytes);
      const decoder = new FrameDecoder(LIMIT_BYTES);
      assert.equal(decoder.decode(header, 0, header.length, 7), 'bad', `claims ${claimedBytes}`);
      assert.ok(decoder.frameSizeBytes <= frameSizeBytes(LIMIT_BYTES), 'no huge size is reported to callers');
    }
  });

  test('a reused decoder reports the fields of the last frame, not an earlier one', () => {
    const decoder = new FrameDecoder(LIMIT_BYTES);
    const first = oneFrame(Buffer.from('first'), 1, 100);
    const second = oneFrame(Buffer.alloc(70, 1), 2, 200);
    assert.equal(decoder.decode(first, 0, first.length, 1), 'ok');
    assert.equal(decoder.decode(second, 0, second.length, 2), 'ok');
    assert.equal(decoder.offset, 2);
    assert.equal(decoder.timestampMs, 200);
    assert.equal(decoder.payloadSizeBytes, 70);
  });
});

describe('segment header', () => {
  function header(baseOffset = 1234, createdAtMs = 1_700_000_000_000): Buffer {
    const buffer = Buffer.alloc(SEGMENT_HEADER_SIZE_BYTES + 8, 0xee);
    encodeSegmentHeader(buffer, 4, baseOffset, createdAtMs);
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
    assert.equal(bytes.readUInt32LE(SEGMENT_HEADER.reserved), 0);
    assert.equal(bytes.readUInt32LE(SEGMENT_HEADER.crc), crc32(bytes.subarray(0, 28)));
  });

  test('decodes an encoded header to ok with its base offset and creation time', () => {
    assert.deepEqual(decodeSegmentHeader(header(99, 12345)), { kind: 'ok', baseOffset: 99, createdAtMs: 12345 });
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
