/**
 * Torn tails: what a crash in the middle of the last write leaves behind.
 * Each must be cut silently at open, reported in `wal.recovery`, and leave
 * every earlier record intact and the log appendable at the right offset.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Wal } from '../../src/log/wal.js';
import { CorruptionError } from '../../src/errors.js';
import type { WalOptions } from '../../src/log/options.js';
import { FRAME_HEADER_SIZE_BYTES } from '../../src/constants.js';
import {
  appendBytes,
  copyLog,
  dataEndPosition,
  forgetCleanShutdown,
  frameAt,
  framesOf,
  lastSegmentPath,
  overwrite,
  readBytes,
  recordCountOf,
  removeTempDirs,
  scanFrames,
  tempDir,
  truncateFile,
  tornBytesAfter,
  zeroRange,
} from './damage.js';

after(removeTempDirs);

const OPTIONS = { fsync: 'os', segmentMaxRecords: 5 } as const;

async function open(dir: string, extra: Partial<WalOptions> = {}): Promise<Wal> {
  return Wal.open({ dir, ...OPTIONS, ...extra });
}

async function readAll(wal: Wal): Promise<Buffer[]> {
  const records: Buffer[] = [];
  let expectedOffset = wal.firstOffset;
  for await (const record of wal.read({})) {
    assert.equal(record.offset, expectedOffset, 'offsets are dense');
    expectedOffset += 1;
    records.push(Buffer.from(record.data));
  }
  return records;
}

function assertSameRecords(actual: readonly Buffer[], expected: readonly Buffer[], context: string): void {
  assert.equal(actual.length, expected.length, `${context}: record count`);
  actual.forEach((record, index) => assert.ok(record.equals(expected[index] as Buffer), `${context}: bytes of offset ${index}`));
}

/** Writes `groups` (one append or one appendBatch each), closes cleanly; returns the records in order. */
async function buildLog(dir: string, groups: readonly Buffer[][]): Promise<Buffer[]> {
  const wal = await open(dir);
  for (const group of groups) {
    if (group.length === 1) await wal.append(group[0] as Buffer);
    else await wal.appendBatch(group);
  }
  await wal.close();
  return groups.flat();
}

/**
 * Opens a damaged copy, checks it holds `expected` (or, when `expectedAlternative`
 * is given, either list), appends one record, reopens and checks again.
 * Returns the open's recovery summary and which list it matched.
 */
async function assertRecovers(
  dir: string,
  expected: readonly Buffer[],
  context: string,
  expectedAlternative?: readonly Buffer[],
): Promise<{ truncatedBytes: number; matched: 'expected' | 'alternative'; clean: boolean }> {
  const wal = await open(dir);
  const recovery = wal.recovery;
  const records = await readAll(wal);
  let matched: 'expected' | 'alternative' = 'expected';
  if (expectedAlternative !== undefined && records.length === expectedAlternative.length && records.length !== expected.length) {
    matched = 'alternative';
  }
  const want = matched === 'expected' ? expected : (expectedAlternative as readonly Buffer[]);
  assertSameRecords(records, want, context);
  assert.equal(wal.nextOffset, want.length, `${context}: nextOffset`);
  const extra = Buffer.from(`appended after recovery (${context})`);
  assert.deepEqual(await wal.append(extra), { offset: want.length }, `${context}: append continues at the next offset`);
  await wal.close();
  const reopened = await open(dir);
  assert.equal(reopened.recovery.clean, true, `${context}: the open after a clean close is clean`);
  assertSameRecords(await readAll(reopened), [...want, extra], `${context} after reopen`);
  await reopened.close();
  return { truncatedBytes: recovery.truncatedBytes, matched, clean: recovery.clean };
}

function records(count: number, sizeBytes: (index: number) => number): Buffer[][] {
  return Array.from({ length: count }, (_, index) => [randomBytes(sizeBytes(index))]);
}

describe('torn tail', () => {
  test('truncating the last segment at every byte inside the last frame drops only that record', async () => {
    const template = tempDir();
    // 45 bytes: a 40-byte frame header, an 8-byte record header, 45 bytes and 3 bytes of padding (under the checksum).
    const groups = records(8, (index) => (index === 7 ? 45 : 10 + index * 37));
    const all = await buildLog(template, groups);
    const segment = path.basename(lastSegmentPath(template));
    const last = frameAt(path.join(template, segment), 7);
    assert.equal(last.offset, 7);
    assert.equal(last.recordCount, 1);
    assert.equal(last.sizeBytes, FRAME_HEADER_SIZE_BYTES + 56);
    for (let cut = last.position; cut < last.position + last.sizeBytes; cut += 1) {
      const dir = copyLog(template);
      forgetCleanShutdown(dir);
      truncateFile(path.join(dir, segment), cut);
      const context = `cut at ${cut} (frame at ${last.position})`;
      const tornBytes = tornBytesAfter(path.join(dir, segment), last.position);
      const { truncatedBytes, clean } = await assertRecovers(dir, all.slice(0, 7), context);
      assert.equal(clean, false, `${context}: recovery.clean`);
      assert.equal(truncatedBytes, tornBytes, `${context}: recovery.truncatedBytes`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('truncating inside the last appendBatch at every byte drops the whole batch, never part of it', async () => {
    const template = tempDir();
    const groups = [...records(6, (index) => 20 + index), [randomBytes(10), randomBytes(21), randomBytes(30)]];
    const all = await buildLog(template, groups);
    const segment = lastSegmentPath(template);
    const batch = frameAt(segment, 6);
    assert.equal(batch.offset, 6);
    assert.equal(batch.recordCount, 3, 'an appendBatch is one frame');
    const segmentName = path.basename(segment);
    for (let cut = batch.position; cut < batch.position + batch.sizeBytes; cut += 1) {
      const dir = copyLog(template);
      forgetCleanShutdown(dir);
      truncateFile(path.join(dir, segmentName), cut);
      const context: string = `cut at ${cut} (batch frame at ${batch.position}, ${batch.sizeBytes} bytes)`;
      const tornBytes = tornBytesAfter(path.join(dir, segmentName), batch.position);
      const { truncatedBytes } = await assertRecovers(dir, all.slice(0, 6), context);
      assert.equal(truncatedBytes, tornBytes, `${context}: recovery.truncatedBytes`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a torn write of several concurrent appends keeps a prefix of whole frames and nothing else', async () => {
    const template = tempDir();
    const wal = await open(template, { segmentMaxRecords: 1000 });
    const head = [randomBytes(100), randomBytes(100)];
    for (const record of head) await wal.append(record);
    // Large enough that one write group spans several frames (a frame closes at 256 KiB).
    const burst = Array.from({ length: 12 }, () => randomBytes(60 * 1024));
    await Promise.all(burst.map((record) => wal.append(record)));
    await wal.close();
    const all = [...head, ...burst];
    const segment = lastSegmentPath(template);
    const frames = framesOf(segment).filter((frame) => frame.offset >= 2);
    const segmentName = path.basename(segment);
    const first = frames[0];
    const lastFrame = frames[frames.length - 1];
    assert.ok(first !== undefined && lastFrame !== undefined);
    const cuts = [first.position + 1, first.position + first.sizeBytes - 1, ...frames.map((frame) => frame.position + 100), lastFrame.position + lastFrame.sizeBytes - 1];
    for (const cut of cuts) {
      const dir = copyLog(template);
      forgetCleanShutdown(dir);
      truncateFile(path.join(dir, segmentName), cut);
      const keptRecords = 2 + frames.filter((frame) => frame.position + frame.sizeBytes <= cut).reduce((sum, frame) => sum + frame.recordCount, 0);
      await assertRecovers(dir, all.slice(0, keptRecords), `cut at ${cut}`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('records a clean-shutdown marker vouches for that are gone are corruption, not a torn tail: open refuses, repair cuts and says so', async () => {
    const cases: [string, (dir: string) => { file: string; filePosition: number }][] = [
      ['the active segment cut inside its last frame', (dir) => {
        const segment = lastSegmentPath(dir);
        const last = frameAt(segment, 6);
        truncateFile(segment, last.position + 50);
        return { file: segment, filePosition: last.position + 50 };
      }],
      ['the active segment cut to its header', (dir) => {
        const segment = lastSegmentPath(dir);
        truncateFile(segment, 32);
        return { file: segment, filePosition: 32 };
      }],
      ['the active segment removed', (dir) => {
        const segment = lastSegmentPath(dir);
        fs.rmSync(segment);
        return { file: segment, filePosition: 0 };
      }],
    ];
    for (const [name, damage] of cases) {
      const dir = tempDir();
      const all = await buildLog(dir, records(7, () => 100));
      const { file, filePosition } = damage(dir);
      const before = fs.readdirSync(dir).sort();
      await assert.rejects(open(dir), (error: unknown) => {
        assert.ok(error instanceof CorruptionError, `${name}: ${String(error)}`);
        assert.equal(error.file, file, name);
        assert.equal(error.filePosition, filePosition, name);
        assert.match(error.message, /clean-shutdown marker/);
        return true;
      });
      assert.deepEqual(fs.readdirSync(dir).sort(), before, `${name}: a refused open changes nothing`);
      const wal = await open(dir, { repair: true });
      assert.ok(wal.recovery.repaired !== null, `${name}: repair reports the cut`);
      assert.equal(wal.recovery.repaired.file, file);
      assert.match(wal.recovery.repaired.reason, /clean-shutdown marker/);
      const kept = wal.nextOffset;
      assert.ok(kept < 7, `${name}: the lost records are not invented`);
      assertSameRecords(await readAll(wal), all.slice(0, kept), `${name}: after repair`);
      assert.deepEqual(await wal.append('next'), { offset: kept });
      await wal.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a clean-shutdown marker with a flipped byte is not trusted: open scans and finds every record', async () => {
    const dir = tempDir();
    const wal = await Wal.open({ dir, fsync: 'always' });
    for (let index = 0; index < 5; index += 1) await wal.append(`record ${index}`);
    await wal.close();
    const markerPath = path.join(dir, 'clean-shutdown');
    const marker = fs.readFileSync(markerPath);
    // The low byte of nextOffset (byte 8): 5 becomes 3, and the checksum no longer holds.
    assert.equal(marker[8], 5);
    marker[8] = 3;
    fs.writeFileSync(markerPath, marker);
    const reopened = await Wal.open({ dir, fsync: 'always' });
    try {
      assert.equal(reopened.recovery.clean, false, 'a damaged marker counts as none');
      assert.equal(reopened.nextOffset, 5);
      assert.deepEqual(await reopened.append('next'), { offset: 5 }, 'no offset is handed out twice');
      const read: string[] = [];
      for await (const record of reopened.read()) read.push(Buffer.from(record.data).toString());
      assert.deepEqual(read, ['record 0', 'record 1', 'record 2', 'record 3', 'record 4', 'next']);
    } finally {
      await reopened.close();
    }
  });

  test('zeros after the last frame (preallocated or unwritten space) are not records', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, records(8, (index) => 1 + index * 50));
    forgetCleanShutdown(dir);
    appendBytes(lastSegmentPath(dir), Buffer.alloc(8192));
    await assertRecovers(dir, all, 'zero tail');
  });

  test('a last frame whose bytes never reached the disk (zeros in its place) is dropped', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, records(8, () => 300));
    forgetCleanShutdown(dir);
    const segment = lastSegmentPath(dir);
    const last = frameAt(segment, 7);
    zeroRange(segment, last.position, last.sizeBytes);
    const tornBytes = tornBytesAfter(segment, last.position);
    const { truncatedBytes } = await assertRecovers(dir, all.slice(0, 7), 'zeroed last frame');
    // Only zeros follow the last good frame: nothing of the data was cut.
    assert.equal(tornBytes, 0);
    assert.equal(truncatedBytes, tornBytes);
  });

  test('a last frame whose second half never reached the disk is dropped', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, records(8, () => 300));
    forgetCleanShutdown(dir);
    const segment = lastSegmentPath(dir);
    const last = frameAt(segment, 7);
    zeroRange(segment, last.position + 150, last.sizeBytes - 150);
    await assertRecovers(dir, all.slice(0, 7), 'half-zeroed last frame');
  });

  for (const garbageBytes of [1, 7, 8, 32, 100, 5000]) {
    test(`${garbageBytes} bytes of garbage after the last frame are cut and reported`, async () => {
      const dir = tempDir();
      const all = await buildLog(dir, records(8, (index) => 5 + index * 13));
      forgetCleanShutdown(dir);
      const garbage = randomBytes(garbageBytes);
      garbage[0] = 0xff; // never a zero header, which could pass as unwritten space
      appendBytes(lastSegmentPath(dir), garbage);
      const tornBytes = tornBytesAfter(lastSegmentPath(dir), fs.statSync(lastSegmentPath(dir)).size - garbageBytes);
      const { truncatedBytes } = await assertRecovers(dir, all, `garbage tail of ${garbageBytes} bytes`);
      assert.ok(truncatedBytes > 0, 'recovery reports cut bytes');
      assert.equal(truncatedBytes, tornBytes);
    });
  }

  test('garbage over the end of the last frame (a torn write) drops that record', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, records(8, () => 200));
    forgetCleanShutdown(dir);
    const segment = lastSegmentPath(dir);
    const last = frameAt(segment, 7);
    overwrite(segment, last.position + 100, randomBytes(last.sizeBytes - 100));
    const tornBytes = tornBytesAfter(segment, last.position);
    const { truncatedBytes } = await assertRecovers(dir, all.slice(0, 7), 'garbage over the last frame');
    assert.equal(truncatedBytes, tornBytes);
  });

  test('a torn last 512-byte sector drops every group it touched and keeps the ones before', async () => {
    const dir = tempDir();
    const groups = records(40, () => 100); // 136-byte frames: several per sector
    const all = await buildLog(dir, groups);
    forgetCleanShutdown(dir);
    const segment = lastSegmentPath(dir);
    const endPosition = dataEndPosition(segment);
    const sectorStart = Math.floor((endPosition - 1) / 512) * 512;
    const frames = framesOf(segment);
    zeroRange(segment, sectorStart, endPosition - sectorStart);
    // Zeroing padding that was zero already harms nothing, so the survivors are what still decodes.
    const survivors = scanFrames(segment).frames;
    assert.ok(survivors.length < frames.length);
    const firstOffset = frames[0]?.offset ?? 0;
    const keptCount = firstOffset + recordCountOf(survivors);
    assert.ok(keptCount < all.length, 'the tear removed something');
    await assertRecovers(dir, all.slice(0, keptCount), `sector from ${sectorStart} zeroed`);
  });

  test('a stale frame after the end (an old frame at the wrong place) is cut, never returned', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, records(4, () => 64));
    forgetCleanShutdown(dir);
    const segment = lastSegmentPath(dir);
    const old = frameAt(segment, 1);
    const endPosition = fs.statSync(segment).size;
    appendBytes(segment, readBytes(segment, old.position, old.sizeBytes));
    const tornBytes = tornBytesAfter(segment, endPosition);
    const { truncatedBytes } = await assertRecovers(dir, all, 'stale frame at the end');
    assert.equal(truncatedBytes, tornBytes);
    assert.ok(truncatedBytes > FRAME_HEADER_SIZE_BYTES);
  });

  test('an open with nothing to cut reports no truncated bytes', async () => {
    const dir = tempDir();
    const all = await buildLog(dir, records(12, () => 33));
    forgetCleanShutdown(dir);
    const wal = await open(dir);
    assert.equal(wal.recovery.clean, false);
    assert.equal(wal.recovery.truncatedBytes, 0);
    assert.equal(wal.recovery.repaired, null);
    assert.ok(wal.recovery.scannedSegments >= 1);
    assert.ok(wal.recovery.scannedBytes > 0);
    assert.ok(wal.recovery.durationMs >= 0);
    assertSameRecords(await readAll(wal), all, 'scan of an intact log');
    await wal.close();
  });
});

describe('crash images', () => {
  test('a copy of the folder taken while the log is open keeps every acknowledged record', async () => {
    const dir = tempDir();
    const wal = await Wal.open({ dir, fsync: 'always', segmentBytes: 8192 });
    const expected: Buffer[] = [];
    for (let index = 0; index < 60; index += 1) {
      const group = index % 4 === 0 ? [randomBytes(50), randomBytes(70)] : [randomBytes(1 + index * 7)];
      if (group.length === 1) await wal.append(group[0] as Buffer);
      else await wal.appendBatch(group);
      expected.push(...group);
    }
    const image = copyLog(dir);
    await wal.close();
    const recovered = await Wal.open({ dir: image, segmentBytes: 8192 });
    assert.equal(recovered.recovery.clean, false);
    assert.ok(recovered.recovery.scannedBytes > 0);
    assert.equal(recovered.recovery.truncatedBytes, 0);
    assertSameRecords(await readAll(recovered), expected, 'crash image');
    assert.deepEqual(await recovered.append('next'), { offset: expected.length });
    await recovered.close();
  });

  test('a copy taken while appends are in flight holds every record acknowledged before it, and nothing invented', async () => {
    const dir = tempDir();
    const wal = await Wal.open({ dir, fsync: 'always', segmentBytes: 16_384 });
    const data = Array.from({ length: 400 }, (_, index) => randomBytes(1 + ((index * 97) % 700)));
    let acknowledgedCount = 0;
    const appends = data.map((record) =>
      wal.append(record).then((result) => {
        acknowledgedCount = Math.max(acknowledgedCount, result.offset + 1);
        return result;
      }),
    );
    await appends[100];
    const acknowledgedAtCopy = acknowledgedCount;
    const image = copyLog(dir);
    await Promise.all(appends);
    await wal.close();
    const recovered = await Wal.open({ dir: image, segmentBytes: 16_384 });
    const got = await readAll(recovered);
    assert.ok(got.length >= acknowledgedAtCopy, `image holds ${got.length} records, ${acknowledgedAtCopy} were acknowledged`);
    assertSameRecords(got, data.slice(0, got.length), 'image prefix');
    assert.deepEqual(await recovered.append('next'), { offset: got.length });
    await recovered.close();
  });
});
