/**
 * Readers and the end of a log's life: a reader still iterating when its log
 * closes opens no file of it any more (it fails with WAL_CLOSED, and leaves
 * no descriptor behind; a tail ends instead), a tail of a failed log hands
 * out what was acknowledged before it fails, and a reader that stops early lets its reads in
 * flight finish before its handle can be closed (a closed descriptor may be
 * reused by another file at once).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { FaultyFileSystem } from '../io/faulty-file-system.js';
import { NodeFileSystem } from '../io/node-file-system.js';
import { Wal } from './wal.js';
import { WalClosedError } from '../errors.js';
import { freshFolders } from '../../test/temp-folders.js';
import { slowReads } from '../../test/slow-reads.js';

const freshFolder = freshFolders('tidewal-reader-close-');
const READ_DELAY_MS = 30;

/** Descriptors of this process open into `dir`. */
function descriptorsInto(dir: string): number {
  let count = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${dir}/`)) count += 1;
    } catch {
      // Closed while listed.
    }
  }
  return count;
}

test('a reader that goes on after its log closed fails with WAL_CLOSED and leaves no descriptor open', async () => {
  const dir = freshFolder();
  const wal = await Wal.open({ dir, fsync: 'os', segmentMaxRecords: 10 });
  for (let offset = 0; offset < 50; offset++) await wal.append(`record ${offset}`);
  const records = wal.read({ from: 0 })[Symbol.asyncIterator]();
  const first = await records.next();
  assert.equal(first.done, false);
  await wal.close();
  let read = 1;
  await assert.rejects(
    (async () => {
      for (;;) {
        const step = await records.next();
        if (step.done === true) return;
        read += 1;
      }
    })(),
    (error: unknown) => error instanceof WalClosedError && error.code === 'WAL_CLOSED',
  );
  assert.ok(read <= 10, `the reader stopped at the end of the segment it had open (read ${read})`);
  // The handle it let go closes on the thread pool: give the close a moment on a busy machine.
  const deadlineMs = Date.now() + 5000;
  while (descriptorsInto(dir) > 0 && Date.now() < deadlineMs) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(descriptorsInto(dir), 0, 'no descriptor into the log folder outlives the reader');
});

test('a tail still catching up when its log closes ends cleanly at the end of the segment it has open', async () => {
  const dir = freshFolder();
  const wal = await Wal.open({ dir, fsync: 'os', segmentMaxRecords: 10 });
  for (let offset = 0; offset < 100; offset++) await wal.append(`record ${offset}`);
  const offsets: number[] = [];
  for await (const record of wal.tail({ from: 0 })) {
    offsets.push(record.offset);
    if (offsets.length === 5) await wal.close();
  }
  assert.deepEqual(offsets, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'the records of the open segment, then the end');
  const deadlineMs = Date.now() + 5000;
  while (descriptorsInto(dir) > 0 && Date.now() < deadlineMs) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(descriptorsInto(dir), 0, 'no descriptor into the log folder outlives the tail');
});

for (const fsync of ['always', 'os'] as const) {
  test(`a tail of a failed log (${fsync}) hands out every acknowledged record, then fails with the log's failure`, async () => {
    const faulty = new FaultyFileSystem(new NodeFileSystem());
    const wal = await Wal.open({ dir: freshFolder(), fsync, fileSystem: faulty, segmentMaxRecords: 10 });
    try {
      for (let offset = 0; offset < 25; offset++) await wal.append(`record ${offset}`);
      faulty.arm({ call: 'write', code: 'EIO', times: Infinity });
      await assert.rejects(wal.append('lost'), { code: 'WAL_FAILED' });
      const seen: string[] = [];
      await assert.rejects(
        (async () => {
          for await (const record of wal.tail({ from: 0 })) seen.push(`${record.offset}:${record.data.toString()}`);
        })(),
        { code: 'WAL_FAILED' },
      );
      assert.deepEqual(seen, Array.from({ length: 25 }, (_, offset) => `${offset}:record ${offset}`));
    } finally {
      await wal.close().catch(() => {});
    }
  });
}

test('a reader that stops early waits for its reads in flight before its handle can close', async () => {
  const dir = freshFolder();
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const fileSystem = slowReads(faulty, READ_DELAY_MS);
  const wal = await Wal.open({ dir, fsync: 'os', fileSystem });
  // More than two 2 MiB read blocks, so that the reader keeps a second read in flight.
  const record = Buffer.alloc(64 * 1024, 7);
  for (let index = 0; index < 80; index++) await wal.append(record);
  for await (const found of wal.read({ from: 0, to: 1 })) assert.equal(found.offset, 0);
  await wal.close();
  await new Promise((resolve) => setTimeout(resolve, READ_DELAY_MS * 3));
  assert.deepEqual(faulty.usedAfterClose, [], 'no read reached a handle after it was closed');
});
