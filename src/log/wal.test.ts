/**
 * Unit tests of the Wal on real files in fresh temporary folders: round
 * trips across rotations, reads from every offset, reopen, tail, retention,
 * ownership, close, and every kind of bad input (which must change nothing).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Wal } from './wal.js';
import type { WalOptions } from './options.js';
import { InvalidArgumentError, LockedError, OffsetOutOfRangeError, WalClosedError, WalError } from '../errors.js';
import { GatedFileSystem } from '../../test/gated-file-system.js';
import { until } from '../../test/within.js';
import { NodeFileSystem } from '../io/node-file-system.js';
import { decodeIndexTrailer } from './segment-index.js';

// ---------------------------------------------------------------- helpers

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidewal-wal-test-'));
  tempDirs.push(dir);
  return dir;
}

/** Small, seeded PRNG (mulberry32) so that failing sizes can be replayed from the printed seed. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** Mostly small records, some large, a few up to the limit: what exercises padding and rotation. */
function randomSizeBytes(random: () => number, maxRecordBytes: number): number {
  const pick = random();
  if (pick < 0.5) return randomInt(random, 1, 64);
  if (pick < 0.8) return randomInt(random, 65, 2048);
  if (pick < 0.95) return randomInt(random, 2049, Math.min(16_384, maxRecordBytes));
  return randomInt(random, 1, maxRecordBytes);
}

interface Rec {
  readonly offset: number;
  readonly timestamp: number;
  readonly data: Uint8Array;
}

async function collect(records: AsyncIterable<Rec>): Promise<Rec[]> {
  const result: Rec[] = [];
  for await (const record of records) result.push(record);
  return result;
}

async function first(records: AsyncIterable<Rec>): Promise<Rec | undefined> {
  for await (const record of records) return record;
  return undefined;
}

function assertRecords(actual: readonly Rec[], expected: readonly Uint8Array[], fromOffset: number, context = ''): void {
  assert.equal(actual.length, expected.length, `${context} record count`);
  actual.forEach((record, index) => {
    assert.equal(record.offset, fromOffset + index, `${context} offset at index ${index}`);
    const want = expected[index];
    assert.ok(want !== undefined);
    assert.ok(Buffer.from(record.data).equals(want), `${context} bytes of offset ${record.offset}`);
  });
}

function isCode(code: string): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof WalError, `expected a WalError with code ${code}, got ${String(error)}`);
    assert.equal(error.code, code, `error code (message: ${error.message})`);
    return true;
  };
}

/** Accepts a call that throws at once or returns a rejecting promise (or a failing iterator). */
async function rejectsWith(action: () => unknown, code: string): Promise<void> {
  await assert.rejects(async () => {
    const result = action();
    if (result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
      await collect(result as AsyncIterable<Rec>);
    } else {
      await result;
    }
  }, isCode(code));
}

async function openWal(options: Partial<WalOptions> & { dir: string }): Promise<Wal> {
  return Wal.open({ fsync: 'os', ...options } as WalOptions);
}

function walFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => name.endsWith('.wal')).sort();
}

// ---------------------------------------------------------------- round trips

describe('Wal round trips', () => {
  test('records of random sizes read back byte for byte from every offset across many rotations, and after reopen', async () => {
    const seed = Date.now() % 1_000_000;
    const random = randomSource(seed);
    const context = `(seed ${seed})`;
    const dir = tempDir();
    const maxRecordBytes = 64 * 1024;
    const options = { dir, segmentBytes: 16_384, maxRecordBytes };
    const wal = await openWal(options);
    const expected: Buffer[] = [Buffer.alloc(1, 0x42), randomBytes(maxRecordBytes)];
    await wal.append(expected[0] as Buffer);
    await wal.append(expected[1] as Buffer);
    while (expected.length < 300) {
      const batch = Array.from({ length: randomInt(random, 1, 6) }, () => randomBytes(randomSizeBytes(random, maxRecordBytes)));
      if (random() < 0.5) {
        const offsets = await wal.appendBatch(batch);
        assert.deepEqual(offsets, batch.map((_, index) => expected.length + index), `${context} batch offsets`);
      } else {
        // Concurrent appends get dense offsets in call order.
        const results = await Promise.all(batch.map((data) => wal.append(data)));
        assert.deepEqual(results.map((result) => result.offset), batch.map((_, index) => expected.length + index), context);
      }
      expected.push(...batch);
    }
    assert.equal(wal.firstOffset, 0);
    assert.equal(wal.nextOffset, expected.length);
    const segmentCount = (await wal.segments()).length;
    assert.ok(segmentCount >= 20, `${context} expected many rotations, got ${segmentCount} segments`);

    const checkEveryOffset = async (log: Wal, label: string) => {
      assertRecords(await collect(log.read({ from: 0 })), expected, 0, `${context} ${label} full read`);
      assertRecords(await collect(log.read({})), expected, 0, `${context} ${label} read without from`);
      for (let offset = 0; offset < expected.length; offset += 1) {
        const record = await first(log.read({ from: offset }));
        assert.ok(record !== undefined, `${context} ${label} read from ${offset} yields a record`);
        assert.equal(record.offset, offset, `${context} ${label} first offset of read from ${offset}`);
        assert.ok(Buffer.from(record.data).equals(expected[offset] as Buffer), `${context} ${label} bytes at ${offset}`);
      }
      for (let offset = 0; offset < expected.length; offset += 37) {
        assertRecords(await collect(log.read({ from: offset })), expected.slice(offset), offset, `${context} ${label} from ${offset}`);
      }
      for (let round = 0; round < 40; round += 1) {
        const fromOffset = randomInt(random, 0, expected.length - 1);
        const toOffset = randomInt(random, fromOffset + 1, expected.length);
        const records = await collect(log.read({ from: fromOffset, to: toOffset }));
        assertRecords(records, expected.slice(fromOffset, toOffset), fromOffset, `${context} ${label} [${fromOffset}, ${toOffset})`);
      }
    };
    await checkEveryOffset(wal, 'before reopen');
    await wal.close();

    const reopened = await openWal(options);
    assert.equal(reopened.recovery.clean, true, 'open after close is clean');
    assert.equal(reopened.recovery.scannedBytes, 0, 'open after close scans nothing');
    assert.equal(reopened.recovery.truncatedBytes, 0);
    assert.equal(reopened.recovery.repaired, null);
    assert.equal(reopened.firstOffset, 0);
    assert.equal(reopened.nextOffset, expected.length);
    assert.equal((await reopened.segments()).length, segmentCount);
    await checkEveryOffset(reopened, 'after reopen');
    const next = Buffer.from('after reopen');
    assert.deepEqual(await reopened.append(next), { offset: expected.length });
    expected.push(next);
    assertRecords(await collect(reopened.read({ from: expected.length - 3 })), expected.slice(-3), expected.length - 3, context);
    await reopened.close();
  });

  test('a record of exactly the default 16 MiB limit round-trips and one byte more is refused', async () => {
    const dir = tempDir();
    const wal = await Wal.open({ dir, fsync: 'always' });
    const big = randomBytes(16 * 1024 * 1024);
    const medium = randomBytes(3 * 1024 * 1024 + 5);
    assert.deepEqual(await wal.append(medium), { offset: 0 });
    assert.deepEqual(await wal.append(big), { offset: 1 });
    await rejectsWith(() => wal.append(Buffer.alloc(16 * 1024 * 1024 + 1)), 'INVALID_ARGUMENT');
    assert.equal(wal.nextOffset, 2);
    assertRecords(await collect(wal.read({ from: 0 })), [medium, big], 0);
    await wal.close();
    const reopened = await Wal.open({ dir });
    assertRecords(await collect(reopened.read({ from: 1 })), [big], 1);
    await reopened.close();
  });

  test('strings are stored as their UTF-8 bytes and Uint8Array views as exactly their own bytes', async () => {
    const wal = await openWal({ dir: tempDir() });
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9, 9]);
    await wal.append('héllo, wörld ✓');
    await wal.append(backing.subarray(2, 5));
    await wal.append(new Uint8Array([7]));
    await wal.appendBatch(['a', new Uint8Array([0, 0]), Buffer.from('c')]);
    const records = await collect(wal.read({ from: 0 }));
    assertRecords(records, [
      Buffer.from('héllo, wörld ✓', 'utf8'),
      Buffer.from([1, 2, 3]),
      Buffer.from([7]),
      Buffer.from('a'),
      Buffer.from([0, 0]),
      Buffer.from('c'),
    ], 0);
    await wal.close();
  });

  test('append copies the caller buffer, so reusing it at once does not change the record', async () => {
    const wal = await openWal({ dir: tempDir() });
    const buffer = Buffer.from('original');
    const appended = wal.append(buffer);
    buffer.fill(0x21);
    const batchBuffer = Buffer.from('batch');
    const batched = wal.appendBatch([batchBuffer]);
    batchBuffer.fill(0x22);
    await appended;
    await batched;
    assertRecords(await collect(wal.read({ from: 0 })), [Buffer.from('original'), Buffer.from('batch')], 0);
    await wal.close();
  });

  test('hundreds of concurrent appends and batches get dense offsets matching their bytes', async () => {
    const wal = await openWal({ dir: tempDir(), segmentBytes: 8192, fsync: 'always' });
    const pending: Array<Promise<{ data: Buffer[]; offsets: number[] }>> = [];
    for (let index = 0; index < 300; index += 1) {
      if (index % 10 === 0) {
        const data = [randomBytes(5), randomBytes(50), randomBytes(500)];
        pending.push(wal.appendBatch(data).then((offsets) => ({ data, offsets })));
      } else {
        const data = [randomBytes(1 + (index % 200))];
        pending.push(wal.append(data[0] as Buffer).then(({ offset }) => ({ data, offsets: [offset] })));
      }
    }
    const results = await Promise.all(pending);
    const byOffset = new Map<number, Buffer>();
    for (const { data, offsets } of results) {
      assert.equal(offsets.length, data.length);
      offsets.forEach((offset, index) => {
        if (index > 0) assert.equal(offset, (offsets[index - 1] ?? -2) + 1, 'a batch gets consecutive offsets');
        assert.ok(!byOffset.has(offset), `offset ${offset} given twice`);
        byOffset.set(offset, data[index] as Buffer);
      });
    }
    assert.equal(byOffset.size, wal.nextOffset);
    const expected = Array.from({ length: byOffset.size }, (_, offset) => byOffset.get(offset) as Buffer);
    assertRecords(await collect(wal.read({ from: 0 })), expected, 0);
    await wal.close();
  });

  test('timestamps are the append time in milliseconds', async () => {
    const wal = await openWal({ dir: tempDir() });
    const before = Date.now();
    await wal.append('x');
    await wal.appendBatch(['y', 'z']);
    const afterMs = Date.now();
    for (const record of await collect(wal.read({ from: 0 }))) {
      assert.ok(Number.isInteger(record.timestamp));
      assert.ok(record.timestamp >= before && record.timestamp <= afterMs, `timestamp ${record.timestamp}`);
    }
    await wal.close();
  });

  test('a read with to yields exactly [from, to), and to equal to from yields nothing', async () => {
    const wal = await openWal({ dir: tempDir(), segmentBytes: 4096 });
    const data = Array.from({ length: 200 }, (_, index) => Buffer.from(`record ${index} `.repeat(1 + (index % 9))));
    await wal.appendBatch(data.slice(0, 100));
    for (const record of data.slice(100)) await wal.append(record);
    assertRecords(await collect(wal.read({ from: 0, to: 200 })), data, 0);
    assertRecords(await collect(wal.read({ from: 10, to: 11 })), data.slice(10, 11), 10);
    assertRecords(await collect(wal.read({ from: 199, to: 200 })), data.slice(199), 199);
    assertRecords(await collect(wal.read({ from: 50, to: 150 })), data.slice(50, 150), 50);
    assert.deepEqual(await collect(wal.read({ from: 42, to: 42 })), []);
    await wal.close();
  });

  test('a read started before more appends stops at the end it was given or yields the newer records, never garbage', async () => {
    const wal = await openWal({ dir: tempDir() });
    const data = Array.from({ length: 20 }, (_, index) => Buffer.from(`r${index}`));
    for (const record of data.slice(0, 10)) await wal.append(record);
    const iterator = wal.read({ from: 0 })[Symbol.asyncIterator]();
    const firstResult = await iterator.next();
    for (const record of data.slice(10)) await wal.append(record);
    const rest: Rec[] = firstResult.done === true ? [] : [firstResult.value as Rec];
    for (let result = await iterator.next(); result.done !== true; result = await iterator.next()) rest.push(result.value as Rec);
    assert.ok(rest.length >= 10 && rest.length <= 20);
    assertRecords(rest, data.slice(0, rest.length), 0);
    await wal.close();
  });
});

// ---------------------------------------------------------------- offsets, sync, rotation

describe('Wal offsets, sync and rotation', () => {
  test('an empty log has firstOffset, nextOffset and durableOffset 0 and a read without from yields nothing', async () => {
    const wal = await openWal({ dir: tempDir() });
    assert.equal(wal.firstOffset, 0);
    assert.equal(wal.nextOffset, 0);
    assert.equal(wal.durableOffset, 0);
    assert.deepEqual(await collect(wal.read({})), []);
    assert.deepEqual(await collect(wal.read()), []);
    await rejectsWith(() => wal.read({ from: 0 }), 'OFFSET_OUT_OF_RANGE');
    await wal.close();
  });

  test('open creates a missing folder and its parents', async () => {
    const dir = path.join(tempDir(), 'a', 'b', 'log');
    const wal = await openWal({ dir });
    await wal.append('x');
    await wal.close();
    assert.deepEqual(walFiles(dir), ['00000000000000000000.wal']);
  });

  test('under fsync always durableOffset reaches each acknowledged record at once (the syscalls: strace-syscalls.test.ts)', async () => {
    const wal = await Wal.open({ dir: tempDir(), fsync: 'always' });
    await wal.append('a');
    assert.equal(wal.durableOffset, 1);
    await Promise.all([wal.append('b'), wal.appendBatch(['c', 'd'])]);
    assert.equal(wal.nextOffset, 4);
    assert.equal(wal.durableOffset, 4);
    await wal.close();
  });

  test('under fsync os sync() makes durableOffset reach nextOffset', async () => {
    const wal = await Wal.open({ dir: tempDir(), fsync: 'os' });
    for (let index = 0; index < 10; index += 1) await wal.append(`r${index}`);
    assert.ok(wal.durableOffset <= wal.nextOffset);
    await wal.sync();
    assert.equal(wal.durableOffset, 10);
    assert.equal(wal.nextOffset, 10);
    await wal.close();
  });

  test('under fsync batch the interval timer makes acknowledged records durable without sync()', async () => {
    const wal = await Wal.open({ dir: tempDir(), fsync: { batch: { intervalMs: 5 } } });
    await wal.appendBatch(['a', 'b', 'c']);
    const deadline = Date.now() + 2000;
    while (wal.durableOffset < 3 && Date.now() < deadline) await sleep(5);
    assert.equal(wal.durableOffset, 3);
    await wal.close();
  });

  test('segments() lists contiguous segments named by their 20-digit base offset, all sealed but the last', async () => {
    const dir = tempDir();
    const wal = await openWal({ dir, segmentBytes: 4096 });
    for (let index = 0; index < 100; index += 1) await wal.append(Buffer.alloc(200, index));
    const checkSegments = async (log: Wal, unsealedCount: number) => {
    const segments = await log.segments();
    assert.ok(segments.length >= 4, `${segments.length} segments`);
    let expectedBase = 0;
    segments.forEach((segment, index) => {
      assert.equal(segment.baseOffset, expectedBase);
      if (index < segments.length - 1) assert.ok(segment.nextOffset > segment.baseOffset, 'no empty segment in the middle');
      assert.equal(path.basename(segment.path), `${String(segment.baseOffset).padStart(20, '0')}.wal`);
      assert.ok(fs.existsSync(segment.path));
      // Sealing runs behind the append that rotated, so the segment before the active one may still be sealing.
      if (index < segments.length - unsealedCount) assert.equal(segment.sealed, true, `segment ${segment.baseOffset} is sealed`);
      if (index === segments.length - 1) assert.equal(segment.sealed, false, 'the active segment is not sealed');
      if (segment.sealed) {
        const file = fs.readFileSync(segment.path);
        assert.equal(decodeIndexTrailer(file, segment.baseOffset)?.sizeBytes, segment.sizeBytes, 'a sealed segment is trimmed to its data and its index trailer');
        assert.ok(segment.sizeBytes <= 4096, 'a sealed segment stays within segmentBytes');
      }
      expectedBase = segment.nextOffset;
    });
    assert.equal(expectedBase, 100);
    assert.deepEqual(walFiles(dir), segments.map((segment) => path.basename(segment.path)));
    };
    await checkSegments(wal, Infinity);
    await wal.close();
    const reopened = await openWal({ dir, segmentBytes: 4096 });
    await checkSegments(reopened, 1);
    await reopened.close();
  });

  test('segmentMaxRecords rotates after that many records', async () => {
    const wal = await openWal({ dir: tempDir(), segmentMaxRecords: 10 });
    for (let index = 0; index < 35; index += 1) await wal.append(`r${index}`);
    const segments = await wal.segments();
    assert.deepEqual(segments.map((segment) => segment.baseOffset), [0, 10, 20, 30]);
    await wal.close();
  });

  test('segmentMaxAgeMs rotates a non-empty segment older than that on the next append', async () => {
    const wal = await openWal({ dir: tempDir(), segmentMaxAgeMs: 50 });
    await wal.append('old');
    await sleep(120);
    await wal.append('new');
    const segments = await wal.segments();
    assert.deepEqual(segments.map((segment) => segment.baseOffset), [0, 1]);
    assertRecords(await collect(wal.read({ from: 0 })), [Buffer.from('old'), Buffer.from('new')], 0);
    await wal.close();
  });

  test('segment age counts only forward clock steps: a clock stepped back an hour neither holds rotation up nor rolls early', async () => {
    let wallMs = 1_800_000_000_000;
    const clock = { monotonicMs: () => performance.now(), wallMs: () => wallMs };
    const dir = tempDir();
    const wal = await openWal({ dir, segmentMaxAgeMs: 1000, clock });
    await wal.append('a');
    wallMs += 400;
    await wal.append('b');
    wallMs -= 3_600_000;
    await wal.append('c');
    wallMs += 500;
    await wal.append('d');
    assert.deepEqual((await wal.segments()).map((segment) => segment.baseOffset), [0], '900 ms of age: no rotation yet');
    wallMs += 100;
    await wal.append('e');
    assert.deepEqual((await wal.segments()).map((segment) => segment.baseOffset), [0, 4], '1000 ms of age: the next append rolls');
    await wal.close();
    // Reopened with the clock still behind the segment's creation: its age starts at zero.
    const reopened = await openWal({ dir, segmentMaxAgeMs: 1000, clock });
    await reopened.append('f');
    wallMs += 999;
    await reopened.append('g');
    assert.deepEqual((await reopened.segments()).map((segment) => segment.baseOffset), [0, 4]);
    wallMs += 1;
    await reopened.append('h');
    assert.deepEqual((await reopened.segments()).map((segment) => segment.baseOffset), [0, 4, 7]);
    await reopened.close();
  });

  test('an appendBatch never spans segments', async () => {
    const wal = await openWal({ dir: tempDir(), segmentBytes: 4096 });
    for (let round = 0; round < 20; round += 1) {
      const offsets = await wal.appendBatch(Array.from({ length: 7 }, () => Buffer.alloc(100 + round * 7, round)));
      const segments = await wal.segments();
      const holding = segments.filter((segment) => segment.baseOffset <= (offsets[0] ?? -1) && (offsets[0] ?? -1) < segment.nextOffset);
      assert.equal(holding.length, 1);
      assert.ok((offsets[6] ?? -1) < (holding[0]?.nextOffset ?? -1), `batch ${offsets.join(',')} spans segments`);
    }
    await wal.close();
  });
});

// ---------------------------------------------------------------- retention

describe('Wal.truncateBefore', () => {
  async function filledWal(dir: string): Promise<Wal> {
    const wal = await openWal({ dir, segmentMaxRecords: 10 });
    for (let index = 0; index < 45; index += 1) await wal.append(`r${index}`);
    return wal;
  }

  test('deletes whole segments below the offset and moves firstOffset to the first remaining base', async () => {
    const dir = tempDir();
    const wal = await filledWal(dir);
    await wal.truncateBefore(25);
    assert.equal(wal.firstOffset, 20);
    assert.equal(wal.nextOffset, 45);
    assert.deepEqual((await wal.segments()).map((segment) => segment.baseOffset), [20, 30, 40]);
    assert.deepEqual(walFiles(dir), ['00000000000000000020.wal', '00000000000000000030.wal', '00000000000000000040.wal']);
    const records = await collect(wal.read({ from: 20 }));
    assert.deepEqual(records.map((record) => Buffer.from(record.data).toString()), Array.from({ length: 25 }, (_, i) => `r${i + 20}`));
    await rejectsWith(() => wal.read({ from: 19 }), 'OFFSET_OUT_OF_RANGE');
    await rejectsWith(() => wal.read({ from: 0 }), 'OFFSET_OUT_OF_RANGE');
    // The message says why the records are gone and where to start.
    await assert.rejects(async () => collect(wal.read({ from: 0 })), {
      message: /^Cannot read records: offset 0 is outside the log's range \[20, 45\); the records before 20 were deleted \(truncateBefore or retention\), start at firstOffset$/,
    });
    await assert.rejects(async () => collect(wal.read({ from: 45 })), { message: /range \[20, 45\); the highest offset accepted here is 44$/ });
    assertRecords(await collect(wal.read({})), records.map((record) => Buffer.from(record.data)), 20, 'read without from starts at firstOffset');
    await wal.close();
  });

  test('a reader whose segment retention deletes before it opens the file gets OFFSET_OUT_OF_RANGE, not the file system\'s ENOENT', async () => {
    const dir = tempDir();
    // The reader's open of segment 10 waits at a gate (a busy disk) until retention has deleted the file.
    const inner = new NodeFileSystem();
    let releaseOpen = (): void => {};
    const openGate = new Promise<void>((resolve) => {
      releaseOpen = resolve;
    });
    let heldOpens = 0;
    let gating = false;
    const gated = Object.assign(Object.create(inner) as NodeFileSystem, {
      open: async (filePath: string, options: Parameters<NodeFileSystem['open']>[1]) => {
        if (gating && filePath.endsWith('00000000000000000010.wal') && options.write !== true) {
          heldOpens += 1;
          await openGate;
        }
        return inner.open(filePath, options);
      },
    });
    const wal = await openWal({ dir, segmentMaxRecords: 10, fileSystem: gated });
    try {
      for (let index = 0; index < 45; index += 1) await wal.append(`r${index}`);
      gating = true;
      const reading = collect(wal.read({ from: 15 }));
      reading.catch(() => {}); // observed now, asserted below
      while (heldOpens === 0) await sleep(1);
      await wal.truncateBefore(20);
      releaseOpen();
      await assert.rejects(reading, (error: unknown) => {
        assert.ok(error instanceof OffsetOutOfRangeError, `got ${String(error)}`);
        assert.match(error.message, /15/);
        return true;
      });
      assertRecords(await collect(wal.read({ from: 20 })), Array.from({ length: 25 }, (_, i) => Buffer.from(`r${i + 20}`)), 20);
    } finally {
      await wal.close();
    }
  });

  test('truncating at a segment base keeps that segment and truncating at 0 or below firstOffset does nothing', async () => {
    const dir = tempDir();
    const wal = await filledWal(dir);
    await wal.truncateBefore(0);
    assert.equal(wal.firstOffset, 0);
    await wal.truncateBefore(10);
    assert.equal(wal.firstOffset, 10);
    await wal.truncateBefore(5);
    assert.equal(wal.firstOffset, 10);
    assert.equal(walFiles(dir).length, 4);
    await wal.close();
  });

  test('never deletes the active segment, even when asked to truncate before nextOffset', async () => {
    const dir = tempDir();
    const wal = await filledWal(dir);
    await wal.truncateBefore(45);
    assert.equal(wal.firstOffset, 40);
    assert.deepEqual(walFiles(dir), ['00000000000000000040.wal']);
    assertRecords(await collect(wal.read({ from: 40 })), [40, 41, 42, 43, 44].map((i) => Buffer.from(`r${i}`)), 40);
    assert.deepEqual(await wal.append('r45'), { offset: 45 });
    await wal.close();
  });

  test('the truncated start survives reopen and appends continue at the right offset', async () => {
    const dir = tempDir();
    const wal = await filledWal(dir);
    await wal.truncateBefore(33);
    await wal.close();
    const reopened = await openWal({ dir, segmentMaxRecords: 10 });
    assert.equal(reopened.firstOffset, 30);
    assert.equal(reopened.nextOffset, 45);
    assert.deepEqual(await reopened.append('r45'), { offset: 45 });
    const records = await collect(reopened.read({ from: 30 }));
    assert.deepEqual(records.map((record) => Buffer.from(record.data).toString()), Array.from({ length: 16 }, (_, i) => `r${i + 30}`));
    await reopened.close();
  });

  test('a log emptied of its old segments keeps its offsets: nothing is reused', async () => {
    const dir = tempDir();
    const wal = await openWal({ dir, segmentMaxRecords: 5 });
    for (let index = 0; index < 10; index += 1) await wal.append(`r${index}`);
    await wal.truncateBefore(10);
    await wal.close();
    const reopened = await openWal({ dir, segmentMaxRecords: 5 });
    assert.equal(reopened.nextOffset, 10);
    assert.ok(reopened.firstOffset <= 10);
    assert.deepEqual(await reopened.append('r10'), { offset: 10 });
    await reopened.close();
  });
});

// ---------------------------------------------------------------- tail

describe('Wal.tail', () => {
  test('yields records appended after it starts, in order, batches included', async () => {
    const wal = await Wal.open({ dir: tempDir(), fsync: 'always', segmentBytes: 4096 });
    await wal.append('before');
    const controller = new AbortController();
    const seen: Rec[] = [];
    const tailing = (async () => {
      for await (const record of wal.tail({ from: wal.nextOffset, signal: controller.signal })) {
        seen.push(record);
        if (seen.length === 60) break;
      }
    })();
    await sleep(20);
    const expected: Buffer[] = [];
    for (let index = 0; index < 30; index += 1) {
      const data = Buffer.alloc(100 + index, index);
      expected.push(data);
      await wal.append(data);
    }
    const batch = Array.from({ length: 30 }, (_, index) => Buffer.from(`batch ${index}`));
    expected.push(...batch);
    await wal.appendBatch(batch);
    await tailing;
    assertRecords(seen, expected, 1);
    await wal.close();
  });

  test('from an earlier offset it yields the existing records first, then new ones', async () => {
    const wal = await openWal({ dir: tempDir() });
    for (let index = 0; index < 5; index += 1) await wal.append(`r${index}`);
    const seen: Rec[] = [];
    const tailing = (async () => {
      for await (const record of wal.tail({ from: 2, signal: new AbortController().signal })) {
        seen.push(record);
        if (seen.length === 6) break;
      }
    })();
    for (let index = 5; index < 8; index += 1) await wal.append(`r${index}`);
    await tailing;
    assertRecords(seen, [2, 3, 4, 5, 6, 7].map((i) => Buffer.from(`r${i}`)), 2);
    await wal.close();
  });

  test('ends without an error when its signal aborts while it waits', async () => {
    const wal = await openWal({ dir: tempDir() });
    await wal.append('a');
    const controller = new AbortController();
    const seen: number[] = [];
    const tailing = (async () => {
      for await (const record of wal.tail({ from: 0, signal: controller.signal })) seen.push(record.offset);
    })();
    await until(() => seen.length === 1);
    // Now it waits for a record that never comes.
    await sleep(20);
    controller.abort();
    await tailing;
    assert.deepEqual(seen, [0]);
    await wal.close();
  });

  test('ends at once when its signal is already aborted', async () => {
    const wal = await openWal({ dir: tempDir() });
    await wal.append('a');
    const controller = new AbortController();
    controller.abort();
    const records = await collect(wal.tail({ from: 1, signal: controller.signal }));
    assert.deepEqual(records, []);
    await wal.close();
  });

  test('ends without an error when the log closes', async () => {
    const wal = await openWal({ dir: tempDir() });
    const seen: number[] = [];
    const tailing = (async () => {
      for await (const record of wal.tail({ from: 0, signal: new AbortController().signal })) seen.push(record.offset);
    })();
    await wal.append('a');
    await wal.append('b');
    await until(() => seen.length === 2);
    await wal.close();
    await tailing;
    assert.deepEqual(seen, [0, 1]);
  });

  test('many tails follow one log and each sees every record once', async () => {
    const wal = await openWal({ dir: tempDir() });
    const controller = new AbortController();
    const seenCounts = new Array<number>(5).fill(0);
    const tails = seenCounts.map(async (_, tailIndex) => {
      const records: Array<{ offset: number }> = [];
      for await (const record of wal.tail({ from: 0, signal: controller.signal })) {
        records.push(record);
        seenCounts[tailIndex] = records.length;
        // A 51st record would be a duplicate: keep following until the abort.
      }
      return records;
    });
    const offsets = await Promise.all(Array.from({ length: 50 }, (_, index) => wal.append(`r${index}`)));
    assert.equal(offsets.length, 50);
    await until(() => seenCounts.every((count) => count >= 50));
    // Time for a duplicate, were there one, to show.
    await sleep(20);
    controller.abort();
    for (const records of await Promise.all(tails)) {
      assert.deepEqual(records.map((record) => record.offset), Array.from({ length: 50 }, (_, index) => index));
    }
    await wal.close();
  });

  test('neither tail nor read nor nextOffset sees a record before its append is acknowledged', async (t) => {
    const fileSystem = new GatedFileSystem();
    const wal = await Wal.open({ dir: tempDir(), fsync: 'always', fileSystem });
    await wal.append('acknowledged');
    const controller = new AbortController();
    const seen: Array<{ offset: number; acknowledged: boolean }> = [];
    let acknowledged = false;
    const tailing = (async () => {
      for await (const record of wal.tail({ from: 0, signal: controller.signal })) {
        seen.push({ offset: record.offset, acknowledged: record.offset === 0 || acknowledged });
      }
    })();
    await sleep(20);
    fileSystem.hold();
    const appending = wal.append('held').then((result) => {
      acknowledged = true;
      return result;
    });
    await sleep(150);
    if (fileSystem.heldCount === 0) {
      fileSystem.release();
      await appending;
      controller.abort();
      await tailing;
      await wal.close();
      t.skip('the Wal acknowledged without an async write or fdatasync of the segment');
      return;
    }
    assert.equal(acknowledged, false, 'append waits for its fdatasync');
    assert.equal(wal.nextOffset, 1, 'nextOffset does not count an unacknowledged record');
    assert.ok(wal.durableOffset <= 1);
    assert.deepEqual(seen.map((entry) => entry.offset), [0], 'tail does not yield an unacknowledged record');
    assertRecords(await collect(wal.read({})), [Buffer.from('acknowledged')], 0, 'read does not see it');
    await rejectsWith(() => wal.read({ from: 1 }), 'OFFSET_OUT_OF_RANGE');
    fileSystem.release();
    assert.deepEqual(await appending, { offset: 1 });
    await until(() => seen.length === 2);
    controller.abort();
    await tailing;
    assert.deepEqual(seen, [
      { offset: 0, acknowledged: true },
      { offset: 1, acknowledged: true },
    ]);
    await wal.close();
  });
});

// ---------------------------------------------------------------- ownership and close

describe('Wal ownership and close', () => {
  test('a second open of the same folder fails with LOCKED and the first owner keeps working', async () => {
    const dir = tempDir();
    const wal = await openWal({ dir });
    await wal.append('a');
    await assert.rejects(openWal({ dir }), (error: unknown) => {
      assert.ok(error instanceof LockedError);
      return isCode('LOCKED')(error);
    });
    await rejectsWith(() => openWal({ dir: path.join(dir, '..', path.basename(dir)) }), 'LOCKED');
    assert.deepEqual(await wal.append('b'), { offset: 1 });
    await wal.close();
    const again = await openWal({ dir });
    assert.equal(again.nextOffset, 2);
    await again.close();
  });

  test('close() lets pending appends resolve first and the next open sees all of them', async () => {
    const dir = tempDir();
    const wal = await Wal.open({ dir, fsync: 'always' });
    const appends = Array.from({ length: 50 }, (_, index) => wal.append(`r${index}`));
    const batch = wal.appendBatch(['x', 'y']);
    await wal.close();
    const offsets = (await Promise.all(appends)).map((result) => result.offset);
    assert.deepEqual(offsets, Array.from({ length: 50 }, (_, index) => index));
    assert.deepEqual(await batch, [50, 51]);
    const reopened = await Wal.open({ dir });
    assert.equal(reopened.nextOffset, 52);
    assert.equal(reopened.recovery.clean, true);
    await reopened.close();
  });

  test('every call after close() fails with WAL_CLOSED', async () => {
    const wal = await openWal({ dir: tempDir() });
    await wal.append('a');
    await wal.close();
    const calls: Array<[string, () => unknown]> = [
      ['append', () => wal.append('b')],
      ['appendBatch', () => wal.appendBatch(['b'])],
      ['read', () => wal.read({ from: 0 })],
      ['read without from', () => wal.read({})],
      ['tail', () => wal.tail({ from: 0, signal: new AbortController().signal })],
      ['sync', () => wal.sync()],
      ['truncateBefore', () => wal.truncateBefore(0)],
    ];
    for (const [name, call] of calls) {
      await assert.rejects(
        async () => {
          const result = call();
          if (result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
            await collect(result as AsyncIterable<Rec>);
          } else {
            await result;
          }
        },
        (error: unknown) => {
          assert.ok(error instanceof WalClosedError, `${name}: expected WalClosedError, got ${String(error)}`);
          assert.equal(error.code, 'WAL_CLOSED');
          return true;
        },
        name,
      );
    }
  });

  test('a read that is running when the log closes ends or fails with WAL_CLOSED, never with garbage', async () => {
    const wal = await openWal({ dir: tempDir(), segmentBytes: 4096 });
    await wal.appendBatch(Array.from({ length: 100 }, (_, index) => Buffer.from(`r${index}`)));
    const iterator = wal.read({ from: 0 })[Symbol.asyncIterator]();
    const firstResult = await iterator.next();
    assert.equal(firstResult.done, false);
    await wal.close();
    let offset = 1;
    try {
      for (let result = await iterator.next(); result.done !== true; result = await iterator.next()) {
        assert.equal((result.value as Rec).offset, offset);
        assert.equal(Buffer.from((result.value as Rec).data).toString(), `r${offset}`);
        offset += 1;
      }
    } catch (error) {
      assert.ok(error instanceof WalError && error.code === 'WAL_CLOSED', `unexpected ${String(error)}`);
    }
  });
});

// ---------------------------------------------------------------- bad input

describe('Wal bad input', () => {
  const maxRecordBytes = 1024;

  async function assertUnchanged(wal: Wal, expectedNext: number): Promise<void> {
    assert.equal(wal.nextOffset, expectedNext, 'nextOffset is unchanged');
    const records = await collect(wal.read({}));
    assert.equal(records.length, expectedNext, 'no record was added');
  }

  const badRecords: Array<[name: string, value: unknown]> = [
    ['an empty Buffer', Buffer.alloc(0)],
    ['an empty Uint8Array', new Uint8Array(0)],
    ['an empty string', ''],
    ['a record one byte over maxRecordBytes', Buffer.alloc(maxRecordBytes + 1)],
    ['a string whose UTF-8 bytes exceed maxRecordBytes', 'é'.repeat(maxRecordBytes / 2 + 1)],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['a boolean', true],
    ['a plain object', { data: 'x' }],
    ['an array of numbers', [1, 2, 3]],
    ['a Uint16Array of bytes', new Uint16Array([1, 2])],
  ];
  for (const [name, value] of badRecords) {
    test(`append() refuses ${name} with INVALID_ARGUMENT and changes nothing`, async () => {
      const wal = await openWal({ dir: tempDir(), maxRecordBytes });
      await wal.append('one');
      await rejectsWith(() => wal.append(value as string), 'INVALID_ARGUMENT');
      await assertUnchanged(wal, 1);
      assert.deepEqual(await wal.append('two'), { offset: 1 });
      await wal.close();
    });
  }

  test('append() accepts a record of exactly maxRecordBytes', async () => {
    const wal = await openWal({ dir: tempDir(), maxRecordBytes });
    assert.deepEqual(await wal.append(Buffer.alloc(maxRecordBytes, 1)), { offset: 0 });
    assert.deepEqual(await wal.append('é'.repeat(maxRecordBytes / 2)), { offset: 1 });
    await wal.close();
  });

  const badBatches: Array<[name: string, value: unknown]> = [
    ['an empty array', []],
    ['a string instead of an array', 'abc'],
    ['a Buffer instead of an array', Buffer.from('abc')],
    ['null', null],
    ['an array holding a number', [Buffer.from('a'), 5]],
    ['an array holding null', [Buffer.from('a'), null]],
    ['an array holding an object', [{}]],
    ['an array holding an empty record after good ones', [Buffer.from('a'), Buffer.from('b'), Buffer.alloc(0)]],
    ['an array holding an over-size record after good ones', [Buffer.from('a'), Buffer.alloc(maxRecordBytes + 1)]],
    ['a sparse array', [Buffer.from('a'), , Buffer.from('c')]],
  ];
  for (const [name, value] of badBatches) {
    test(`appendBatch() refuses ${name} with INVALID_ARGUMENT and appends none of it`, async () => {
      const wal = await openWal({ dir: tempDir(), maxRecordBytes });
      await wal.append('one');
      await rejectsWith(() => wal.appendBatch(value as string[]), 'INVALID_ARGUMENT');
      await assertUnchanged(wal, 1);
      assert.deepEqual(await wal.appendBatch(['two', 'three']), [1, 2]);
      await wal.close();
    });
  }

  const badOffsets: Array<[name: string, value: unknown]> = [
    ['-1', -1],
    ['1.5', 1.5],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['a numeric string', '1'],
    ['null', null],
    ['a bigint', 1n],
  ];
  for (const [name, value] of badOffsets) {
    test(`read() refuses from ${name} with INVALID_ARGUMENT`, async () => {
      const wal = await openWal({ dir: tempDir() });
      await wal.appendBatch(['a', 'b', 'c']);
      await rejectsWith(() => wal.read({ from: value as number }), 'INVALID_ARGUMENT');
      await wal.close();
    });

    test(`read() refuses to ${name} with INVALID_ARGUMENT`, async () => {
      const wal = await openWal({ dir: tempDir() });
      await wal.appendBatch(['a', 'b', 'c']);
      await rejectsWith(() => wal.read({ from: 0, to: value as number }), 'INVALID_ARGUMENT');
      await wal.close();
    });

    test(`tail() refuses from ${name} with INVALID_ARGUMENT`, async () => {
      const wal = await openWal({ dir: tempDir() });
      await wal.appendBatch(['a', 'b', 'c']);
      // If the bad value were taken as "no from", the tail would wait forever: give up after a second.
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 1000);
      try {
        await rejectsWith(() => wal.tail({ from: value as number, signal: controller.signal }), 'INVALID_ARGUMENT');
      } finally {
        clearTimeout(timer);
        await wal.close();
      }
    });

    test(`truncateBefore() refuses ${name} with INVALID_ARGUMENT and deletes nothing`, async () => {
      const dir = tempDir();
      const wal = await openWal({ dir, segmentMaxRecords: 2 });
      await wal.appendBatch(['a', 'b']);
      await wal.appendBatch(['c', 'd']);
      await wal.append('e');
      // segments() waits for the rotated segment's rename, which acknowledgements do not.
      await wal.segments();
      const before = walFiles(dir);
      await rejectsWith(() => wal.truncateBefore(value as number), 'INVALID_ARGUMENT');
      assert.deepEqual(walFiles(dir), before);
      assert.equal(wal.firstOffset, 0);
      await wal.close();
    });
  }

  test('read(), readBlocks() and tail() refuse options that are not an object, unknown keys and a bad signal', async () => {
    const wal = await openWal({ dir: tempDir() });
    await wal.appendBatch(['a', 'b', 'c']);
    // A misspelt key must not silently mean "from the start" (read) or "from the end" (tail).
    await rejectsWith(() => wal.read({ frm: 2 } as never), 'INVALID_ARGUMENT');
    await rejectsWith(() => wal.readBlocks({ from: 0, too: 1 } as never), 'INVALID_ARGUMENT');
    await rejectsWith(() => wal.read(null as never), 'INVALID_ARGUMENT');
    assert.throws(() => wal.tail({ frm: 0 } as never), { code: 'INVALID_ARGUMENT', message: /unknown option "frm"; known options are from, signal/ });
    assert.throws(() => wal.tail('0' as never), { code: 'INVALID_ARGUMENT', message: /options must be an object/ });
    assert.throws(() => wal.tail({ from: 0, signal: {} as never }), { code: 'INVALID_ARGUMENT', message: /signal must be an AbortSignal/ });
    assert.throws(() => wal.tail({ from: 4 }), { code: 'OFFSET_OUT_OF_RANGE' });
    await wal.close();
  });

  test('read() refuses an offset at or after nextOffset with OFFSET_OUT_OF_RANGE', async () => {
    const wal = await openWal({ dir: tempDir() });
    await wal.appendBatch(['a', 'b', 'c']);
    for (const from of [3, 4, 1_000_000]) {
      await assert.rejects(
        async () => collect(wal.read({ from })),
        (error: unknown) => {
          assert.ok(error instanceof OffsetOutOfRangeError, `from ${from}: ${String(error)}`);
          assert.equal(error.code, 'OFFSET_OUT_OF_RANGE');
          assert.match(error.message, /\[0, 3\)/);
          return true;
        },
      );
    }
    await wal.close();
  });

  test('read() refuses options that are not an object', async () => {
    const wal = await openWal({ dir: tempDir() });
    await wal.append('a');
    for (const options of [5, 'from', null]) {
      await rejectsWith(() => wal.read(options as unknown as { from: number }), 'INVALID_ARGUMENT');
    }
    await wal.close();
  });

  const badOpenOptions: Array<[name: string, options: Record<string, unknown>]> = [
    ['an unknown option', { segmentSize: 4096 }],
    ['segmentBytes below the minimum', { segmentBytes: 100 }],
    ['a fractional segmentBytes', { segmentBytes: 8192.5 }],
    ['a negative maxRecordBytes', { maxRecordBytes: -1 }],
    ['maxRecordBytes NaN', { maxRecordBytes: NaN }],
    ['an unknown fsync policy', { fsync: 'sometimes' }],
    ['a zero batch interval', { fsync: { batch: { intervalMs: 0 } } }],
    ['segmentMaxAgeMs 0', { segmentMaxAgeMs: 0 }],
    ['maxOpenFiles 0', { maxOpenFiles: 0 }],
    ['repair as a string', { repair: 'true' }],
    ['preallocate as a number', { preallocate: 1 }],
  ];
  for (const [name, extra] of badOpenOptions) {
    test(`Wal.open() refuses ${name} with INVALID_ARGUMENT before touching the disk`, async () => {
      const dir = path.join(tempDir(), 'never-created');
      await assert.rejects(Wal.open({ dir, ...extra } as unknown as WalOptions), (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError, String(error));
        return isCode('INVALID_ARGUMENT')(error);
      });
      assert.equal(fs.existsSync(dir), false, 'the folder was not created');
    });
  }

  test('Wal.open() refuses options that are not an object or have no dir', async () => {
    for (const options of [undefined, null, 'dir', {}, { dir: '' }, { dir: 42 }]) {
      await rejectsWith(() => Wal.open(options as unknown as WalOptions), 'INVALID_ARGUMENT');
    }
  });
});
