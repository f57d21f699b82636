/**
 * A reader that its consumer stops calling without return() (a lookup of
 * one record with `.next()`, a race against a timeout) must not keep its
 * segment's descriptor: it held it until the generator finished, so such
 * readers pinned descriptors for good, also after close() and after
 * retention deleted the file (its space was never freed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { Wal } from './wal.js';
import { freshFolders } from '../../test/temp-folders.js';
import { setTimeout as sleep } from 'node:timers/promises';

const freshDir = freshFolders('tidewal-reader-pins-');

/** Descriptors of this process open on files in `dir`, and how many of them name deleted files. */
function descriptorsInto(dir: string): { open: number; deleted: number } {
  const prefix = `${realpathSync(dir)}/`;
  let open = 0;
  let deleted = 0;
  for (const name of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue; // closed meanwhile (the descriptor of readdir itself)
    }
    if (!target.startsWith(prefix)) continue;
    open += 1;
    if (target.endsWith(' (deleted)')) deleted += 1;
  }
  return { open, deleted };
}

async function logOfSegments(dir: string, segmentCount: number, recordsPerSegment: number): Promise<Wal> {
  const wal = await Wal.open({ dir, fsync: 'os', segmentMaxRecords: recordsPerSegment, maxOpenFiles: 4 });
  for (let index = 0; index < segmentCount * recordsPerSegment; index++) await wal.append(`record ${index}`);
  return wal;
}

test('one-record lookups with next() and no return() leave no descriptor pinned: none after close, none on a deleted file', async () => {
  const dir = freshDir();
  const wal = await logOfSegments(dir, 20, 10);
  const writerDescriptors = descriptorsInto(dir).open;
  for (let offset = 0; offset < 190; offset += 5) {
    const first = await wal.read({ from: offset, to: offset + 1 })[Symbol.asyncIterator]().next();
    assert.equal(first.done, false);
    assert.equal(first.value?.offset, offset);
    assert.equal(first.value?.data.toString(), `record ${offset}`);
  }
  // Released once the reads in flight settle; the cache keeps at most maxOpenFiles idle handles.
  for (let waitedMs = 0; waitedMs < 2000 && descriptorsInto(dir).open > writerDescriptors + 4; waitedMs += 10) await sleep(10);
  assert.ok(descriptorsInto(dir).open <= writerDescriptors + 4, `at most maxOpenFiles read handles stay open (${descriptorsInto(dir).open - writerDescriptors})`);
  await wal.truncateBefore(150);
  assert.equal(descriptorsInto(dir).deleted, 0, 'no descriptor holds a segment that retention deleted');
  await wal.close();
  assert.deepEqual(descriptorsInto(dir), { open: 0, deleted: 0 }, 'close() leaves no descriptor into the log');
});

test('a reader left between two blocks and resumed later goes on reading, also after the cache closed its handle', async () => {
  const dir = freshDir();
  const wal = await Wal.open({ dir, fsync: 'os', maxOpenFiles: 1 });
  const record = Buffer.alloc(100 * 1024, 7);
  // One segment of 6 MiB: three read blocks of 2 MiB.
  for (let index = 0; index < 60; index++) await wal.append(record);
  const reader = wal.readBlocks({ from: 0 })[Symbol.asyncIterator]();
  const first = await reader.next();
  assert.equal(first.done, false);
  let count = first.value?.count ?? 0;
  // Another reader of the same file meanwhile; with one cached handle the paused reader's may be closed and opened again.
  for await (const other of wal.read({ from: 59 })) assert.equal(other.offset, 59);
  for (let step = await reader.next(); step.done !== true; step = await reader.next()) {
    assert.equal(step.value.firstOffset, count, 'blocks follow each other without a gap');
    for (let index = 0; index < step.value.count; index++) assert.ok(record.equals(step.value.data(index)));
    count += step.value.count;
  }
  assert.equal(count, 60);
  await wal.close();
  assert.deepEqual(descriptorsInto(dir), { open: 0, deleted: 0 });
});

test('a reader resumed after close() rejects with WAL_CLOSED instead of reading a closed log', async () => {
  const dir = freshDir();
  const wal = await Wal.open({ dir, fsync: 'os' });
  const record = Buffer.alloc(100 * 1024, 3);
  for (let index = 0; index < 60; index++) await wal.append(record);
  const reader = wal.read({ from: 0 })[Symbol.asyncIterator]();
  let step = await reader.next();
  // Take the first block's records, so that the next step must read on.
  while (step.done !== true && step.value.offset < 19) step = await reader.next();
  await wal.close();
  await assert.rejects(
    (async () => {
      for (step = await reader.next(); step.done !== true; step = await reader.next());
    })(),
    { code: 'WAL_CLOSED' },
  );
  assert.deepEqual(descriptorsInto(dir), { open: 0, deleted: 0 });
});

test('readers resuming while close() runs open no file after it: no descriptor outlives the log', async () => {
  const record = Buffer.alloc(4096, 1);
  for (let trial = 0; trial < 20; trial++) {
    const dir = freshDir();
    const wal = await Wal.open({ dir, fsync: 'os', segmentMaxRecords: 50, maxOpenFiles: 64 });
    for (let index = 0; index < 1000; index++) void wal.append(record);
    await wal.sync();
    const outcomes = Array.from({ length: 8 }, async () => {
      try {
        for await (const block of wal.readBlocks({ from: 0 })) void block;
        return 'done';
      } catch (error) {
        return (error as { code?: string }).code ?? String(error);
      }
    });
    await sleep(trial % 5);
    await wal.close();
    for (const outcome of await Promise.all(outcomes)) assert.ok(outcome === 'done' || outcome === 'WAL_CLOSED', `a reader ended with ${outcome}`);
    // Released handles close when their reads in flight settle.
    for (let waitedMs = 0; waitedMs < 1000 && descriptorsInto(dir).open > 0; waitedMs += 10) await sleep(10);
    assert.deepEqual(descriptorsInto(dir), { open: 0, deleted: 0 }, `trial ${trial}: no descriptor into the log after close()`);
  }
});
