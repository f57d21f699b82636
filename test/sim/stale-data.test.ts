/**
 * Stale and misdirected data: a segment file that is reused or was
 * preallocated over an older segment's valid frames, and a valid frame
 * written at the wrong position, must never be returned as records. Runs on
 * the SimulatedFileSystem (the bytes are what matters, not the disk).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedFileSystem } from '../../src/io/simulated-file-system.js';
import { Wal } from '../../src/log/wal.js';
import { WalError } from '../../src/errors.js';
import { SEGMENT_HEADER_SIZE_BYTES } from '../../src/constants.js';

const DIR = '/log';
const SEGMENT = `${DIR}/00000000000000000000.wal`;
/**
 * Each segment has a random nonce, in its header and in every frame under
 * the frame's checksum: frames of an older segment with the same base
 * offset, even where they line up with the new offsets, carry another nonce
 * and are refused.
 */

/** The active segment of a crashed log (no clean marker, no preallocated zeros) holding `records`. */
async function segmentOf(records: Buffer[], seed: number): Promise<Buffer> {
  const fileSystem = new SimulatedFileSystem({ seed });
  const wal = await Wal.open({ dir: DIR, fileSystem, fsync: 'always', preallocate: false });
  for (const data of records) await wal.append(data);
  const image = fileSystem.snapshot();
  await wal.close();
  const bytes = image.fileContent(SEGMENT);
  assert.ok(bytes !== null);
  return bytes;
}

/** Opens a log on `segment` and returns its records, or the WalError code. */
async function recover(segment: Buffer): Promise<{ records: Buffer[] } | { code: string }> {
  const fileSystem = new SimulatedFileSystem({ seed: 3 });
  await fileSystem.mkdir(DIR);
  fileSystem.setFileContent(SEGMENT, segment);
  let wal: Wal | null = null;
  try {
    wal = await Wal.open({ dir: DIR, fileSystem, fsync: 'always' });
    const records: Buffer[] = [];
    for await (const { data } of wal.read({})) records.push(Buffer.from(data));
    return { records };
  } catch (error) {
    if (error instanceof WalError) return { code: error.code };
    throw error;
  } finally {
    await wal?.close().catch(() => {});
  }
}

function records(count: number, fill: number, sizeOf: (index: number) => number): Buffer[] {
  return Array.from({ length: count }, (_, index) => Buffer.alloc(sizeOf(index), (fill + index) & 0xff));
}

function frameStarts(segment: Buffer): number[] {
  const starts: number[] = [];
  for (let at = SEGMENT_HEADER_SIZE_BYTES; at + 8 <= segment.length; ) {
    const sizeBytes = segment.readUInt32LE(at + 4);
    if (sizeBytes === 0) break;
    starts.push(at);
    at += sizeBytes;
  }
  return starts;
}

test('a reused file holding an older segment\'s frames past the new data yields only the new records', async () => {
  const old = records(30, 1, (index) => 40 + index * 7);
  const fresh = records(10, 101, (index) => 90 + index * 3);
  const oldSegment = await segmentOf(old, 1);
  const newSegment = await segmentOf(fresh, 2);
  assert.ok(oldSegment.length > newSegment.length);
  const reused = Buffer.concat([newSegment, oldSegment.subarray(newSegment.length)]);
  const outcome = await recover(reused);
  // Either the stale bytes are cut as a torn tail, or open refuses; never old records.
  if ('records' in outcome) assert.deepEqual(outcome.records, fresh);
  else assert.equal(outcome.code, 'LOG_CORRUPT');
});

test('a preallocated file filled with an older segment\'s frames from the start yields no records', async () => {
  const old = records(20, 1, (index) => 50 + index);
  const oldSegment = await segmentOf(old, 1);
  const empty = await segmentOf([], 4);
  // A fresh header (another creation time), then the old frames as the file's "zeros".
  const prefilled = Buffer.concat([empty.subarray(0, SEGMENT_HEADER_SIZE_BYTES), oldSegment.subarray(SEGMENT_HEADER_SIZE_BYTES)]);
  const outcome = await recover(prefilled);
  if ('records' in outcome) assert.deepEqual(outcome.records, [], 'stale frames were returned as records');
});

test('a valid frame written at the wrong position is never returned there', async () => {
  const appended = records(12, 7, (index) => 30 + ((index * 13) % 50));
  const segment = await segmentOf(appended, 5);
  const starts = frameStarts(segment);
  assert.equal(starts.length, appended.length, 'one frame per awaited append');
  let checked = 0;
  for (let from = 0; from < starts.length; from++) {
    for (let to = 0; to < starts.length; to++) {
      if (from === to) continue;
      const fromStart = starts[from] as number;
      const toStart = starts[to] as number;
      const sizeBytes = segment.readUInt32LE(fromStart + 4);
      if (toStart + sizeBytes > segment.length) continue;
      const misdirected = Buffer.from(segment);
      segment.copy(misdirected, toStart, fromStart, fromStart + sizeBytes);
      const outcome = await recover(misdirected);
      checked += 1;
      if ('code' in outcome) {
        assert.equal(outcome.code, 'LOG_CORRUPT');
        continue;
      }
      // Whatever is returned is a prefix of what was appended, never a moved frame.
      assert.ok(outcome.records.length <= to, `frame ${from} copied over ${to}: ${outcome.records.length} records returned`);
      outcome.records.forEach((data, offset) => assert.ok(data.equals(appended[offset] as Buffer), `offset ${offset}`));
    }
  }
  assert.ok(checked > 50);
});

test(
  'a reused file whose stale frames line up with the new offsets yields only the new records',
  async () => {
    const sizeOf = (index: number): number => 64 + index * 8;
    const old = records(20, 1, sizeOf);
    const fresh = records(8, 101, sizeOf);
    const oldSegment = await segmentOf(old, 1);
    const newSegment = await segmentOf(fresh, 2);
    const reused = Buffer.concat([newSegment, oldSegment.subarray(newSegment.length)]);
    const outcome = await recover(reused);
    if ('records' in outcome) assert.deepEqual(outcome.records, fresh);
  },
);
