import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SegmentInfo } from '../log/wal.js';
import { guardOffsetFor, retentionCutOffset } from './retention.js';
import { FaultyFileSystem } from '../io/faulty-file-system.js';
import { NodeFileSystem } from '../io/node-file-system.js';
import { WalManager } from './wal-manager.js';
import { WalError } from '../errors.js';
import { gate } from '../../test/gate.js';
import { freshFolders } from '../../test/temp-folders.js';
import { until, within } from '../../test/within.js';

const freshDir = freshFolders('tidewal-retention-');

/** Segments of 10 records and 1000 bytes each; the last is active. */
function segments(count: number, lastTimestampMs: (index: number) => number = () => 1): SegmentInfo[] {
  return Array.from({ length: count }, (_, index) => ({
    baseOffset: index * 10,
    nextOffset: index * 10 + 10,
    sizeBytes: 1000,
    path: `s${index}`,
    sealed: index < count - 1,
    createdAtMs: 0,
    lastTimestampMs: lastTimestampMs(index),
  }));
}

test('the cut offset follows the size limit, the age limit and the checkpoint guard', () => {
  const five = segments(5);
  assert.equal(retentionCutOffset(five, {}, null, 0), 0, 'no policy deletes nothing');
  assert.equal(retentionCutOffset(five, { maxBytes: 3000 }, null, 0), 20);
  assert.equal(retentionCutOffset(five, { maxBytes: 0 }, null, 0), 40, 'never the active segment');
  assert.equal(retentionCutOffset(five, { maxBytes: 0 }, 25, 0), 20, 'the guard rounds down to a segment boundary');
  assert.equal(retentionCutOffset(five, { maxBytes: 0 }, 0, 0), 0, 'a guard at 0 protects everything');
  assert.equal(retentionCutOffset(five, {}, 31, 0), 30, 'a guard alone removes what it no longer needs');
  const aged = segments(5, (index) => index * 100);
  assert.equal(retentionCutOffset(aged, { maxAgeMs: 250 }, null, 400), 20, 'segments with records newer than the age stay');
  assert.equal(retentionCutOffset(aged, { maxAgeMs: 250, maxBytes: 1000 }, null, 400), 40, 'either limit triggers');
});

test("the 'min' guard is the smallest offset over checkpoints that have one", () => {
  assert.equal(guardOffsetFor(undefined, new Map([['a', 5]])), null);
  assert.equal(guardOffsetFor('min', new Map()), 0);
  assert.equal(guardOffsetFor('min', new Map([['a', 50], ['b', 20]])), 20);
  assert.equal(guardOffsetFor('a', new Map([['a', 50], ['b', 20]])), 50);
  assert.equal(guardOffsetFor('c', new Map([['a', 50]])), 0, 'a named checkpoint without an offset protects all');
});

/** One append per record: a batch never spans segments, so rotation by count needs single appends. */
async function appendEach(mgr: WalManager, topic: string, count: number): Promise<void> {
  for (let index = 0; index < count; index += 1) await mgr.append(topic, 0, `r${index}`);
}

/** Waits until every segment of the log but the active one is sealed: retention takes sealed segments only, and a seal runs after its rotation. */
async function allSealed(mgr: WalManager, topic: string, partition = 0): Promise<void> {
  const wal = await mgr.log(topic, partition);
  while ((await wal.segments()).slice(0, -1).some((segment) => !segment.sealed)) await new Promise((resolve) => setTimeout(resolve, 5));
}

async function readOffsets(mgr: WalManager, topic: string): Promise<number[]> {
  const offsets: number[] = [];
  for await (const record of mgr.read(topic, 0)) offsets.push(record.offset);
  return offsets;
}

test('retention never deletes what the named checkpoint still needs, and deletes what it may', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({
    dir,
    fsync: 'os',
    segmentMaxRecords: 10,
    retentionIntervalMs: 0,
    retention: { maxBytes: 0, checkpoint: 'indexer' },
  });
  await appendEach(mgr, 't', 55);
  // No checkpoint yet: everything is still needed.
  assert.equal((await mgr.enforceRetention()).deletedSegmentCount, 0);
  assert.equal((await readOffsets(mgr, 't'))[0], 0);

  await mgr.checkpoints.commit('indexer', { 't/0': 25 });
  // Retention takes sealed segments only; under 'os' the last rotation's seal may still run.
  await allSealed(mgr, 't');
  const report = await mgr.enforceRetention();
  assert.equal(report.deletedSegmentCount, 2);
  const offsets = await readOffsets(mgr, 't');
  assert.equal(offsets[0], 20, 'the segment holding offset 25 stays');
  assert.equal(offsets.length, 35);

  await mgr.checkpoints.commit('indexer', { 't/0': 55 });
  await mgr.enforceRetention();
  assert.equal((await readOffsets(mgr, 't'))[0], 50, 'the active segment stays');
  await mgr.close();

  const reopened = await WalManager.open({ dir, retentionIntervalMs: 0 });
  assert.deepEqual(await readOffsets(reopened, 't'), [50, 51, 52, 53, 54]);
  await reopened.close();
});

/** A manager whose logs keep nothing below checkpoint 'indexer', with 55 records in t/0 (10 per segment) and faults to arm. */
async function guardedManagerWithFaults(): Promise<{ dir: string; faulty: FaultyFileSystem; mgr: WalManager }> {
  const dir = freshDir();
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const mgr = await WalManager.open({
    dir,
    fileSystem: faulty,
    fsync: 'os',
    segmentMaxRecords: 10,
    retentionIntervalMs: 0,
    retention: { maxBytes: 0, checkpoint: 'indexer' },
  });
  await appendEach(mgr, 't', 55);
  return { dir, faulty, mgr };
}

test('a commit that lowers the guarding checkpoint while retention deletes waits for it: nothing that existed when the commit resolved goes afterwards', async () => {
  const { faulty, mgr } = await guardedManagerWithFaults();
  try {
    await mgr.checkpoints.commit('indexer', { 't/0': 45 });
    // Retention reads the guard (45) and starts deleting; its first unlink waits at a gate.
    const unlinkGate = gate();
    faulty.arm({ call: 'unlink', path: /\.wal$/, until: unlinkGate.opened });
    const retention = mgr.enforceRetention();
    await until(() => faulty.fired.length === 1);
    const commit = mgr.checkpoints.commit('indexer', { 't/0': 5 }, { replace: true });
    assert.equal(await within(commit, 50), 'timeout', 'the commit waits for the retention pass that holds the guard');
    unlinkGate.open();
    await commit;
    const firstOffsetAtCommit = (await mgr.log('t', 0)).firstOffset;
    await retention;
    const offsets = await readOffsets(mgr, 't');
    assert.equal(offsets[0], firstOffsetAtCommit, 'every record that existed when the commit resolved is still there');
    assert.deepEqual(mgr.checkpoints.get('indexer'), { 't/0': 5 });
  } finally {
    await mgr.close();
  }
});

test('enforceRetention() calls that close() cuts short reject with WAL_CLOSED instead of resolving a partial report', async () => {
  const { faulty, mgr } = await guardedManagerWithFaults();
  let closing: Promise<void> | null = null;
  try {
    await mgr.append('u', 0, 'x');
    await mgr.checkpoints.commit('indexer', { 't/0': 45, 'u/0': 1 });
    // The pass holds at t/0's first unlink; a second call queues behind it.
    const unlinkGate = gate();
    faulty.arm({ call: 'unlink', path: /\/t\/0\/.*\.wal$/, until: unlinkGate.opened });
    const first = mgr.enforceRetention();
    await until(() => faulty.fired.length === 1);
    const second = mgr.enforceRetention();
    closing = mgr.close();
    unlinkGate.open();
    for (const [name, call] of [['the pass in flight', first], ['the pass queued behind it', second]] as const) {
      await assert.rejects(call, (error: unknown) => error instanceof WalError && error.code === 'WAL_CLOSED', name);
    }
  } finally {
    await (closing ?? mgr.close());
  }
});

test('a commit for another log does not wait for a guarded retention pass', async () => {
  const { dir, faulty, mgr } = await guardedManagerWithFaults();
  try {
    await mgr.append('u', 0, 'x');
    await mgr.checkpoints.commit('indexer', { 't/0': 45 });
    // t's retention pass holds t's guard while its first unlink waits at a gate.
    const unlinkGate = gate();
    faulty.arm({ call: 'unlink', path: /\/t\/0\/.*\.wal$/, until: unlinkGate.opened });
    const retention = mgr.enforceRetention();
    await until(() => faulty.fired.length === 1);
    await mgr.checkpoints.commit('other', { 'u/0': 1 });
    assert.equal(existsSync(join(dir, 't', '0', '00000000000000000000.wal')), true, 'the commit for u/0 went ahead while t/0 was still being trimmed');
    unlinkGate.open();
    await retention;
    assert.equal(existsSync(join(dir, 't', '0', '00000000000000000000.wal')), false);
  } finally {
    await mgr.close();
  }
});

test("retention with 'min' keeps what the slowest checkpoint needs", async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, fsync: 'os', segmentMaxRecords: 10, retentionIntervalMs: 0 });
  const mgrWithPolicy = mgr;
  await appendEach(mgrWithPolicy, 't', 40);
  await mgr.close();
  const withMin = await WalManager.open({ dir, fsync: 'os', segmentMaxRecords: 10, retentionIntervalMs: 0, retention: { checkpoint: 'min' } });
  await withMin.checkpoints.commit('fast', { 't/0': 40 });
  await withMin.checkpoints.commit('slow', { 't/0': 12 });
  await withMin.enforceRetention();
  assert.equal((await readOffsets(withMin, 't'))[0], 10);
  await withMin.checkpoints.commit('slow', { 't/0': 40 });
  await withMin.enforceRetention();
  assert.equal((await readOffsets(withMin, 't'))[0], 30);
  await withMin.close();
});

test("retention with 'min' keeps all of a partition that a checkpoint following its topic has not reached yet", async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, fsync: 'os', segmentMaxRecords: 10, retentionIntervalMs: 0, retention: { checkpoint: 'min' } });
  try {
    await appendEach(mgr, 't', 6);
    // Group a has read t/0 only, then went away; t/1 fills later, and group b reads all of it.
    await mgr.checkpoints.commit('a', { 't/0': 5 });
    for (let index = 0; index < 45; index++) await mgr.append('t', 1, `t/1 #${index}`);
    await mgr.checkpoints.commit('b', { 't/1': 45 });
    await allSealed(mgr, 't', 1);
    // A checkpoint of another topic alone says nothing about t.
    await mgr.append('u', 0, 'u');
    await mgr.checkpoints.commit('other', { 'u/0': 1 });
    await mgr.enforceRetention();
    assert.equal((await mgr.log('t', 1)).firstOffset, 0, "t/1 is whole: a consumer of group a resumes it from its earliest record");
    await mgr.checkpoints.commit('a', { 't/0': 6, 't/1': 25 });
    await mgr.enforceRetention();
    assert.equal((await mgr.log('t', 1)).firstOffset, 20, 'once group a reaches 25, what both groups have read goes');
  } finally {
    await mgr.close();
  }
});

test('age retention deletes old sealed segments and per-log policies apply per log', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({
    dir,
    fsync: 'os',
    segmentMaxRecords: 5,
    retentionIntervalMs: 0,
    logOptions: (topic) => (topic === 'short' ? { retention: { maxAgeMs: 1 } } : {}),
  });
  await appendEach(mgr, 'short', 12);
  await appendEach(mgr, 'long', 12);
  await allSealed(mgr, 'short');
  await new Promise((resolve) => setTimeout(resolve, 20));
  const report = await mgr.enforceRetention();
  assert.equal(report.logCount, 1);
  assert.equal((await readOffsets(mgr, 'short'))[0], 10);
  assert.equal((await readOffsets(mgr, 'long'))[0], 0);
  await mgr.close();
});

test('the background task enforces retention on its own', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, fsync: 'os', segmentMaxRecords: 5, retentionIntervalMs: 20, retention: { maxBytes: 0 } });
  await appendEach(mgr, 't', 12);
  const deadline = Date.now() + 5000;
  while ((await mgr.withLog('t', 0, (wal) => wal.firstOffset)) < 10 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(await mgr.withLog('t', 0, (wal) => wal.firstOffset), 10);
  await mgr.close();
});

test('a log that failed is skipped and reported; retention still trims every other log', async () => {
  const dir = freshDir();
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const mgr = await WalManager.open({ dir, fileSystem: faulty, fsync: 'always', segmentMaxRecords: 2, retention: { maxBytes: 0 }, retentionIntervalMs: 0 });
  // 'a' sorts first, so a pass that stopped at the failure would never reach 'b'.
  await appendEach(mgr, 'a', 5);
  faulty.arm({ call: 'write', code: 'EIO', path: `${join(dir, 'a', '0')}/`, times: Infinity });
  await assert.rejects(mgr.append('a', 0, 'lost'), { code: 'WAL_FAILED' });
  faulty.disarm();
  await appendEach(mgr, 'b', 10);
  await allSealed(mgr, 'b');
  const report = await mgr.enforceRetention();
  assert.equal(report.failures.length, 1);
  assert.equal(report.failures[0]?.topic, 'a');
  assert.equal(report.failures[0]?.partition, 0);
  assert.equal((report.failures[0]?.error as { code?: string } | undefined)?.code, 'WAL_FAILED');
  assert.equal(report.logCount, 1, "'b' was checked");
  assert.equal((await readOffsets(mgr, 'b'))[0], 8, "'b' keeps only its active segment");
  await mgr.close().catch(() => {});
});

test('a segment whose seal is still running when a pass lists the log stays for a later pass, and each report counts what went', async () => {
  const fileSystem = new FaultyFileSystem(new NodeFileSystem());
  const mgr = await WalManager.open({
    dir: freshDir(),
    fsync: 'os',
    fileSystem,
    segmentMaxRecords: 10,
    retentionIntervalMs: 0,
    retention: { maxBytes: 0, checkpoint: 'indexer' },
  });
  await appendEach(mgr, 't', 15);
  await allSealed(mgr, 't'); // [0, 10): a pass may take it
  // The next rotation seals [10, 20): hold its fdatasync, so the pass lists it unsealed.
  const held = gate();
  fileSystem.arm({ call: 'datasync', path: /00000000000000000010\.wal$/, until: held.opened });
  await appendEach(mgr, 't', 10);
  await mgr.checkpoints.commit('indexer', { 't/0': 25 });
  const first = mgr.enforceRetention();
  setTimeout(() => held.open(), 50);
  assert.equal((await first).deletedSegmentCount, 1, 'only the sealed segment went');
  assert.equal((await readOffsets(mgr, 't'))[0], 10);
  assert.equal((await mgr.enforceRetention()).deletedSegmentCount, 1, 'the next pass takes the one sealed since');
  assert.equal((await readOffsets(mgr, 't'))[0], 20);
  await mgr.close();
});
