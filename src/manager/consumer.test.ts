import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsumerRecord } from './consumer.js';
import { WalManager } from './wal-manager.js';
import { FaultyFileSystem, exactPath } from '../io/faulty-file-system.js';
import { NodeFileSystem } from '../io/node-file-system.js';
import { join } from 'node:path';
import { gate } from '../../test/gate.js';
import { until } from '../../test/within.js';
import { freshFolders } from '../../test/temp-folders.js';
import { forgetCleanShutdown, frameAt, lastSegmentPath } from '../../test/corruption/damage.js';
import { truncateSync } from 'node:fs';
import { getEventListeners } from 'node:events';
import v8 from 'node:v8';
import vm from 'node:vm';

const freshDir = freshFolders('tidewal-consumer-');

function label(record: ConsumerRecord): string {
  return `${record.topic}/${record.partition}@${record.offset}`;
}

test('a consumer takes turns across partitions in batches', async () => {
  const mgr = await WalManager.open({ dir: freshDir(), fsync: 'os', retentionIntervalMs: 0 });
  // One busy partition and three quiet ones.
  await mgr.append('t', 0, Array.from({ length: 400 }, (_, index) => `busy${index}`));
  for (let partition = 1; partition < 4; partition += 1) await mgr.append('t', partition, ['q0', 'q1', 'q2']);
  const consumer = mgr.consume({ group: 'g', topics: ['t'], from: 'earliest', batchSize: 10 });
  const partitionsOfFirst: number[] = [];
  for await (const record of consumer) {
    partitionsOfFirst.push(record.partition);
    if (partitionsOfFirst.length === 40) break;
  }
  // Within the first 40 records every quiet partition has been served fully.
  for (let partition = 1; partition < 4; partition += 1) {
    assert.equal(partitionsOfFirst.filter((seen) => seen === partition).length, 3, `partition ${partition}`);
  }
  assert.ok(partitionsOfFirst.filter((seen) => seen === 0).length <= 31);
  await mgr.close();
});

test('a consumer delivers every record of every partition once, in order per partition, including new ones', async () => {
  const mgr = await WalManager.open({ dir: freshDir(), fsync: 'os', retentionIntervalMs: 0 });
  await mgr.append('a', 0, ['a0', 'a1']);
  await mgr.append('b', 0, ['b0']);
  const consumer = mgr.consume({ group: 'g', topics: ['a', 'b'], batchSize: 1 });
  const seen: string[] = [];
  const expectedCount = 2 + 1 + 50 + 20;
  const consuming = (async () => {
    for await (const record of consumer) {
      seen.push(label(record));
      if (seen.length === expectedCount) break;
    }
  })();
  // Appends while consuming, including to a partition that did not exist at start.
  for (let index = 0; index < 50; index += 1) await mgr.append('a', index % 2, `x${index}`);
  await mgr.append('b', 3, Array.from({ length: 20 }, (_, index) => `n${index}`));
  await consuming;
  assert.equal(new Set(seen).size, expectedCount, 'no duplicates');
  for (const key of ['a/0', 'a/1', 'b/0', 'b/3']) {
    const offsets = seen.filter((entry) => entry.startsWith(`${key}@`)).map((entry) => Number(entry.split('@')[1]));
    assert.deepEqual(offsets, [...offsets].sort((left, right) => left - right), key);
    assert.equal(offsets[0], 0, key);
  }
  await mgr.close();
});

test('a running consumer whose unread records retention deletes goes on from the log start with a warning, as a restarted one would', async () => {
  const warnings: object[] = [];
  const ignore = (): void => {};
  const logger = { debug: ignore, info: ignore, error: ignore, warn: (object: object) => void warnings.push(object) };
  const mgr = await WalManager.open({ dir: freshDir(), fsync: 'os', segmentMaxRecords: 10, retentionIntervalMs: 0, logger });
  try {
    // Records large enough that the reader's blocks hold part of a segment, not the whole log.
    for (let index = 0; index < 50; index++) await mgr.append('t', 0, Buffer.alloc(300 * 1024, index));
    const consumer = mgr.consume({ group: 'g', topics: ['t'], from: 'earliest', batchSize: 1 });
    const offsets: number[] = [];
    for await (const record of consumer) {
      offsets.push(record.offset);
      // A retention without this group's guard removes the segments below 30 under the running consumer.
      if (offsets.length === 1) await mgr.withLog('t', 0, (wal) => wal.truncateBefore(30));
      if (record.offset === 49) break;
    }
    const firstAfterSkip = offsets.indexOf(30);
    assert.ok(firstAfterSkip > 0, `the consumer reached offset 30: ${offsets.join(',')}`);
    // What it read before the deletion reached it is a run from 0; then it goes on at 30.
    assert.deepEqual(offsets.slice(0, firstAfterSkip), Array.from({ length: firstAfterSkip }, (_, index) => index));
    assert.deepEqual(offsets.slice(firstAfterSkip), Array.from({ length: 20 }, (_, index) => 30 + index));
    assert.ok(firstAfterSkip < 30, 'some records were deleted before the consumer got to them');
    assert.deepEqual(consumer.positions(), { 't/0': 50 });
    assert.ok(warnings.some((warning) => (warning as { key?: string }).key === 't/0'), 'the skip is logged');
  } finally {
    await mgr.close();
  }
});

test('a consumer follows a partition on when the user closes the Wal that mgr.log() gave: the log reopens and nothing stalls', async () => {
  const mgr = await WalManager.open({ dir: freshDir(), fsync: 'os', retentionIntervalMs: 0 });
  try {
    await mgr.append('t', 0, 'a0');
    await mgr.append('t', 1, 'a1');
    const consumer = mgr.consume({ group: 'g', topics: ['t'], from: 'earliest', batchSize: 1 });
    const seen: string[] = [];
    for await (const record of consumer) {
      seen.push(`${label(record)}:${record.data.toString()}`);
      if (seen.length === 2) {
        await (await mgr.log('t', 0)).close();
        await mgr.append('t', 0, 'b0');
        await mgr.append('t', 1, 'b1');
      }
      if (seen.length === 4) break;
    }
    assert.deepEqual(seen.sort(), ['t/0@0:a0', 't/0@1:b0', 't/1@0:a1', 't/1@1:b1']);
    assert.deepEqual(consumer.positions(), { 't/0': 2, 't/1': 2 });
  } finally {
    await mgr.close();
  }
});

test('a consumer catching up over many segments follows on when the user closes the Wal under it', async () => {
  const mgr = await WalManager.open({ dir: freshDir(), fsync: 'os', segmentMaxRecords: 10, retentionIntervalMs: 0 });
  try {
    for (let index = 0; index < 100; index++) await mgr.append('t', 0, `r${index}`);
    const consumer = mgr.consume({ group: 'g', topics: ['t'], from: 'earliest', batchSize: 4 });
    const seen: string[] = [];
    for await (const record of consumer) {
      seen.push(`${record.offset}:${record.data.toString()}`);
      if (seen.length === 5) await (await mgr.log('t', 0)).close();
      if (seen.length === 100) break;
    }
    assert.deepEqual(seen, Array.from({ length: 100 }, (_, offset) => `${offset}:r${offset}`));
  } finally {
    await mgr.close();
  }
});

test('a consumer hands out what a failed partition acknowledged before it fails with that failure', async () => {
  const dir = freshDir();
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const mgr = await WalManager.open({ dir, fsync: 'os', fileSystem: faulty, retentionIntervalMs: 0 });
  try {
    for (let index = 0; index < 20; index++) await mgr.append('t', 0, `r${index}`);
    faulty.arm({ call: 'write', code: 'EIO', times: Infinity, path: exactPath(join(dir, 't', '0', '00000000000000000000.wal')) });
    await assert.rejects(mgr.append('t', 0, 'lost'), { code: 'WAL_FAILED' });
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const record of mgr.consume({ group: 'g', topics: ['t'], from: 'earliest' })) seen.push(`${record.offset}:${record.data.toString()}`);
      })(),
      { code: 'WAL_FAILED' },
    );
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, offset) => `${offset}:r${offset}`));
  } finally {
    await mgr.close().catch(() => {});
  }
});

test('mgr.close() while a consumer is still opening its partitions ends the iteration cleanly', async () => {
  const dir = freshDir();
  const setup = await WalManager.open({ dir, fsync: 'os', retentionIntervalMs: 0 });
  for (let partition = 0; partition < 8; partition++) await setup.append('t', partition, `r${partition}`);
  await setup.close();
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const mgr = await WalManager.open({ dir, fsync: 'os', retentionIntervalMs: 0, fileSystem: faulty });
  // The consumer's start-up opens partition after partition; the open of t/5 is held.
  const openGate = gate();
  faulty.arm({ call: 'open', path: exactPath(join(dir, 't', '5', 'LOCK')), until: openGate.opened });
  const consumer = mgr.consume({ group: 'g', topics: ['t'], from: 'earliest' });
  const iteration = (async () => {
    let count = 0;
    for await (const record of consumer) count += record.offset >= 0 ? 1 : 0;
    return count;
  })();
  await until(() => faulty.fired.length === 1);
  const closing = mgr.close();
  openGate.open();
  assert.equal(await iteration, 0, 'the iteration ends without an error and without records');
  await closing;
});

test("a checkpoint past a log's end (unsynced records a power cut took) resumes at the log's end, not with an error", async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, fsync: 'os', retentionIntervalMs: 0 });
  for (let index = 0; index < 10; index++) await mgr.append('t', 0, `r${index}`);
  await mgr.checkpoints.commit('g', { 't/0': 10 });
  await mgr.close();
  // What a power cut leaves under 'os': the last four records never reached the disk.
  const partitionDir = join(dir, 't', '0');
  forgetCleanShutdown(partitionDir);
  const segment = lastSegmentPath(partitionDir);
  truncateSync(segment, frameAt(segment, 6).position);
  const warnings: string[] = [];
  const ignore = (): void => {};
  const logger = { debug: ignore, info: ignore, error: ignore, warn: (_fields: object, message?: string) => warnings.push(message ?? '') };
  const reopened = await WalManager.open({ dir, fsync: 'os', retentionIntervalMs: 0, logger });
  try {
    assert.equal((await reopened.log('t', 0)).nextOffset, 6);
    const consumer = reopened.consume({ group: 'g', topics: ['t'], from: 'checkpoint' });
    const iterator = consumer[Symbol.asyncIterator]();
    const first = iterator.next();
    await reopened.append('t', 0, 'after the cut');
    const record = (await first).value as ConsumerRecord;
    assert.equal(`${label(record)}:${record.data.toString()}`, 't/0@6:after the cut');
    assert.deepEqual(warnings, ['checkpoint past the log end; records were lost, resuming at the log end'], 'the clamp is not silent');
    await iterator.return?.();
  } finally {
    await reopened.close();
  }
});

test('a restarted consumer resumes from its last commit', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, fsync: 'always', retentionIntervalMs: 0 });
  for (let partition = 0; partition < 3; partition += 1) {
    await mgr.append('t', partition, Array.from({ length: 30 }, (_, index) => `p${partition}r${index}`));
  }
  const first = mgr.consume({ group: 'g', topics: ['t'], batchSize: 7 });
  const seenFirst: string[] = [];
  let committed: Readonly<Record<string, number>> = {};
  for await (const record of first) {
    seenFirst.push(label(record));
    if (seenFirst.length === 40) committed = await first.commit();
    if (seenFirst.length === 50) break; // ten more handed out, never committed
  }
  await mgr.close();

  const reopened = await WalManager.open({ dir, retentionIntervalMs: 0 });
  assert.deepEqual(reopened.checkpoints.get('g'), committed);
  const second = reopened.consume({ group: 'g', topics: ['t'], from: 'checkpoint' });
  const seenSecond: string[] = [];
  for await (const record of second) {
    seenSecond.push(label(record));
    if (seenSecond.length === 90 - 40) break;
  }
  await second.commit();
  // Every record is seen; the only duplicates are the ten handed out after the commit.
  const all = new Set([...seenFirst, ...seenSecond]);
  assert.equal(all.size, 90);
  const duplicates = seenSecond.filter((entry) => seenFirst.includes(entry));
  assert.deepEqual(duplicates.sort(), seenFirst.slice(40).sort());
  assert.deepEqual(reopened.checkpoints.get('g'), { 't/0': 30, 't/1': 30, 't/2': 30 });
  await reopened.close();
});

test("'latest' sees only records appended after start", async () => {
  const mgr = await WalManager.open({ dir: freshDir(), fsync: 'os', retentionIntervalMs: 0 });
  await mgr.append('t', 0, ['old']);
  const controller = new AbortController();
  const consumer = mgr.consume({ group: 'g', topics: ['t'], from: 'latest', signal: controller.signal });
  const seen: string[] = [];
  const consuming = (async () => {
    for await (const record of consumer) {
      seen.push(record.data.toString());
      controller.abort();
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 20));
  await mgr.append('t', 0, 'new');
  await consuming;
  assert.deepEqual(seen, ['new']);
  await mgr.close();
});

test('a signal aborted before iteration ends it cleanly; a consumer closed by close() refuses to iterate, and misused options are refused', async () => {
  const mgr = await WalManager.open({ dir: freshDir(), fsync: 'os', retentionIntervalMs: 0 });
  await mgr.append('t', 0, ['a', 'b']);
  const seen: string[] = [];
  for await (const record of mgr.consume({ group: 'g', topics: ['t'], from: 'earliest', signal: AbortSignal.abort() })) seen.push(record.data.toString());
  assert.deepEqual(seen, []);
  const closed = mgr.consume({ group: 'g', topics: ['t'] });
  await closed.close();
  await assert.rejects(async () => {
    for await (const record of closed) void record;
  }, { code: 'WAL_CLOSED', message: /the consumer is closed; start a new one with mgr\.consume\(\)/ });
  const bad: unknown[] = [
    null,
    { group: 5, topics: ['t'] },
    { group: 'g', topics: 't' },
    { group: 'g', topics: [] },
    { group: 'g', topics: ['t'], from: 'newest' },
    { group: 'g', topics: ['t'], batchSize: 0 },
    { group: 'g', topics: ['t'], batchSize: '64' },
    { group: 'g', topics: ['t'], signal: {} },
  ];
  for (const options of bad) assert.throws(() => mgr.consume(options as never), { code: 'INVALID_ARGUMENT' }, JSON.stringify(options));
  // One iteration at a time.
  const consumer = mgr.consume({ group: 'g2', topics: ['t'], from: 'earliest' });
  const first = consumer[Symbol.asyncIterator]();
  assert.equal((await first.next()).done, false);
  await assert.rejects(consumer[Symbol.asyncIterator]().next(), { code: 'INVALID_ARGUMENT', message: /already being iterated/ });
  await first.return?.();
  await mgr.close();
});

test('a consumer whose partition log cannot open rejects with that error and skips nothing', async () => {
  const dir = freshDir();
  const writer = await WalManager.open({ dir, fsync: 'os', retentionIntervalMs: 0 });
  await writer.append('t', 0, ['a0', 'a1']);
  await writer.append('t', 1, ['b0']);
  await writer.close();
  // Partition 1's options are bad now, so its log cannot open.
  const mgr = await WalManager.open({ dir, fsync: 'os', retentionIntervalMs: 0, logOptions: (_topic, partition) => (partition === 1 ? { segmentBytes: -1 } : {}) });
  try {
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        // The signal ends a consumer that wrongly goes on without the partition, instead of a hang.
        for await (const record of mgr.consume({ group: 'g', topics: ['t'], from: 'earliest', signal: AbortSignal.timeout(5000) })) seen.push(label(record));
      })(),
      { code: 'INVALID_ARGUMENT', message: /segmentBytes/ },
    );
    assert.deepEqual(seen, [], 'no record was handed out while a partition was missing');
    assert.equal(mgr.checkpoints.get('g'), undefined);
    // The good partition was given back: it still reads and appends.
    assert.equal(await mgr.append('t', 0, 'a2'), 2);
  } finally {
    await mgr.close();
  }
});

test('bad consumer options are rejected', async () => {
  const mgr = await WalManager.open({ dir: freshDir(), retentionIntervalMs: 0 });
  assert.throws(() => mgr.consume({ group: '../g', topics: ['t'] }), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => mgr.consume({ group: 'g', topics: [] }), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => mgr.consume({ group: 'g', topics: ['a/b'] }), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => mgr.consume({ group: 'g', topics: ['t'], from: 'middle' as never }), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => mgr.consume({ group: 'g', topics: ['t'], batchSize: 0 }), { code: 'INVALID_ARGUMENT' });
  await mgr.close();
});

test('a log the manager refuses to open leaves no partition behind, and a running consumer goes on', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({
    dir,
    fsync: 'os',
    retentionIntervalMs: 0,
    logOptions: (_topic, partition) => (partition === 7 ? { segmentBytes: -1 } : {}),
  });
  await mgr.append('t', 0, 'r0');
  const consumer = mgr.consume({ group: 'g', topics: ['t'], from: 'earliest', batchSize: 1 });
  const seen: string[] = [];
  const consuming = (async () => {
    for await (const record of consumer) {
      seen.push(`${record.partition}:${record.data.toString()}`);
      if (seen.length === 2) break;
    }
  })();
  while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  await assert.rejects(mgr.log('t', 7), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(mgr.append('u', 7, 'x'), { code: 'INVALID_ARGUMENT' });
  assert.deepEqual(mgr.partitions('t'), [0], 'the refused partition is not listed');
  assert.deepEqual(mgr.topics(), ['t'], 'a topic whose only log was refused is not listed');
  await mgr.append('t', 0, 'r1');
  await consuming;
  assert.deepEqual(seen, ['0:r0', '0:r1'], 'the consumer went on past the refused log');
  await mgr.close();
});

test('a consumer over many partitions raises no listener-leak warning', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(`${warning.name}: ${warning.message}`);
  };
  process.on('warning', onWarning);
  try {
    const mgr = await WalManager.open({ dir: freshDir(), fsync: 'os', retentionIntervalMs: 0 });
    for (let partition = 0; partition < 16; partition += 1) await mgr.append('t', partition, `p${partition}`);
    const controller = new AbortController();
    const consumer = mgr.consume({ group: 'g', topics: ['t'], from: 'earliest', batchSize: 1, signal: controller.signal });
    let seen = 0;
    const consuming = (async () => {
      for await (const record of consumer) {
        assert.equal(record.data.toString(), `p${record.partition}`);
        seen += 1;
      }
    })();
    while (seen < 16) await new Promise((resolve) => setTimeout(resolve, 5));
    // Caught up: every partition's tail now waits for new records.
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    await consuming;
    await mgr.close();
  } finally {
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings.filter((warning) => warning.startsWith('MaxListenersExceededWarning')), []);
});

test('a consumer that is never iterated is held by nothing of the manager or of its signal, and one made before mgr.close() refuses to start after it', async () => {
  v8.setFlagsFromString('--expose-gc');
  const collectGarbage = vm.runInNewContext('gc') as () => void;
  const mgr = await WalManager.open({ dir: freshDir(), fsync: 'os', retentionIntervalMs: 0 });
  await mgr.append('t', 0, 'only');
  const shutdown = new AbortController();
  const made: WeakRef<object>[] = [];
  for (let index = 0; index < 1000; index += 1) made.push(new WeakRef(mgr.consume({ group: 'g', topics: ['t'], signal: shutdown.signal })));
  assert.equal(getEventListeners(shutdown.signal, 'abort').length, 0, 'no listener before the iteration starts');
  // They used to stay in the manager (and on the signal) until mgr.close().
  for (let round = 0; round < 5 && made.some((ref) => ref.deref() !== undefined); round += 1) {
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
  }
  assert.equal(made.filter((ref) => ref.deref() !== undefined).length, 0, 'dropped consumers are collected');
  const late = mgr.consume({ group: 'g', topics: ['t'], from: 'earliest', signal: shutdown.signal });
  await mgr.close();
  await assert.rejects(
    (async () => {
      for await (const record of late) void record;
    })(),
    { code: 'WAL_CLOSED' },
  );
  assert.equal(getEventListeners(shutdown.signal, 'abort').length, 0);
});

test('a consumer closed while its read runs into segments retention deleted ends cleanly, not with OFFSET_OUT_OF_RANGE', async () => {
  const dir = freshDir();
  const fileSystem = new FaultyFileSystem(new NodeFileSystem());
  const mgr = await WalManager.open({ dir, fsync: 'os', fileSystem, segmentMaxRecords: 2, retention: { maxBytes: 0 }, retentionIntervalMs: 0 });
  try {
    for (let index = 0; index < 6; index += 1) await mgr.append('t', 0, `r${index}`);
    await until(() => mgr.openLogCount === 1);
    const wal = await mgr.log('t', 0);
    while ((await wal.segments()).slice(0, -1).some((segment) => !segment.sealed)) await new Promise((resolve) => setTimeout(resolve, 5));
    // The consumer's first read of [0, 2) is held; meanwhile retention deletes [0, 2) and [2, 4), and the consumer closes.
    const held = gate();
    fileSystem.arm({ call: 'open', path: /00000000000000000000\.wal$/, until: held.opened });
    const consumer = mgr.consume({ group: 'g', topics: ['t'], from: 'earliest' });
    const iteration = (async () => {
      const seen: number[] = [];
      for await (const record of consumer) seen.push(record.offset);
      return seen;
    })();
    await until(() => fileSystem.countsFor(/00000000000000000000\.wal$/).open > 0);
    assert.equal((await mgr.enforceRetention()).deletedSegmentCount, 2);
    const closing = consumer.close();
    held.open();
    await closing;
    const seen = await iteration;
    assert.ok(seen.every((offset) => offset < 2), `only records of the held read: ${seen.join(', ')}`);
  } finally {
    await mgr.close();
  }
});
