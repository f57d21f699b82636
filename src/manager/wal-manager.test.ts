import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { WalError, WalIOError } from '../errors.js';
import { FaultyFileSystem, exactPath } from '../io/faulty-file-system.js';
import { NodeFileSystem } from '../io/node-file-system.js';
import { WalManager } from './wal-manager.js';
import { SharedAppender } from '../worker/shared-appender.js';
import { ROOM_WAIT_MS_MAX } from './log-pool.js';
import { gate } from '../../test/gate.js';
import { until, within } from '../../test/within.js';
import { copyLiveFolder } from '../../test/copy-live-folder.js';
import { freshFolders } from '../../test/temp-folders.js';

const freshDir = freshFolders('tidewal-manager-');

function recordFor(topic: string, partition: number, index: number): string {
  return `${topic}:${partition}:${index}`;
}

test('many partitions written concurrently read back exactly, also after reopen', async () => {
  const dir = freshDir();
  const topics = ['orders', 'payments'];
  const partitionCount = 8;
  const perPartition = 60;
  const mgr = await WalManager.open({ dir, fsync: 'os', segmentMaxRecords: 16, retentionIntervalMs: 0 });
  const writers: Promise<void>[] = [];
  for (const topic of topics) {
    for (let partition = 0; partition < partitionCount; partition += 1) {
      writers.push(
        (async () => {
          for (let index = 0; index < perPartition; ) {
            if (index % 3 === 0) {
              const batch = [recordFor(topic, partition, index), recordFor(topic, partition, index + 1)];
              assert.deepEqual(await mgr.append(topic, partition, batch), [index, index + 1]);
              index += 2;
            } else {
              assert.equal(await mgr.append(topic, partition, recordFor(topic, partition, index)), index);
              index += 1;
            }
          }
        })(),
      );
    }
  }
  await Promise.all(writers);
  assert.deepEqual(mgr.topics(), topics);
  assert.deepEqual(mgr.partitions('orders'), [0, 1, 2, 3, 4, 5, 6, 7]);
  await mgr.close();

  const reopened = await WalManager.open({ dir, fsync: 'os', retentionIntervalMs: 0 });
  assert.deepEqual(reopened.topics(), topics);
  for (const topic of topics) {
    for (let partition = 0; partition < partitionCount; partition += 1) {
      const seen: string[] = [];
      for await (const record of reopened.read(topic, partition)) {
        assert.equal(record.offset, seen.length);
        seen.push(record.data.toString());
      }
      assert.deepEqual(seen, Array.from({ length: perPartition }, (_, index) => recordFor(topic, partition, index)));
    }
  }
  await reopened.close();
});

test('records given for a log that is still opening are copied: the caller may reuse its buffers once append() returns', async () => {
  const mgr = await WalManager.open({ dir: freshDir(), retentionIntervalMs: 0 });
  try {
    const single = Buffer.from('single, as given');
    const batched = [Buffer.from('first of batch'), Buffer.from('second of batch')];
    // Partitions that do not exist yet: each append waits for its log to open.
    const appends = [mgr.append('t', 0, single), mgr.append('t', 1, batched)];
    single.fill(0x2a);
    for (const buffer of batched) buffer.fill(0x2a);
    assert.deepEqual(await Promise.all(appends), [0, [0, 1]]);
    const stored: string[] = [];
    for (const partition of [0, 1]) for await (const record of mgr.read('t', partition)) stored.push(Buffer.from(record.data).toString());
    assert.deepEqual(stored, ['single, as given', 'first of batch', 'second of batch']);
  } finally {
    await mgr.close();
  }
});

test('hostile topic names and partitions are rejected and create nothing', async () => {
  const outer = freshDir();
  const dir = join(outer, 'inside');
  const mgr = await WalManager.open({ dir, retentionIntervalMs: 0 });
  const before = readdirSync(dir).sort();
  const hostile: [unknown, unknown][] = [
    ['../x', 0],
    ['a/b', 0],
    ['', 0],
    ['x'.repeat(250), 0],
    ['ünïcode', 0],
    ['..', 0],
    ['.', 0],
    ['~manager', 0],
    ['ok', -1],
    ['ok', 1.5],
    ['ok', 65_536],
    ['ok', '0'],
  ];
  for (const [topic, partition] of hostile) {
    await assert.rejects(
      mgr.append(topic as string, partition as number, 'x'),
      (error: unknown) => error instanceof WalError && error.code === 'INVALID_ARGUMENT',
      `${String(topic)} ${String(partition)}`,
    );
    assert.throws(() => mgr.read(topic as string, partition as number), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => mgr.tail(topic as string, partition as number), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => mgr.readBlocks(topic as string, partition as number), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(mgr.log(topic as string, partition as number), { code: 'INVALID_ARGUMENT' });
  }
  assert.deepEqual(readdirSync(dir).sort(), before);
  assert.deepEqual(readdirSync(outer), ['inside']);
  assert.equal(existsSync(join(outer, 'x')), false);
  assert.deepEqual(mgr.topics(), []);
  await mgr.close();
});

test('bad records for a partition that does not exist yet are rejected and create nothing', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({
    dir,
    fsync: 'os',
    retentionIntervalMs: 0,
    maxRecordBytes: 100,
    // One topic takes larger records: the check uses the log's own limits.
    logOptions: (topic) => (topic === 'big' ? { maxRecordBytes: 1000, maxPendingBytes: 4096 } : {}),
  });
  try {
    const before = readdirSync(dir).sort();
    const bad: [string, unknown][] = [
      ['empty string', ''],
      ['empty buffer', Buffer.alloc(0)],
      ['a number', 7],
      ['null', null],
      ['too large', Buffer.alloc(101)],
      ['empty batch', []],
      ['a batch with a bad record', ['ok', '']],
      ['a batch with a record too large', ['ok', 'x'.repeat(101)]],
    ];
    for (const [name, records] of bad) {
      await assert.rejects(mgr.append('orders', 0, records as string), { code: 'INVALID_ARGUMENT' }, name);
    }
    await assert.rejects(mgr.append('big', 0, Buffer.alloc(1001)), { code: 'INVALID_ARGUMENT', message: /maximum is 1000 bytes/ });
    await assert.rejects(mgr.append('big', 0, Array.from({ length: 8 }, () => Buffer.alloc(1000))), { code: 'INVALID_ARGUMENT', message: /maxPendingBytes/ });
    assert.deepEqual(readdirSync(dir).sort(), before, 'no topic or partition folder was made');
    assert.deepEqual(mgr.topics(), []);
    // Good records create the partitions, with the log's own limits.
    assert.equal(await mgr.append('big', 0, Buffer.alloc(1000)), 0);
    assert.deepEqual(await mgr.append('orders', 0, ['a', 'b']), [0, 1]);
    await assert.rejects(mgr.append('orders', 0, Buffer.alloc(101)), { code: 'INVALID_ARGUMENT' }, 'an existing log checks too');
    assert.deepEqual(mgr.topics(), ['big', 'orders']);
  } finally {
    await mgr.close();
  }
});

test('reading a partition that does not exist creates nothing and answers as an empty log; a tail creates it, as an append does', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, fsync: 'os', retentionIntervalMs: 0 });
  try {
    mgr.read('ghost', 7);
    mgr.readBlocks('ghost', 8);
    mgr.tail('ghost', 9);
    assert.deepEqual(mgr.topics(), [], 'a reader that is never iterated creates nothing');
    const records = [];
    for await (const record of mgr.read('ghost', 7)) records.push(record);
    for await (const block of mgr.readBlocks('ghost', 8)) records.push(block);
    assert.deepEqual(records, []);
    await assert.rejects(drain(mgr.read('ghost', 7, { from: 5 })), { code: 'OFFSET_OUT_OF_RANGE', message: /\[0, 0\)/ });
    await assert.rejects(drain(mgr.readBlocks('ghost', 7, { from: 0 })), { code: 'OFFSET_OUT_OF_RANGE' });
    assert.throws(() => mgr.read('ghost', 7, { from: -1 }), { code: 'INVALID_ARGUMENT' });
    assert.deepEqual(mgr.topics(), []);
    assert.equal(existsSync(join(dir, 'ghost')), false, 'no folder was made');
    // An existing partition answers from its own log.
    await mgr.append('ghost', 7, 'a');
    const read = [];
    for await (const record of mgr.read('ghost', 7, { from: 0 })) read.push(record.data.toString());
    assert.deepEqual(read, ['a']);
    const controller = new AbortController();
    const tail = mgr.tail('ghost', 9, { signal: controller.signal })[Symbol.asyncIterator]();
    const first = tail.next();
    await waitUntil(() => mgr.partitions('ghost').includes(9));
    assert.equal(await mgr.append('ghost', 9, 'b'), 0);
    assert.equal((await first).value?.data.toString(), 'b');
    controller.abort();
    await tail.return?.();
  } finally {
    await mgr.close();
  }
});

async function drain(iterable: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of iterable);
}

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 500 && !condition(); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), 'the condition came true within 5 s');
}

test('open logs stay within maxOpenLogs while idle logs are evicted and reopened', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, fsync: 'os', maxOpenLogs: 3, retentionIntervalMs: 0 });
  for (let round = 0; round < 3; round += 1) {
    for (let partition = 0; partition < 10; partition += 1) {
      assert.equal(await mgr.append('t', partition, `r${round}`), round);
      assert.ok(mgr.openLogCount <= 3, `open logs ${mgr.openLogCount}`);
    }
  }
  // Concurrent appends to more partitions than the bound all succeed.
  await Promise.all(Array.from({ length: 10 }, (_, partition) => mgr.append('t', partition, 'r3')));
  for (let partition = 0; partition < 10; partition += 1) {
    const data: string[] = [];
    for await (const record of mgr.read('t', partition)) data.push(record.data.toString());
    assert.deepEqual(data, ['r0', 'r1', 'r2', 'r3']);
    const scanned: string[] = [];
    for await (const block of mgr.readBlocks('t', partition, { from: 1 })) {
      for (let index = 0; index < block.count; index += 1) scanned.push(`${block.firstOffset + index}:${block.data(index).toString()}`);
    }
    assert.deepEqual(scanned, ['1:r1', '2:r2', '3:r3']);
  }
  assert.ok(mgr.openLogCount <= 3);
  await mgr.close();
});

test('an append whose log must open while every open log is in use waits for one to come free, and opens beyond the bound only when none does, with one warning', async () => {
  const dir = freshDir();
  const warnings: Array<{ object: object; message: string | undefined }> = [];
  const logger = { debug() {}, info() {}, error() {}, warn: (object: object, message?: string) => void warnings.push({ object, message }) };
  const mgr = await WalManager.open({ dir, fsync: 'os', maxOpenLogs: 4, retentionIntervalMs: 0, logger });
  try {
    // Four logs held in use (as a long read or a slow withLog holds them).
    const holds = Array.from({ length: 4 }, () => gate());
    const held = holds.map((hold, partition) => mgr.withLog('t', partition, () => hold.opened));
    await until(() => mgr.openLogCount === 4);
    const waiting = mgr.append('t', 4, 'waits');
    assert.equal(await within(waiting, 100), 'timeout', 'the append waits for room');
    assert.equal(mgr.openLogCount, 4);
    assert.equal(existsSync(join(dir, 't', '4')), false, 'its log is not opened yet');
    holds[0]?.open();
    assert.equal(await waiting, 0);
    assert.ok(mgr.openLogCount <= 4, `the idle log made room: ${mgr.openLogCount} open`);
    // Logs held for good (consumers, tails) do not stall it for ever: it opens beyond the bound.
    const holdAgain = gate();
    held.push(mgr.withLog('t', 4, () => holdAgain.opened));
    holds.push(holdAgain);
    await until(() => mgr.openLogCount === 4);
    const started = performance.now();
    assert.equal(await mgr.append('t', 5, 'goes beyond'), 0);
    assert.ok(performance.now() - started >= ROOM_WAIT_MS_MAX - 5, 'it waited for a log to come free first');
    const full = warnings.filter(({ message }) => message?.includes('beyond maxOpenLogs') === true);
    assert.equal(full.length, 1, 'the wait that timed out is logged');
    assert.match(full[0]?.message ?? '', /raise maxOpenLogs above the number of logs held at once/);
    assert.equal((full[0]?.object as { maxOpenLogs?: number }).maxOpenLogs, 4);
    assert.equal(await mgr.append('t', 6, 'beyond again'), 0);
    assert.equal(warnings.filter(({ message }) => message?.includes('beyond maxOpenLogs') === true).length, 1, 'once per manager');
    for (const hold of holds) hold.open();
    await Promise.all(held);
  } finally {
    await mgr.close();
  }
});

test('a second manager on the same folder fails with LOCKED', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, retentionIntervalMs: 0 });
  await assert.rejects(WalManager.open({ dir, retentionIntervalMs: 0 }), (error: unknown) => {
    assert.equal((error as { code?: string }).code, 'LOCKED');
    assert.equal((error as Error).message, `Cannot open manager in ${dir}: it is already open (by this process); close the other owner first`);
    return true;
  });
  await mgr.close();
  const again = await WalManager.open({ dir, retentionIntervalMs: 0 });
  await again.close();
});

test('bad options are rejected before anything is created', async () => {
  const dir = freshDir();
  await assert.rejects(WalManager.open({ dir, maxOpenLogs: 0 }), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(WalManager.open({ dir, bogus: 1 } as never), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(WalManager.open({ dir, retention: { maxBytes: -1 } }), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(WalManager.open({ dir, retention: [] as never }), { code: 'INVALID_ARGUMENT', message: /option "retention" must be an object/ });
  await assert.rejects(WalManager.open({ dir, fsync: 'never' as never }), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(WalManager.open({ dir, syncStream: 'both' as never }), { code: 'INVALID_ARGUMENT', message: /syncStream/ });
  await assert.rejects(WalManager.open({ dir, journalCheckpointBytes: 0 }), { code: 'INVALID_ARGUMENT', message: /journalCheckpointBytes/ });
  // Messages name the manager, and the known options include its own.
  await assert.rejects(WalManager.open({ dir, maxPartitons: 3 } as never), {
    code: 'INVALID_ARGUMENT',
    message: /^Cannot open manager: unknown option "maxPartitons"; known options are dir, maxPartitions, /,
  });
  await assert.rejects(WalManager.open({ dir, fileSystem: {} as never }), { code: 'INVALID_ARGUMENT', message: /^Cannot open manager: option "fileSystem" must have the methods/ });
  await assert.rejects(WalManager.open({ dir, logger: {} as never }), { code: 'INVALID_ARGUMENT', message: /"logger" must have the methods/ });
  await assert.rejects(WalManager.open({ dir: `${dir}\0x` }), { code: 'INVALID_ARGUMENT', message: /NUL/ });
  assert.equal(existsSync(dir), false);
});

test('a bad tail, read or withLog call is refused at the call, before its partition is created', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, retentionIntervalMs: 0 });
  for (const options of [{ from: -1 }, { signal: {} }, null, { frm: 0 }]) {
    assert.throws(() => mgr.tail('new', 2, options as never), { code: 'INVALID_ARGUMENT' }, JSON.stringify(options));
  }
  for (const options of [{ from: -1 }, { to: 1.5 }, { from: 3, to: 1 }, null, { frm: 0 }]) {
    assert.throws(() => mgr.read('new', 2, options as never), { code: 'INVALID_ARGUMENT' }, `read ${JSON.stringify(options)}`);
    assert.throws(() => mgr.readBlocks('new', 2, options as never), { code: 'INVALID_ARGUMENT' }, `readBlocks ${JSON.stringify(options)}`);
  }
  await assert.rejects(mgr.withLog('new', 1, 'not a function' as never), { code: 'INVALID_ARGUMENT', message: /use must be a function/ });
  assert.deepEqual(mgr.topics(), []);
  assert.equal(existsSync(join(dir, 'new')), false);
  await mgr.close();
});

test('an async logOptions, a retention guard no checkpoint can name, and a misspelt consume option are refused', async () => {
  const dir = freshDir();
  await assert.rejects(WalManager.open({ dir, retention: { checkpoint: 'c'.repeat(250) } }), { code: 'INVALID_ARGUMENT', message: /retention.checkpoint/ });
  const mgr = await WalManager.open({ dir, retentionIntervalMs: 0, logOptions: (async () => ({ segmentMaxRecords: 2 })) as never });
  await assert.rejects(mgr.append('t', 0, 'x'), { code: 'INVALID_ARGUMENT', message: /logOptions returned a Promise; it must return the options synchronously/ });
  assert.throws(() => mgr.consume({ group: 'g', topics: ['t'], form: 'latest' } as never), {
    code: 'INVALID_ARGUMENT',
    message: /unknown option "form"; known options are group, topics, from, batchSize, signal/,
  });
  await mgr.close();
});

test('mgr.log() checks logOptions as an append does: the message names the log, and the manager\'s own wiring cannot be set', async () => {
  const mgr = await WalManager.open({
    dir: freshDir(),
    fsync: 'os',
    retentionIntervalMs: 0,
    logOptions: (topic) => (topic === 'typo' ? { fsynk: 'os' } : topic === 'remedy' ? { closedRemedy: 'x' } : topic === 'journal' ? { journal: {} } : {}) as never,
  });
  for (const open of [(topic: string) => mgr.log(topic, 0), (topic: string) => mgr.append(topic, 0, 'x')]) {
    // The known options listed are what logOptions may set: retention yes; dir and maxOpenFiles, which it may not, no.
    await assert.rejects(open('typo'), {
      code: 'INVALID_ARGUMENT',
      message: /^Cannot open log typo\/0 \(logOptions\): unknown option "fsynk"; known options are fsync, segmentBytes, .*\bretention$/,
    });
    await assert.rejects(open('typo'), (error: Error) => !/\bdir\b|maxOpenFiles/.test(error.message));
    await assert.rejects(open('remedy'), { code: 'INVALID_ARGUMENT', message: /^Cannot open log remedy\/0: logOptions may not set "closedRemedy"/ });
    await assert.rejects(open('journal'), { code: 'INVALID_ARGUMENT', message: /^Cannot open log journal\/0: logOptions may not set "journal"/ });
  }
  assert.deepEqual(mgr.topics(), [], 'no refused log left a topic behind');
  await mgr.close();
});

test('a manager folder that is a file is INVALID_ARGUMENT; one that cannot be made for an I/O error is a WalIOError, the errno error as cause', async () => {
  const file = join(freshDir() + '-file');
  writeFileSync(file, 'not a folder');
  for (const dir of [file, join(file, 'below')]) {
    await assert.rejects(WalManager.open({ dir }), (error: unknown) => {
      assert.ok(error instanceof WalError);
      assert.equal(error.code, 'INVALID_ARGUMENT');
      assert.equal((error.cause as NodeJS.ErrnoException).code, 'ENOTDIR');
      assert.match(error.message, /^Cannot open manager in .*: it, or a folder above it, is not a folder but a file or a symlink to nothing \(ENOTDIR\); give the path of a folder, new or existing$/);
      return true;
    });
  }
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  faulty.arm({ call: 'syncDir', code: 'EIO' });
  await assert.rejects(WalManager.open({ dir: freshDir(), fileSystem: faulty }), (error: unknown) => {
    assert.ok(error instanceof WalIOError);
    assert.equal(error.code, 'WAL_FAILED');
    assert.equal((error.cause as NodeJS.ErrnoException).code, 'EIO');
    assert.match(error.message, /^Cannot open manager in .*: EIO.*; the device reported an I\/O error: check the disk and the system log \(dmesg\) before opening again$/);
    return true;
  });
});

test('per-log options override the defaults', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({
    dir,
    fsync: 'os',
    retentionIntervalMs: 0,
    logOptions: (topic) => (topic === 'small' ? { segmentMaxRecords: 2 } : {}),
  });
  for (const data of ['a', 'b', 'c', 'd', 'e']) {
    await mgr.append('small', 0, data);
    await mgr.append('big', 0, data);
  }
  assert.equal((await mgr.withLog('small', 0, (wal) => wal.segments())).length, 3);
  assert.equal((await mgr.withLog('big', 0, (wal) => wal.segments())).length, 1);
  await mgr.close();
});

test('calls after close reject with WAL_CLOSED', async () => {
  const mgr = await WalManager.open({ dir: freshDir(), retentionIntervalMs: 0 });
  await mgr.append('t', 0, 'x');
  const readMadeBeforeClose = mgr.read('t', 0);
  await mgr.close();
  await assert.rejects(mgr.append('t', 0, 'y'), { code: 'WAL_CLOSED' });
  await assert.rejects(async () => {
    for await (const record of readMadeBeforeClose) void record;
  }, { code: 'WAL_CLOSED' });
  assert.throws(() => mgr.read('t', 0), { code: 'WAL_CLOSED' });
  // The message names what is closed and how to go on.
  assert.throws(() => mgr.topics(), { code: 'WAL_CLOSED', message: /^Cannot list topics: the manager is closed; open it again with WalManager\.open\(\)$/ });
  await assert.rejects(async () => mgr.checkpoints.commit('c', {}), { code: 'WAL_CLOSED' });
  assert.throws(() => mgr.checkpoints.get('c'), { code: 'WAL_CLOSED', message: /^Cannot get checkpoint: the manager is closed/ });
  assert.throws(() => mgr.checkpoints.list(), { code: 'WAL_CLOSED', message: /^Cannot list checkpoints: the manager is closed/ });
});

test('a tail on a partition ends when the manager closes', async () => {
  const mgr = await WalManager.open({ dir: freshDir(), fsync: 'os', retentionIntervalMs: 0 });
  await mgr.append('t', 0, 'first');
  const seen: string[] = [];
  const tailing = (async () => {
    for await (const record of mgr.tail('t', 0, { from: 0 })) {
      seen.push(record.data.toString());
      if (seen.length === 1) void mgr.append('t', 0, 'second');
    }
  })();
  while (seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  await mgr.close();
  await tailing;
  assert.deepEqual(seen, ['first', 'second']);
});

test('a tail still catching up over many segments ends cleanly when the manager closes', async () => {
  const mgr = await WalManager.open({ dir: freshDir(), fsync: 'os', segmentMaxRecords: 10, retentionIntervalMs: 0 });
  for (let index = 0; index < 100; index++) await mgr.append('t', 0, `r${index}`);
  const offsets: number[] = [];
  for await (const record of mgr.tail('t', 0, { from: 0 })) {
    offsets.push(record.offset);
    if (offsets.length === 5) await mgr.close();
  }
  assert.deepEqual(offsets, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'the records of the segment it had open, then the end');
});

test('append() to a log whose options are refused rejects with that INVALID_ARGUMENT, twice, and the manager keeps working', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({
    dir,
    fsync: 'os',
    retentionIntervalMs: 0,
    logOptions: (topic) => (topic === 'bad' ? ({ dir: 'elsewhere' } as never) : {}),
  });
  try {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      await assert.rejects(mgr.append('bad', 0, 'x'), (error: unknown) => error instanceof WalError && error.code === 'INVALID_ARGUMENT');
    }
    assert.equal(await mgr.append('good', 0, 'y'), 0);
  } finally {
    await mgr.close();
  }
});

test('a bad partition on a new topic changes nothing: the topic is not listed', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, fsync: 'os', retentionIntervalMs: 0 });
  try {
    await assert.rejects(mgr.append('fresh', -1, 'x'), (error: unknown) => error instanceof WalError && error.code === 'INVALID_ARGUMENT');
    assert.deepEqual(mgr.topics(), []);
    assert.equal(existsSync(join(dir, 'fresh')), false);
  } finally {
    await mgr.close();
  }
});

test('mgr.log() hands out an open Wal even when every other open log is in use (the pool goes one over its bound)', async () => {
  for (const fsync of ['always', 'os'] as const) {
    const mgr = await WalManager.open({ dir: freshDir(), fsync, maxOpenLogs: 2, retentionIntervalMs: 0 });
    const controller = new AbortController();
    // Two tails keep t/0 and t/1 in use.
    const tails = [0, 1].map((partition) => mgr.tail('t', partition, { signal: controller.signal })[Symbol.asyncIterator]().next());
    while (mgr.partitions('t').length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    const wal = await mgr.log('t', 2);
    assert.equal(wal.state, 'open', `under ${fsync}, the Wal just handed out is open`);
    assert.equal((await wal.append('x')).offset, 0);
    // Once a tail lets its log go, the pool shrinks back to its bound.
    controller.abort();
    await Promise.all(tails);
    await mgr.log('t', 3);
    await mgr.close();
  }
});

test("a log recovered after a crash syncs the topic folder's name into the manager folder; a clean reopen does not", async () => {
  const dir = freshDir();
  const live = await WalManager.open({ dir, fsync: 'always', retentionIntervalMs: 0 });
  await live.append('t', 0, 'acknowledged');
  // A process killed right after creating t/0 may have left the name "t" unsynced.
  const crashed = copyLiveFolder(dir, freshDir);
  await live.close();
  for (const [image, clean] of [[crashed, false], [dir, true]] as const) {
    const faulty = new FaultyFileSystem(new NodeFileSystem());
    const reopened = await WalManager.open({ dir: image, fsync: 'always', retentionIntervalMs: 0, fileSystem: faulty });
    try {
      const syncsBefore = faulty.countsFor(exactPath(image)).syncDir;
      const wal = await reopened.log('t', 0);
      assert.equal(wal.recovery.clean, clean);
      assert.equal(faulty.countsFor(exactPath(image)).syncDir - syncsBefore, clean ? 0 : 1, clean ? 'a clean log needs no folder sync' : 'the recovered log synced the manager folder');
      const read: string[] = [];
      for await (const record of reopened.read('t', 0)) read.push(record.data.toString());
      assert.deepEqual(read, ['acknowledged']);
    } finally {
      await reopened.close();
    }
  }
});

test('a partition folder a killed process left empty gets its topic folder synced when its log is created there', async () => {
  const dir = freshDir();
  const first = await WalManager.open({ dir, fsync: 'always', retentionIntervalMs: 0 });
  await first.append('t', 0, 'x');
  await first.close();
  // Killed after creating t/1, before any sync: the next manager lists the partition but finds no segment.
  mkdirSync(join(dir, 't', '1'));
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const reopened = await WalManager.open({ dir, fsync: 'always', retentionIntervalMs: 0, fileSystem: faulty });
  try {
    assert.deepEqual(reopened.partitions('t'), [0, 1]);
    const syncsBefore = faulty.countsFor(exactPath(dir)).syncDir;
    const wal = await reopened.log('t', 1);
    assert.equal(wal.recovery.created, true);
    assert.equal(faulty.countsFor(exactPath(dir)).syncDir - syncsBefore, 1, "the manager folder, which holds the topic's name, was synced");
  } finally {
    await reopened.close();
  }
});

test('a folder named like a partition but not the canonical way is ignored with a warning, not silently', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, retentionIntervalMs: 0 });
  await mgr.append('t', 7, 'seven');
  await mgr.close();
  mkdirSync(join(dir, 't', '007'));
  mkdirSync(join(dir, 't', '-1'));
  mkdirSync(join(dir, 't', 'notes'));
  const warned: string[] = [];
  const ignore = (): void => {};
  const logger = { debug: ignore, info: ignore, error: ignore, warn: (fields: object, message?: string) => warned.push(`${(fields as { folder?: string }).folder}: ${message}`) };
  const reopened = await WalManager.open({ dir, retentionIntervalMs: 0, logger });
  assert.deepEqual(reopened.partitions('t'), [7]);
  assert.deepEqual(warned.sort(), [
    '-1: folder named like a partition ignored: partitions are folders named 0, 1, 2, ... (no sign, no leading zero)',
    '007: folder named like a partition ignored: partitions are folders named 0, 1, 2, ... (no sign, no leading zero)',
  ]);
  await reopened.close();
});

test("a copy of a live manager's folder, LOCK files included (a backup), opens with its records and checkpoints while the original stays locked", async () => {
  const dir = freshDir();
  const live = await WalManager.open({ dir, fsync: 'always', retentionIntervalMs: 0 });
  try {
    for (let index = 0; index < 9; index += 1) await live.append('t', index % 3, recordFor('t', index % 3, index));
    await live.checkpoints.commit('g', { 't/0': 2 });
    const copy = freshDir();
    cpSync(dir, copy, { recursive: true });
    const copied = await WalManager.open({ dir: copy, fsync: 'always', retentionIntervalMs: 0 });
    try {
      assert.deepEqual(copied.partitions('t'), [0, 1, 2]);
      assert.deepEqual(await copied.checkpoints.get('g'), { 't/0': 2 });
      for (const partition of [0, 1, 2]) {
        const read: string[] = [];
        for await (const record of copied.read('t', partition)) read.push(record.data.toString());
        assert.deepEqual(read, [0, 1, 2].map((round) => recordFor('t', partition, round * 3 + partition)));
      }
    } finally {
      await copied.close();
    }
    await assert.rejects(WalManager.open({ dir }), (error: unknown) => error instanceof WalError && error.code === 'LOCKED');
  } finally {
    await live.close();
  }
});

test('a tail, a read and a scan of the manager go on over a Wal that a caller of mgr.log() closed: no record missed, none twice, the read within its first bounds', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, fsync: 'os', segmentMaxRecords: 3, retentionIntervalMs: 0 });
  try {
    for (let index = 0; index < 10; index += 1) await mgr.append('t', 0, recordFor('t', 0, index));
    const controller = new AbortController();
    const tailed: string[] = [];
    const tail = (async () => {
      for await (const record of mgr.tail('t', 0, { signal: controller.signal })) tailed.push(record.data.toString());
    })();
    const read: string[] = [];
    const readOffsets: number[] = [];
    const scanned: number[] = [];
    const reader = mgr.read('t', 0)[Symbol.asyncIterator]();
    const scanner = mgr.readBlocks('t', 0)[Symbol.asyncIterator]();
    for (let step = 0; step < 3; step += 1) {
      const next = await reader.next();
      assert.equal(next.done, false);
      read.push(next.value.data.toString());
      readOffsets.push(next.value.offset);
    }
    const firstBlock = await scanner.next();
    assert.equal(firstBlock.done, false);
    for (let index = 0; index < firstBlock.value.count; index += 1) scanned.push(firstBlock.value.firstOffset + index);
    await mgr.append('t', 0, recordFor('t', 0, 10));
    await until(() => tailed.length === 1);
    // The user's close: the pool opens the log again on its next use.
    await (await mgr.log('t', 0)).close();
    await mgr.append('t', 0, recordFor('t', 0, 11));
    await until(() => tailed.length === 2);
    for (let next = await reader.next(); next.done !== true; next = await reader.next()) {
      read.push(next.value.data.toString());
      readOffsets.push(next.value.offset);
    }
    for (let next = await scanner.next(); next.done !== true; next = await scanner.next()) {
      for (let index = 0; index < next.value.count; index += 1) scanned.push(next.value.firstOffset + index);
    }
    controller.abort();
    await tail;
    assert.deepEqual(tailed, [10, 11].map((index) => recordFor('t', 0, index)), 'the tail went on after the close');
    assert.deepEqual(read, Array.from({ length: 10 }, (_, index) => recordFor('t', 0, index)), 'the read ended where the log ended when it began');
    assert.deepEqual(readOffsets, Array.from({ length: 10 }, (_, index) => index));
    assert.deepEqual(scanned, Array.from({ length: 10 }, (_, index) => index), 'the scan too');
  } finally {
    await mgr.close();
  }
});

test('mgr.openChannel pins its log while a producer appends through it: appends to other partitions never close it; closing the channel gives it back to the pool', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, fsync: 'os', maxOpenLogs: 1, retentionIntervalMs: 0 });
  try {
    await assert.rejects(mgr.openChannel('bad', 0, { ringBytes: 3 }), (error: unknown) => error instanceof WalError && error.code === 'INVALID_ARGUMENT' && /ringBytes must be a multiple of 8/.test(error.message));
    assert.equal(existsSync(join(dir, 'bad')), false, 'a refused channel creates no partition');
    const channel = await mgr.openChannel('t', 0, { ringBytes: 4096 });
    const appender = SharedAppender.attach(channel.handle);
    for (let index = 0; index < 20; index += 1) {
      // With maxOpenLogs 1, each of these would close t/0 if it were idle.
      assert.equal(await mgr.append('t', 1 + (index % 3), 'other'), Math.floor(index / 3));
      assert.equal((await appender.append(recordFor('t', 0, index))).offset, index);
    }
    appender.close();
    await channel.close();
    await mgr.append('t', 1, 'evicts the idle t/0');
    assert.ok(mgr.openLogCount <= 2, `t/0 went back to the pool: ${mgr.openLogCount} open`);
    const read: string[] = [];
    for await (const record of mgr.read('t', 0)) read.push(record.data.toString());
    assert.deepEqual(read, Array.from({ length: 20 }, (_, index) => recordFor('t', 0, index)));
    // mgr.close() ends a channel still open.
    const open = await mgr.openChannel('t', 2);
    const late = SharedAppender.attach(open.handle);
    await mgr.close();
    await assert.rejects(late.append('after close'), (error: unknown) => error instanceof WalError && error.code === 'WAL_CLOSED');
  } finally {
    await mgr.close();
  }
});
