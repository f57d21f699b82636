/**
 * What the manager's close() must wait for, and what a failed log means to
 * it. With the shared journal, a log's acknowledged records may live only
 * in the journal until the log's files are synced: the journal may be
 * removed only after every log, evicted ones included, closed cleanly, and
 * a log that failed must not be reopened without the journal's replay.
 * Power cuts are simulated (every unsynced write dropped) so that a missing
 * sync shows as a missing record.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FaultyFileSystem } from '../io/faulty-file-system.js';
import { NodeFileSystem } from '../io/node-file-system.js';
import { SimulatedFileSystem } from '../io/simulated-file-system.js';
import { MANAGER_FOLDER_NAME, WalManager } from './wal-manager.js';
import type { WalManagerOptions } from './wal-manager.js';
import { freshFolders } from '../../test/temp-folders.js';

const freshDir = freshFolders('tidewal-manager-close-');
const DIR = '/data';
const UNSYNCED_DROPPED = { weights: { keep: 0, drop: 1, tear: 0, garble: 0 } } as const;

function simulatedManager(options: Partial<WalManagerOptions> = {}): { simulated: SimulatedFileSystem; faulty: FaultyFileSystem; open: () => Promise<WalManager> } {
  const simulated = new SimulatedFileSystem({ seed: 3 });
  const faulty = new FaultyFileSystem(simulated);
  const open = (): Promise<WalManager> =>
    WalManager.open({ dir: DIR, fileSystem: faulty, clock: simulated.clock, fsync: 'always', retentionIntervalMs: 0, ...options });
  return { simulated, faulty, open };
}

/** The state after a power cut that drops every unsynced write, as a new process finds it (no LOCK files). */
function rebootedAfterCut(simulated: SimulatedFileSystem): SimulatedFileSystem {
  const rebooted = simulated.powerCut(UNSYNCED_DROPPED);
  for (const path of rebooted.listFiles()) if (path.endsWith('/LOCK')) rebooted.deleteFile(path);
  return rebooted;
}

async function readAll(manager: WalManager, topic: string, partition: number): Promise<string[]> {
  const datas: string[] = [];
  for await (const record of manager.read(topic, partition)) datas.push(Buffer.from(record.data).toString());
  return datas;
}

test('close() waits for a log the LRU is still closing before it removes the journal', async () => {
  const { simulated, faulty, open } = simulatedManager({ maxOpenLogs: 1 });
  const manager = await open();
  for (let index = 0; index < 3; index++) await manager.append('t', 0, `acknowledged ${index}`);
  // t/0's close (its fdatasync) is slow; opening t/1 evicts t/0 in the background.
  faulty.arm({ call: 'datasync', path: '/t/0/', delayMs: 50 });
  await manager.append('t', 1, 'other');
  await manager.close();
  assert.equal(simulated.listFiles().includes(`${DIR}/t/0/LOCK`), false, 't/0 was closed when close() returned');

  const reopened = await WalManager.open({ dir: DIR, fileSystem: rebootedAfterCut(simulated), retentionIntervalMs: 0 });
  try {
    assert.deepEqual(await readAll(reopened, 't', 0), ['acknowledged 0', 'acknowledged 1', 'acknowledged 2']);
    assert.deepEqual(await readAll(reopened, 't', 1), ['other']);
  } finally {
    await reopened.close();
  }
});

test('a log that failed keeps the journal: close() rejects with WAL_FAILED and a reopen after a power cut replays every acknowledged record', async () => {
  const { simulated, faulty, open } = simulatedManager({ journalCheckpointBytes: 4096 });
  const manager = await open();
  const record = (index: number): string => `record ${index} `.padEnd(1000, '.');
  const acknowledged: string[] = [];
  for (let index = 0; index < 3; index++) {
    await manager.append('orders', 0, record(index));
    acknowledged.push(record(index));
  }
  // The journal checkpoint's sync of the log's file fails: the log stops,
  // and its file may lack what the journal acknowledged.
  faulty.arm({ call: 'datasync', path: '/orders/', code: 'EIO' });
  await manager.append('orders', 0, record(3)).then(() => acknowledged.push(record(3)), () => {});
  const log = await manager.log('orders', 0);
  for (let waited = 0; log.failure === null && waited < 200; waited++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(log.state, 'failed', 'the failed checkpoint sync stopped the log');
  await assert.rejects(manager.append('orders', 0, 'later'), { code: 'WAL_FAILED' });
  await assert.rejects(manager.close(), { code: 'WAL_FAILED' });
  assert.ok(simulated.listFiles().some((path) => path.includes(`${MANAGER_FOLDER_NAME}/journal/`) && path.endsWith('.wal')), 'the journal stays');

  const reopened = await WalManager.open({ dir: DIR, fileSystem: rebootedAfterCut(simulated), retentionIntervalMs: 0 });
  try {
    const recovered = await readAll(reopened, 'orders', 0);
    // The fourth record may be there unacknowledged (its write reached the journal before the failure).
    assert.deepEqual(recovered.slice(0, acknowledged.length), acknowledged, 'every acknowledged record, in order');
    assert.deepEqual(recovered.slice(acknowledged.length), recovered.length > acknowledged.length ? [record(3)] : []);
    assert.equal(await reopened.append('orders', 0, 'after'), recovered.length, 'appending goes on after the last record');
  } finally {
    await reopened.close();
  }
});

test("a log whose file write fails under the journal stops alone; a reopen after a power cut has every acknowledged record", async () => {
  const { simulated, faulty, open } = simulatedManager();
  const manager = await open();
  const acknowledged = new Map<number, string[]>([
    [0, []],
    [1, []],
  ]);
  const append = async (partition: number, data: string): Promise<void> => {
    await manager.append('orders', partition, data);
    acknowledged.get(partition)?.push(data);
  };
  await Promise.all([append(0, 'p0-a'), append(1, 'p1-a')]);
  // The group is journaled first; its file write runs while the journal's write is in flight, and fails.
  faulty.arm({ call: 'write', path: '/orders/0/', code: 'EIO' });
  const results = await Promise.allSettled([append(0, 'p0-b'), append(1, 'p1-b')]);
  assert.equal(results[0]?.status, 'rejected', 'the append whose file write failed is rejected');
  assert.match(String((results[0] as PromiseRejectedResult).reason?.message), /EIO/);
  assert.equal(results[1]?.status, 'fulfilled', 'the other partition is not held up');
  await append(1, 'p1-c');
  await assert.rejects(manager.append('orders', 0, 'p0-c'), { code: 'WAL_FAILED' });
  await assert.rejects(manager.close(), { code: 'WAL_FAILED' });

  const reopened = await WalManager.open({ dir: DIR, fileSystem: rebootedAfterCut(simulated), retentionIntervalMs: 0 });
  try {
    assert.deepEqual(await readAll(reopened, 'orders', 1), acknowledged.get(1));
    const partition0 = await readAll(reopened, 'orders', 0);
    // The rejected record may be there: the journal held its group before the file write failed.
    assert.deepEqual(partition0.slice(0, 1), ['p0-a']);
    assert.deepEqual(partition0.slice(1), partition0.length > 1 ? ['p0-b'] : []);
  } finally {
    await reopened.close();
  }
});

test('a failed log that the LRU closed is not reopened in the same manager: WAL_FAILED until the manager reopens', async () => {
  const { faulty, open } = simulatedManager({ maxOpenLogs: 1 });
  const manager = await open();
  await manager.append('t', 0, 'a');
  // t/0's close on eviction fails: its file may lack what the journal holds.
  faulty.arm({ call: 'datasync', path: '/t/0/', code: 'EIO' });
  await manager.append('t', 1, 'b');
  await assert.rejects(manager.append('t', 0, 'c'), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'WAL_FAILED');
    assert.match(error.message, /t\/0.*failed earlier.*reopen the manager/);
    return true;
  });
  assert.deepEqual(await manager.append('t', 1, 'd'), 1, 'other logs go on');
  await assert.rejects(manager.close(), { code: 'WAL_FAILED' });
});

test('when one log fails to close, close() still waits for the others and releases every lock', async () => {
  const dir = freshDir();
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const manager = await WalManager.open({ dir, fileSystem: faulty, fsync: 'always', syncStream: 'per-log', retentionIntervalMs: 0 });
  await manager.append('t', 0, 'a');
  await manager.append('t', 1, 'b');
  faulty.arm({ call: 'datasync', path: '/t/0/', code: 'EIO' });
  faulty.arm({ call: 'datasync', path: '/t/1/', delayMs: 100 });
  await assert.rejects(manager.close(), { code: 'WAL_FAILED' });
  assert.equal(existsSync(join(dir, 't', '1', 'LOCK')), false, 'the slow log finished closing first');
  assert.equal(existsSync(join(dir, MANAGER_FOLDER_NAME, 'LOCK')), false);
  const reopened = await WalManager.open({ dir, fsync: 'always', retentionIntervalMs: 0 });
  try {
    assert.equal(await reopened.append('t', 1, 'c'), 1);
    assert.deepEqual(await readAll(reopened, 't', 0), ['a']);
  } finally {
    await reopened.close();
  }
});

test('a log its user closed through mgr.log() opens again on the next use, also for callers arriving together', async () => {
  for (const syncStream of ['shared', 'per-log'] as const) {
    const manager = await WalManager.open({ dir: freshDir(), fsync: 'always', syncStream, retentionIntervalMs: 0 });
    try {
      await manager.append('t', 0, 'a');
      // The user's close is still running when two appends arrive.
      const closing = (await manager.log('t', 0)).close();
      const offsets = await Promise.all([manager.append('t', 0, 'b'), manager.append('t', 0, 'c')]);
      await closing;
      assert.deepEqual(offsets.sort(), [1, 2], syncStream);
      assert.equal((await readAll(manager, 't', 0)).length, 3);
    } finally {
      await manager.close();
    }
  }
});

test('without a journal, a failed log that the LRU closed reopens with its own recovery, and close() resolves', async () => {
  const dir = freshDir();
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const manager = await WalManager.open({ dir, fileSystem: faulty, fsync: 'always', syncStream: 'per-log', maxOpenLogs: 1, retentionIntervalMs: 0 });
  await manager.append('t', 0, 'a');
  faulty.arm({ call: 'write', path: '/t/0/', code: 'EIO' });
  await assert.rejects(manager.append('t', 0, 'never acknowledged'), { code: 'WAL_FAILED' });
  // Opening t/1 evicts the failed t/0; its next use reopens it with recovery.
  await manager.append('t', 1, 'b');
  assert.equal(await manager.append('t', 0, 'c'), 1);
  assert.deepEqual(await readAll(manager, 't', 0), ['a', 'c']);
  await manager.close();
});
