/**
 * Corruption: bad data with good data after it. Open must refuse with a
 * CorruptionError naming the file and byte position (and change nothing),
 * unless asked to repair, which cuts there and keeps the cut bytes in a
 * `.broken` file. Readers verify checksums on every read, so damage in a
 * sealed segment (never scanned at open) is found when it is read.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Wal } from '../../src/log/wal.js';
import type { WalOptions } from '../../src/log/options.js';
import { CorruptionError, FormatUnsupportedError, WalError } from '../../src/errors.js';
import { FRAME_HEADER, RECORD_HEADER, SEGMENT_HEADER } from '../../src/log/format.js';
import { decodeIndexTrailer } from '../../src/log/segment-index.js';
import { FRAME_HEADER_SIZE_BYTES, RECORD_HEADER_SIZE_BYTES, SEGMENT_HEADER_SIZE_BYTES } from '../../src/constants.js';
import {
  brokenFiles,
  dataEndPosition,
  flipByte,
  forgetCleanShutdown,
  frameAt,
  framesOf,
  lastSegmentPath,
  overwrite,
  readBytes,
  removeTempDirs,
  scanFrames,
  segmentPath,
  tempDir,
  zeroRange,
} from './damage.js';

after(removeTempDirs);

/**
 * 'always': every frame records that the frames before it were durable when
 * it was written, which is what makes damage before a good frame corruption
 * rather than a torn tail (under 'os' nothing is known to be synced; see the
 * test of unsynced damage at the end).
 */
async function open(dir: string, extra: Partial<WalOptions> = {}): Promise<Wal> {
  return Wal.open({ dir, fsync: 'always', ...extra });
}

async function readAll(wal: Wal, from?: number): Promise<Buffer[]> {
  const records: Buffer[] = [];
  let expectedOffset = from ?? wal.firstOffset;
  for await (const record of wal.read(from === undefined ? {} : { from })) {
    assert.equal(record.offset, expectedOffset, 'offsets are dense');
    expectedOffset += 1;
    records.push(Buffer.from(record.data));
  }
  return records;
}

function assertSameRecords(actual: readonly Buffer[], expected: readonly Buffer[], context: string): void {
  assert.equal(actual.length, expected.length, `${context}: record count`);
  actual.forEach((record, index) => assert.ok(record.equals(expected[index] as Buffer), `${context}: bytes at index ${index}`));
}

/** Appends `count` records, one write group each, and closes; returns them. */
async function buildLog(dir: string, count: number, sizeBytes: (index: number) => number, extra: Partial<WalOptions> = {}): Promise<Buffer[]> {
  const wal = await open(dir, extra);
  const records: Buffer[] = [];
  for (let index = 0; index < count; index += 1) {
    const record = randomBytes(sizeBytes(index));
    await wal.append(record);
    records.push(record);
  }
  await wal.close();
  return records;
}

/** Repair left exactly one `.broken` file in `dir`, named after `segment` and holding `bytes`. */
function assertOneBrokenFile(dir: string, segment: string, bytes: Buffer, message: string): void {
  const broken = brokenFiles(dir);
  assert.equal(broken.length, 1, `one .broken file, got ${broken.join(', ')}`);
  assert.match(broken[0] as string, new RegExp(`^${path.basename(segment).replace('.', '\\.')}\\.\\d+\\.broken$`), 'the .broken file is named after the whole segment name');
  assert.ok(fs.readFileSync(path.join(dir, broken[0] as string)).equals(bytes), message);
}

/** A repaired log (holding `kept`, from offset 0) appends at its new end and reopens cleanly with the kept records and the new one; closes `wal`. */
async function assertAppendsAfterRepair(wal: Wal, dir: string, kept: readonly Buffer[], extra: Partial<WalOptions> = {}): Promise<void> {
  const next = Buffer.from('after repair');
  assert.deepEqual(await wal.append(next), { offset: kept.length });
  await wal.close();
  const reopened = await open(dir, extra);
  assert.equal(reopened.recovery.clean, true);
  assertSameRecords(await readAll(reopened), [...kept, next], 'after repair and reopen');
  await reopened.close();
}

/** Where a sealed segment's index trailer starts: the end of its frames. */
function indexTrailerStart(segment: string): number {
  const base = Number(path.basename(segment, '.wal'));
  const index = decodeIndexTrailer(fs.readFileSync(segment), base);
  assert.ok(index !== null, `${segment} has a valid index trailer`);
  return index.sizeBytes;
}

/** The index header's size (docs/FORMAT.md): the index's entries of 8 bytes follow it, then its CRC, its length and the magic. */
const INDEX_HEADER_SIZE_BYTES = 52;

/** Writes `content` (a sealed segment) back with `edit` applied and its index checksum recomputed: a trailer a writer's bug left. */
function writeForgedIndex(segment: string, content: Buffer, edit: (forged: Buffer) => void): void {
  const indexSizeBytes = content.readUInt32LE(content.length - 8);
  const indexStart = content.length - 8 - indexSizeBytes;
  const crcPosition = indexStart + indexSizeBytes - 4;
  const forged = Buffer.from(content);
  edit(forged);
  forged.writeUInt32LE(crc32(forged.subarray(indexStart, crcPosition)), crcPosition);
  fs.writeFileSync(segment, forged);
}

/** Opened after a clean close and again after a crash, `dir` reads back exactly `all`, from 0 and from `from`. */
async function assertReadsMissNothing(dir: string, all: readonly Buffer[], from: number, context: string): Promise<void> {
  for (const crashed of [false, true]) {
    if (crashed) forgetCleanShutdown(dir);
    const wal = await open(dir, { segmentMaxRecords: 10 });
    assertSameRecords(await readAll(wal, 0), all, `${context}, crashed=${crashed}: every record`);
    assertSameRecords(await readAll(wal, from), all.slice(from), `${context}, crashed=${crashed}: from ${from}`);
    await wal.close();
  }
}

function assertCorruption(error: unknown, file: string, filePosition: number): true {
  assert.ok(error instanceof CorruptionError, `expected CorruptionError, got ${String(error)}`);
  assert.ok(error instanceof WalError);
  assert.equal(error.code, 'LOG_CORRUPT');
  assert.equal(path.basename(error.file), path.basename(file), `error.file (${error.message})`);
  assert.equal(error.filePosition, filePosition, `error.filePosition (${error.message})`);
  return true;
}

function snapshot(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of fs.readdirSync(dir).sort()) {
    if (name === 'LOCK') continue;
    files.set(name, fs.readFileSync(path.join(dir, name)));
  }
  return files;
}

function assertUnchanged(dir: string, before: Map<string, Buffer>, context: string): void {
  const now = snapshot(dir);
  assert.deepEqual([...now.keys()], [...before.keys()], `${context}: the same files`);
  for (const [name, bytes] of before) assert.ok(now.get(name)?.equals(bytes), `${context}: ${name} unchanged`);
}

describe('corruption in the active segment', () => {
  const frameFields: Array<[name: string, fieldPosition: (frameSizeBytes: number) => number]> = [
    ['the payload', () => FRAME_HEADER_SIZE_BYTES + RECORD_HEADER_SIZE_BYTES + 40],
    ['the checksum', () => FRAME_HEADER.crc],
    ['the frame size', () => FRAME_HEADER.frameSizeBytes],
    ['the first offset', () => FRAME_HEADER.firstOffsetLow],
    ['the timestamp', () => FRAME_HEADER.timestampMsLow + 1],
    ['the record count', () => FRAME_HEADER.recordCount],
    ['the group delta', () => FRAME_HEADER.groupDelta],
    ['the flags', () => FRAME_HEADER.flags],
    ['the magic', () => FRAME_HEADER.magic],
    ['the synced delta', () => FRAME_HEADER.syncedDelta],
    ['the record length', () => FRAME_HEADER_SIZE_BYTES + RECORD_HEADER.payloadSizeBytes],
    ['the record timestamp delta', () => FRAME_HEADER_SIZE_BYTES + RECORD_HEADER.timestampDeltaMs],
    ['the last padding byte (padding is under the checksum)', (frameSizeBytes) => frameSizeBytes - 1],
  ];
  for (const [name, fieldPosition] of frameFields) {
    test(`a flipped bit in ${name} of an early frame fails open with LOG_CORRUPT naming file and position, and changes nothing`, async () => {
      const dir = tempDir();
      await buildLog(dir, 20, () => 100);
      forgetCleanShutdown(dir);
      const segment = lastSegmentPath(dir);
      const damaged = frameAt(segment, 3);
      fs.writeFileSync(path.join(dir, 'unrelated.txt'), 'kept');
      const bytePosition = damaged.position + fieldPosition(damaged.sizeBytes);
      const [original = 0] = readBytes(segment, bytePosition, 1);
      // A size grown by a multiple of 8 still looks aligned: flip bit 6 so that only the checksum can tell.
      overwrite(segment, bytePosition, Buffer.from([original ^ (name.includes('size') || name.includes('length') ? 0x40 : 0x01)]));
      const before = snapshot(dir);
      await assert.rejects(open(dir), (error: unknown) => assertCorruption(error, segment, damaged.position));
      assertUnchanged(dir, before, 'after a refused open');
      // The refused open released the folder: a second attempt fails the same way, not with LOCKED.
      await assert.rejects(open(dir), (error: unknown) => assertCorruption(error, segment, damaged.position));
    });
  }

  test('a length that runs past the end of the file, with good frames before the end, is corruption', async () => {
    const dir = tempDir();
    await buildLog(dir, 20, () => 100);
    forgetCleanShutdown(dir);
    const segment = lastSegmentPath(dir);
    const damaged = frameAt(segment, 3);
    const fileSizeBytes = fs.statSync(segment).size;
    const header = Buffer.alloc(4);
    header.writeUInt32LE(fileSizeBytes - damaged.position + 64);
    overwrite(segment, damaged.position + FRAME_HEADER.frameSizeBytes, header);
    await assert.rejects(open(dir), (error: unknown) => assertCorruption(error, segment, damaged.position));
  });

  test('a valid frame written at the wrong place (a misdirected write) is corruption', async () => {
    const dir = tempDir();
    await buildLog(dir, 12, () => 64);
    forgetCleanShutdown(dir);
    const segment = lastSegmentPath(dir);
    const target = frameAt(segment, 3);
    const source = frameAt(segment, 6);
    overwrite(segment, target.position, readBytes(segment, source.position, source.sizeBytes));
    await assert.rejects(open(dir), (error: unknown) => assertCorruption(error, segment, target.position));
  });

  test('a zeroed 512-byte sector in the middle, followed by valid frames, is corruption', async () => {
    const dir = tempDir();
    await buildLog(dir, 60, (index) => 50 + ((index * 31) % 150));
    forgetCleanShutdown(dir);
    const segment = lastSegmentPath(dir);
    zeroRange(segment, 1024, 512);
    const { badPosition, frames } = scanFrames(segment);
    assert.ok(badPosition !== null && badPosition <= 1536, 'the zeroed sector breaks a frame');
    assert.ok(frames.length < 60);
    await assert.rejects(open(dir), (error: unknown) => assertCorruption(error, segment, badPosition));
  });

  test('a zeroed sector starting at the first frame, with valid frames after it, is corruption, not an empty segment', async () => {
    // Zeros where a frame header should be read as the end of the data only when nothing but zeros follows.
    const dir = tempDir();
    await buildLog(dir, 40, () => 100);
    forgetCleanShutdown(dir);
    const segment = lastSegmentPath(dir);
    zeroRange(segment, SEGMENT_HEADER_SIZE_BYTES, 512);
    const before = snapshot(dir);
    await assert.rejects(open(dir), (error: unknown) => assertCorruption(error, segment, SEGMENT_HEADER_SIZE_BYTES));
    assertUnchanged(dir, before, 'the refused open');
  });

  test('a segment missing between sealed ones and the active one, after a crash, is corruption, not a torn tail', async () => {
    const dir = tempDir();
    await buildLog(dir, 20, () => 64, { segmentMaxRecords: 4 });
    forgetCleanShutdown(dir);
    // Records 12-15 lived in the segment before the active one (16-19).
    fs.rmSync(segmentPath(dir, 12));
    const before = snapshot(dir);
    await assert.rejects(open(dir, { segmentMaxRecords: 4 }), (error: unknown) => {
      assert.ok(error instanceof CorruptionError, `expected CorruptionError, got ${String(error)}`);
      assert.equal(error.code, 'LOG_CORRUPT');
      return true;
    });
    assertUnchanged(dir, before, 'the refused open moved nothing aside');
  });

  // It opened as a new log and handed out offsets 0, 1, ... again: readers
  // and consumers that had seen them skipped the new records.
  test('every segment deleted while the clean-shutdown marker stays is corruption; repair starts an empty log at the old nextOffset', async () => {
    const dir = tempDir();
    await buildLog(dir, 35, () => 64, { segmentMaxRecords: 10 });
    const segments = fs.readdirSync(dir).filter((name) => name.endsWith('.wal'));
    assert.equal(segments.length, 4);
    for (const name of segments) fs.rmSync(path.join(dir, name));
    const before = snapshot(dir);
    await assert.rejects(open(dir), (error: unknown) => {
      assertCorruption(error, segmentPath(dir, 30), 0);
      assert.match((error as Error).message, /every segment file of the log is gone.*up to offset 35.*repair: true \} to start an empty log at offset 35/);
      return true;
    });
    assertUnchanged(dir, before, 'the refused open');
    const wal = await open(dir, { repair: true });
    assert.equal(wal.firstOffset, 35);
    assert.equal(wal.nextOffset, 35);
    assert.equal(wal.recovery.clean, false);
    assert.match(wal.recovery.repaired?.reason ?? '', /every segment file of the log is gone/);
    assert.equal((await wal.append('after the loss')).offset, 35, 'no offset is handed out twice');
    await wal.close();
    const reopened = await open(dir);
    assert.equal(reopened.recovery.clean, true);
    assert.deepEqual((await readAll(reopened, 35)).map((data) => data.toString()), ['after the loss']);
    await reopened.close();
  });

  test('every segment deleted and the marker damaged: corruption; repair can only start again at offset 0', async () => {
    const dir = tempDir();
    await buildLog(dir, 12, () => 64, { segmentMaxRecords: 10 });
    for (const name of fs.readdirSync(dir).filter((entry) => entry.endsWith('.wal'))) fs.rmSync(path.join(dir, name));
    flipByte(path.join(dir, 'clean-shutdown'), 9, 0x5a);
    await assert.rejects(open(dir), (error: unknown) => {
      assertCorruption(error, segmentPath(dir, 0), 0);
      assert.match((error as Error).message, /marker is damaged.*start an empty log at offset 0/);
      return true;
    });
    const wal = await open(dir, { repair: true });
    assert.equal(wal.nextOffset, 0);
    assert.notEqual(wal.recovery.repaired, null);
    await wal.close();
  });

  test('with repair: true open cuts at the bad frame, keeps the records before it and the cut bytes in a .broken file', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, 20, (index) => 30 + index * 11);
    forgetCleanShutdown(dir);
    const segment = lastSegmentPath(dir);
    const damaged = frameAt(segment, 5);
    const fileSizeBytes = fs.statSync(segment).size;
    flipByte(segment, damaged.position + FRAME_HEADER_SIZE_BYTES + RECORD_HEADER_SIZE_BYTES + 3, 0xde);
    const cutBytes = readBytes(segment, damaged.position, fileSizeBytes - damaged.position);

    // The folder given with a trailing slash: the side file's name must not depend on how the folder is spelled.
    const wal = await open(`${dir}/`, { repair: true });
    const repaired = wal.recovery.repaired;
    assert.ok(repaired !== null, 'recovery.repaired says what was cut');
    assert.equal(path.basename(repaired.file), path.basename(segment));
    assert.equal(repaired.filePosition, damaged.position);
    assert.equal(repaired.cutBytes, cutBytes.length);
    assert.deepEqual(repaired.removedSegments, []);
    assert.equal(wal.recovery.clean, false);
    assert.equal(wal.nextOffset, 5);
    assertSameRecords(await readAll(wal), all.slice(0, 5), 'after repair');
    assert.equal(fs.statSync(segment).size, damaged.position, 'the segment is cut at the bad frame');

    assertOneBrokenFile(dir, segment, cutBytes, 'the .broken file holds exactly the cut bytes');
    await assertAppendsAfterRepair(wal, dir, all.slice(0, 5));
  });

  test('repair of a zeroed middle sector keeps exactly the frames before the damage', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, 60, (index) => 50 + ((index * 31) % 150));
    forgetCleanShutdown(dir);
    const segment = lastSegmentPath(dir);
    zeroRange(segment, 2048, 512);
    const { badPosition, frames } = scanFrames(segment);
    assert.ok(badPosition !== null);
    const wal = await open(dir, { repair: true });
    assert.equal(wal.recovery.repaired?.filePosition, badPosition);
    assertSameRecords(await readAll(wal), all.slice(0, frames.length), 'after repair');
    await wal.close();
  });

  test('damage in an early frame of the active segment names that segment when sealed segments come before it', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, 25, () => 80, { segmentMaxRecords: 10 });
    forgetCleanShutdown(dir);
    const segment = segmentPath(dir, 20);
    assert.equal(lastSegmentPath(dir), segment);
    const damaged = frameAt(segment, 21);
    overwrite(segment, damaged.position + FRAME_HEADER_SIZE_BYTES, Buffer.from('XX'));
    await assert.rejects(open(dir, { segmentMaxRecords: 10 }), (error: unknown) => assertCorruption(error, segment, damaged.position));
    const wal = await open(dir, { segmentMaxRecords: 10, repair: true });
    assert.equal(wal.nextOffset, 21);
    assertSameRecords(await readAll(wal), all.slice(0, 21), 'after repair');
    await wal.close();
  });

  test('a damaged header of the active segment with frames after it is corruption', async () => {
    const dir = tempDir();
    await buildLog(dir, 8, () => 40);
    forgetCleanShutdown(dir);
    const segment = lastSegmentPath(dir);
    flipByte(segment, SEGMENT_HEADER.createdAtMsLow, 0x55);
    await assert.rejects(open(dir), (error: unknown) => {
      assert.ok(error instanceof CorruptionError, String(error));
      assert.equal(path.basename(error.file), path.basename(segment));
      return true;
    });
  });

  /** Rewrites the header's base offset (checksum kept valid): the file's name and its header disagree. */
  function misnameHeader(segment: string, baseOffset: number): void {
    const header = readBytes(segment, 0, SEGMENT_HEADER_SIZE_BYTES);
    header.writeUInt32LE(baseOffset, SEGMENT_HEADER.baseOffsetLow);
    header.writeUInt32LE(crc32(header.subarray(0, SEGMENT_HEADER.crc)), SEGMENT_HEADER.crc);
    overwrite(segment, 0, header);
  }

  const headerDamages: Array<[name: string, damage: (segment: string) => void, reason: RegExp]> = [
    ['a flipped header byte', (segment) => flipByte(segment, SEGMENT_HEADER.createdAtMsLow, 0x55), /header is damaged/],
    ['a header naming another offset', (segment) => misnameHeader(segment, 7), /header names offset 7, its file name 20/],
  ];
  for (const [name, damage, reason] of headerDamages) {
    test(`${name} in the active segment: repair cuts the whole segment, keeps it as .broken and appends from its base`, async () => {
      const dir = tempDir();
      const all = await buildLog(dir, 25, () => 60, { segmentMaxRecords: 10 });
      forgetCleanShutdown(dir);
      const segment = segmentPath(dir, 20);
      damage(segment);
      const original = fs.readFileSync(segment);
      await assert.rejects(open(dir, { segmentMaxRecords: 10 }), (error: unknown) => {
        assertCorruption(error, segment, 0);
        assert.match((error as Error).message, reason);
        return true;
      });
      assert.ok(fs.readFileSync(segment).equals(original), 'a refused open changes nothing');

      const wal = await open(dir, { segmentMaxRecords: 10, repair: true });
      const repaired = wal.recovery.repaired;
      assert.ok(repaired !== null, 'recovery.repaired says what was cut');
      assert.equal(path.basename(repaired.file), path.basename(segment));
      assert.equal(repaired.filePosition, 0);
      assert.equal(repaired.cutBytes, original.length);
      assert.match(repaired.reason, reason);
      assert.equal(wal.nextOffset, 20, 'the log ends where the damaged segment began');
      assertSameRecords(await readAll(wal), all.slice(0, 20), 'the sealed segments before it');
      assertOneBrokenFile(dir, segment, original, 'the .broken file holds the whole damaged file');
      await assertAppendsAfterRepair(wal, dir, all.slice(0, 20), { segmentMaxRecords: 10 });
      forgetCleanShutdown(dir);
      const scanned = await open(dir, { segmentMaxRecords: 10 });
      assert.equal(scanned.recovery.repaired, null, 'the rewritten header scans clean');
      assert.equal(scanned.nextOffset, 21);
      await scanned.close();
    });
  }
});

describe('corruption in a sealed segment', () => {
  test('a flipped byte in a sealed segment does not stop open, but read() over it fails with LOG_CORRUPT', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, 30, () => 100, { segmentMaxRecords: 10 });
    const segment = segmentPath(dir, 10);
    const damaged = frameAt(segment, 13);
    // XOR, not a constant: a constant equal to the byte already there would damage nothing.
    flipByte(segment, damaged.position + FRAME_HEADER_SIZE_BYTES + RECORD_HEADER_SIZE_BYTES, 0xff);
    for (const crashed of [false, true]) {
      if (crashed) forgetCleanShutdown(dir);
      const wal = await open(dir, { segmentMaxRecords: 10 });
      assert.equal(wal.nextOffset, 30, `crashed=${crashed}: open keeps the log's end`);
      await assert.rejects(readAll(wal, 0), (error: unknown) => assertCorruption(error, segment, damaged.position));
      await assert.rejects(readAll(wal, 12), (error: unknown) => assertCorruption(error, segment, damaged.position));
      // Reads before and after the damaged segment still work: checksums are checked per frame.
      assertSameRecords(await readAll(wal, 20), all.slice(20), `crashed=${crashed}: read after the damage`);
      const before: Buffer[] = [];
      for await (const record of wal.read({ from: 0, to: 10 })) before.push(Buffer.from(record.data));
      assertSameRecords(before, all.slice(0, 10), `crashed=${crashed}: read before the damage`);
      await wal.close();
    }
  });

  test('after a clean close, repair: true finds damage in a sealed segment (it trusts no index) and cuts there, counting the segments it moves aside', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, 30, () => 100, { segmentMaxRecords: 10 });
    const segment = segmentPath(dir, 10);
    const later = segmentPath(dir, 20);
    const damaged = frameAt(segment, 13);
    flipByte(segment, damaged.position + FRAME_HEADER_SIZE_BYTES + RECORD_HEADER_SIZE_BYTES, 0xff);
    const cutInSegment = fs.statSync(segment).size - damaged.position;
    // Its data, as recovery counts it: up to the last byte that is not a preallocated zero.
    const laterContent = fs.readFileSync(later);
    let laterDataBytes = laterContent.length;
    while (laterDataBytes > 0 && laterContent[laterDataBytes - 1] === 0) laterDataBytes -= 1;
    assert.ok(laterDataBytes > dataEndPosition(later) - 8, 'the later segment holds data');
    const wal = await open(dir, { segmentMaxRecords: 10 });
    assert.equal(wal.recovery.clean, true);
    // The read's error tells the reader to repair: that must do something.
    await assert.rejects(readAll(wal, 0), (error: unknown) => assertCorruption(error, segment, damaged.position) && /repair: true/.test((error as Error).message));
    await wal.close();
    const repaired = await open(dir, { segmentMaxRecords: 10, repair: true });
    const summary = repaired.recovery.repaired;
    assert.ok(summary !== null, 'repair found the damage behind the clean-shutdown marker and the index trailers');
    assert.equal(summary.file, segment);
    assert.equal(summary.filePosition, damaged.position);
    assert.deepEqual(summary.removedSegments, [later]);
    assert.equal(summary.cutBytes, cutInSegment + laterDataBytes, 'cutBytes counts the moved segment too');
    assert.equal(repaired.nextOffset, 13);
    assertSameRecords(await readAll(repaired), all.slice(0, 13), 'after repair');
    await assertAppendsAfterRepair(repaired, dir, all.slice(0, 13), { segmentMaxRecords: 10 });
  });

  test('an index trailer whose checksum holds but whose entries contradict the segment is not used: reads miss no record', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, 35, () => 100, { segmentMaxRecords: 10 });
    const segment = segmentPath(dir, 10);
    const content = fs.readFileSync(segment);
    const firstEntry = indexTrailerStart(segment) + INDEX_HEADER_SIZE_BYTES;
    assert.equal(content.readUInt32LE(firstEntry), 0, 'the first entry is the first record');
    for (const [field, value] of [['offset delta', 10], ['position', 4096]] as const) {
      writeForgedIndex(segment, content, (forged) => forged.writeUInt32LE(value, field === 'offset delta' ? firstEntry : firstEntry + 4));
      await assertReadsMissNothing(dir, all, 12, `${field} forged`);
    }
  });

  test('an index trailer whose checksum holds but whose data end is not where it sits is not used: reads miss no record', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, 35, () => 100, { segmentMaxRecords: 10 });
    const segment = segmentPath(dir, 10);
    const content = fs.readFileSync(segment);
    const indexStart = indexTrailerStart(segment);
    const lastFrame = frameAt(segment, 19);
    assert.equal(lastFrame.position + lastFrame.sizeBytes, indexStart, 'the trailer follows the last frame');
    // Trailers claiming the segment's data ends before its last frame (with
    // 9 records) or runs into the trailer itself.
    for (const [recordCount, sizeBytes] of [[9, lastFrame.position], [10, indexStart + 16]] as const) {
      writeForgedIndex(segment, content, (forged) => {
        forged.writeUInt32LE(recordCount, indexStart + 16);
        forged.writeUInt32LE(sizeBytes, indexStart + 24);
      });
      await assertReadsMissNothing(dir, all, 19, `${recordCount} records ending at ${sizeBytes}`);
    }
  });

  test('a folder named like a segment among the sealed ones fails reads with a typed error, not a bare EISDIR', async () => {
    const dir = tempDir();
    await buildLog(dir, 30, () => 100, { segmentMaxRecords: 10 });
    fs.mkdirSync(segmentPath(dir, 15));
    const wal = await open(dir, { segmentMaxRecords: 10 });
    await assert.rejects(readAll(wal, 0), (error: unknown) => error instanceof WalError && ['WAL_FAILED', 'LOG_CORRUPT'].includes(error.code));
    await wal.close();
  });

  test('a sealed segment cut short under an open log, or before an open, fails read() with LOG_CORRUPT at the cut', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, 30, () => 100, { segmentMaxRecords: 10 });
    const segment = segmentPath(dir, 10);
    const cut = frameAt(segment, 15);
    const wal = await open(dir, { segmentMaxRecords: 10 });
    // The index trailer is read now; the cut then leaves the file shorter than the index says.
    assertSameRecords(await readAll(wal, 10), all.slice(10), 'before the cut');
    fs.truncateSync(segment, cut.position);
    const seen: Buffer[] = [];
    await assert.rejects(async () => {
      for await (const record of wal.read({ from: 10 })) seen.push(Buffer.from(record.data));
    }, (error: unknown) => assertCorruption(error, segment, cut.position));
    assertSameRecords(seen, all.slice(10, 15), 'records before the cut');
    assertSameRecords(await readAll(wal, 20), all.slice(20), 'read after the damaged segment');
    await wal.close();
    // Reopened, the cut segment has no trailer: the scan finds it short.
    const reopened = await open(dir, { segmentMaxRecords: 10 });
    assert.equal(reopened.nextOffset, 30, 'a clean open reads no data');
    await assert.rejects(readAll(reopened, 10), (error: unknown) => assertCorruption(error, segment, cut.position));
    await reopened.close();
  });

  test('a read that reaches damage fails rather than skipping the record', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, 30, () => 100, { segmentMaxRecords: 10 });
    const segment = segmentPath(dir, 10);
    const damaged = frameAt(segment, 15);
    flipByte(segment, damaged.position + FRAME_HEADER.crc, 0x12);
    const wal = await open(dir, { segmentMaxRecords: 10 });
    const seen: Buffer[] = [];
    await assert.rejects(async () => {
      for await (const record of wal.read({ from: 10 })) seen.push(Buffer.from(record.data));
    }, (error: unknown) => assertCorruption(error, segment, damaged.position));
    assertSameRecords(seen, all.slice(10, 10 + seen.length), 'records yielded before the damage');
    assert.ok(seen.length <= 5, 'nothing at or after the damaged offset was yielded');
    await wal.close();
  });

  test('a damaged index trailer is only a cache: open, reads and recovery after a crash still work', async () => {
    for (const crashed of [false, true]) {
      const dir = tempDir();
      const all = await buildLog(dir, 30, () => 100, { segmentMaxRecords: 10 });
      for (const base of [0, 10]) {
        const segment = segmentPath(dir, base);
        const dataEnd = indexTrailerStart(segment);
        overwrite(segment, dataEnd + 20, randomBytes(8));
        assert.equal(decodeIndexTrailer(fs.readFileSync(segment), base), null, 'the trailer no longer checks out');
      }
      if (crashed) forgetCleanShutdown(dir);
      const wal = await open(dir, { segmentMaxRecords: 10 });
      assertSameRecords(await readAll(wal), all, `crashed=${crashed}: with damaged trailers`);
      for (let offset = 0; offset < 30; offset += 1) {
        for await (const record of wal.read({ from: offset })) {
          assert.equal(record.offset, offset);
          assert.ok(Buffer.from(record.data).equals(all[offset] as Buffer));
          break;
        }
      }
      assert.deepEqual(await wal.append('next'), { offset: 30 });
      await wal.close();
      if (crashed) {
        // Recovery scanned them and wrote them a good trailer again.
        for (const base of [0, 10]) assert.notEqual(decodeIndexTrailer(fs.readFileSync(segmentPath(dir, base)), base), null);
      }
    }
  });

  test('a sealed segment without its index trailer is scanned at open: damage there is corruption, and repair removes the later segments', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, 30, () => 100, { segmentMaxRecords: 10 });
    forgetCleanShutdown(dir);
    const segment = segmentPath(dir, 10);
    fs.truncateSync(segment, indexTrailerStart(segment));
    const damaged = frameAt(segment, 13);
    overwrite(segment, damaged.position + FRAME_HEADER_SIZE_BYTES + 1, Buffer.from([0xab]));
    const wal = await open(dir, { segmentMaxRecords: 10 }).catch((error: unknown) => error);
    if (wal instanceof Wal) {
      // Scanning it lazily is allowed too; then the first read over it must fail.
      await assert.rejects(readAll(wal, 10), (error: unknown) => assertCorruption(error, segment, damaged.position));
      await wal.close();
      return;
    }
    assertCorruption(wal, segment, damaged.position);
    const repaired = await open(dir, { segmentMaxRecords: 10, repair: true });
    assert.equal(repaired.nextOffset, 13);
    assert.equal(repaired.recovery.repaired?.removedSegments.length, 1, 'the later segment is moved aside');
    assertSameRecords(await readAll(repaired), all.slice(0, 13), 'after repair');
    assert.deepEqual(await repaired.append('next'), { offset: 13 });
    assert.ok(brokenFiles(dir).length >= 1);
    await repaired.close();
  });

  test('damage in the last frame of a trailerless segment, with later segments written after it was synced, is corruption, not a torn tail', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, 30, () => 100, { segmentMaxRecords: 10 });
    forgetCleanShutdown(dir);
    const segment = segmentPath(dir, 10);
    fs.truncateSync(segment, indexTrailerStart(segment));
    // The damage is in the segment's last frame: nothing after it in this
    // file, but segment 20's frames say records 19+ were synced before them.
    const damaged = frameAt(segment, 19);
    overwrite(segment, damaged.position + FRAME_HEADER_SIZE_BYTES + 1, Buffer.from([0xab]));
    const before = snapshot(dir);
    const refused = await open(dir, { segmentMaxRecords: 10 }).catch((error: unknown) => error);
    assertCorruption(refused, segment, damaged.position);
    assert.match((refused as Error).message, /later segment/);
    assertUnchanged(dir, before, 'a refused open');

    const repaired = await open(dir, { segmentMaxRecords: 10, repair: true });
    assert.equal(repaired.nextOffset, 19);
    assert.deepEqual(repaired.recovery.repaired?.removedSegments.map((file) => path.basename(file)), ['00000000000000000020.wal']);
    assertSameRecords(await readAll(repaired), all.slice(0, 19), 'after repair');
    await repaired.close();
  });

  test('a trailerless segment that lost its last records while a later segment was written after they were synced is corruption', async () => {
    const dir = tempDir();
    await buildLog(dir, 30, () => 100, { segmentMaxRecords: 10 });
    forgetCleanShutdown(dir);
    const segment = segmentPath(dir, 10);
    // The file simply ends early (a lost size update): no damaged bytes at all.
    const cutPosition = frameAt(segment, 18).position;
    fs.truncateSync(segment, cutPosition);
    const refused = await open(dir, { segmentMaxRecords: 10 }).catch((error: unknown) => error);
    assertCorruption(refused, segment, cutPosition);
    assert.match((refused as Error).message, /ends early; a later segment/);
  });
});

describe('format versions', () => {
  function setVersion(segment: string, version: number): void {
    const header = readBytes(segment, 0, 32);
    header.writeUInt16LE(version, SEGMENT_HEADER.version);
    header.writeUInt32LE(crc32(header.subarray(0, SEGMENT_HEADER.crc)), SEGMENT_HEADER.crc);
    overwrite(segment, 0, header);
  }

  for (const version of [0, 2, 0xffff]) {
    test(`a segment header of format version ${version} is refused with FORMAT_UNSUPPORTED`, async () => {
      const dir = tempDir();
      await buildLog(dir, 5, () => 20);
      forgetCleanShutdown(dir);
      setVersion(lastSegmentPath(dir), version);
      await assert.rejects(open(dir), (error: unknown) => {
        assert.ok(error instanceof FormatUnsupportedError, String(error));
        assert.equal(error.code, 'FORMAT_UNSUPPORTED');
        assert.match(error.message, new RegExp(`version is ${version}`));
        return true;
      });
      await assert.rejects(open(dir, { repair: true }), { code: 'FORMAT_UNSUPPORTED' }, 'repair never cuts a newer format');
    });
  }

  test('an unknown version in the active segment is refused even after a clean close, at open or at the first read', async () => {
    const dir = tempDir();
    await buildLog(dir, 5, () => 20);
    setVersion(lastSegmentPath(dir), 2);
    const wal = await open(dir).catch((error: unknown) => error);
    if (wal instanceof Wal) {
      await assert.rejects(readAll(wal, 0), { code: 'FORMAT_UNSUPPORTED' });
      await wal.close();
    } else {
      assert.ok(wal instanceof FormatUnsupportedError, String(wal));
    }
  });

  test('damage check helpers see the log as intact before any test damages it', async () => {
    const dir = tempDir();
    await buildLog(dir, 10, (index) => 1 + index);
    const frames = framesOf(lastSegmentPath(dir));
    assert.deepEqual(frames.map((frame) => frame.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(frames.every((frame) => frame.recordCount === 1 && frame.groupFirstOffset === frame.offset));
  });
});
