import assert from 'node:assert/strict';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CorruptionError } from '../errors.js';
import { FaultyFileSystem, exactPath } from '../io/faulty-file-system.js';
import { NodeFileSystem } from '../io/node-file-system.js';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint-store.js';
import { CHECKPOINT_NAME_LENGTH_MAX } from './topic-name.js';
import { WalManager } from './wal-manager.js';
import { freshFolders } from '../../test/temp-folders.js';

const freshDir = freshFolders('tidewal-checkpoint-');
const checkpointDir = (dir: string): string => join(dir, '~manager', 'checkpoints');

test('a committed checkpoint survives a reopen exactly', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, retentionIntervalMs: 0 });
  await mgr.append('orders', 0, ['a', 'b', 'c']);
  await mgr.append('orders', 1, ['a']);
  await mgr.checkpoints.commit('indexer', { 'orders/0': 2, 'orders/1': 1 });
  await mgr.checkpoints.commit('indexer', { 'orders/0': 3 });
  await mgr.checkpoints.commit('audit', { 'orders/1': 0 });
  assert.deepEqual(mgr.checkpoints.get('indexer'), { 'orders/0': 3, 'orders/1': 1 });
  await mgr.close();

  const reopened = await WalManager.open({ dir, retentionIntervalMs: 0 });
  assert.deepEqual(reopened.checkpoints.list(), ['audit', 'indexer']);
  assert.deepEqual(reopened.checkpoints.get('indexer'), { 'orders/0': 3, 'orders/1': 1 });
  assert.deepEqual(reopened.checkpoints.get('audit'), { 'orders/1': 0 });
  assert.equal(reopened.checkpoints.get('missing'), undefined);
  await reopened.checkpoints.commit('indexer', { 'orders/1': 1 }, { replace: true });
  assert.deepEqual(reopened.checkpoints.get('indexer'), { 'orders/1': 1 });
  assert.equal(await reopened.checkpoints.delete('audit'), true);
  assert.equal(await reopened.checkpoints.delete('audit'), false);
  await reopened.close();

  const third = await WalManager.open({ dir, retentionIntervalMs: 0 });
  assert.deepEqual(third.checkpoints.list(), ['indexer']);
  assert.deepEqual(third.checkpoints.get('indexer'), { 'orders/1': 1 });
  await third.close();
});

test('offsets beyond the log nextOffset are rejected and change nothing', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, retentionIntervalMs: 0 });
  await mgr.append('orders', 0, ['a', 'b']);
  await mgr.checkpoints.commit('c', { 'orders/0': 1 });
  await assert.rejects(mgr.checkpoints.commit('c', { 'orders/0': 3 }), { code: 'INVALID_ARGUMENT', message: /beyond the log's nextOffset 2/ });
  await assert.rejects(mgr.checkpoints.commit('c', { 'orders/0': 2, 'unknown/0': 1 }), { code: 'INVALID_ARGUMENT' });
  assert.deepEqual(mgr.checkpoints.get('c'), { 'orders/0': 1 });
  // A checkpoint never creates a log: offset 0 of a missing log is fine, and stays missing.
  await mgr.checkpoints.commit('c', { 'unknown/0': 0 });
  assert.deepEqual(mgr.topics(), ['orders']);
  await mgr.close();
});

test('bad checkpoint names, keys and offsets are rejected with INVALID_ARGUMENT', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, retentionIntervalMs: 0 });
  await mgr.append('t', 0, 'x');
  for (const name of ['', '..', '.', '../evil', 'a/b', 'x'.repeat(250), 'ünï']) {
    await assert.rejects(mgr.checkpoints.commit(name, { 't/0': 0 }), { code: 'INVALID_ARGUMENT' }, name);
    await assert.rejects(mgr.checkpoints.delete(name), { code: 'INVALID_ARGUMENT' }, name);
    assert.throws(() => mgr.checkpoints.get(name), { code: 'INVALID_ARGUMENT' });
  }
  for (const offsets of [{ 't/x': 0 }, { t: 0 }, { '../t/0': 0 }, { 't/0': -1 }, { 't/0': 0.5 }, { 't/0': '1' }, { 't/65536': 0 }, [['t/0', 0]], null, 't/0']) {
    await assert.rejects(mgr.checkpoints.commit('c', offsets as never), { code: 'INVALID_ARGUMENT' }, JSON.stringify(offsets));
  }
  // A Map would read as no offsets at all, and with replace wipe the checkpoint.
  await assert.rejects(mgr.checkpoints.commit('c', new Map([['t/0', 1]]) as never, { replace: true }), { code: 'INVALID_ARGUMENT', message: /got a Map/ });
  for (const options of [null, 'replace', { replac: true }, { replace: 'yes' }]) {
    await assert.rejects(mgr.checkpoints.commit('c', { 't/0': 0 }, options as never), { code: 'INVALID_ARGUMENT' }, JSON.stringify(options));
  }
  assert.deepEqual(readdirSync(checkpointDir(dir)), []);
  await mgr.close();
});

test('checkpoint names hold at most 200 characters, so that their files fit a file name', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, retentionIntervalMs: 0 });
  await mgr.append('t', 0, ['a', 'b']);
  const longest = 'c'.repeat(CHECKPOINT_NAME_LENGTH_MAX);
  // 249 is a valid topic name, but its checkpoint file name would not fit in 255 bytes.
  for (const name of ['c'.repeat(CHECKPOINT_NAME_LENGTH_MAX + 1), 'c'.repeat(249)]) {
    await assert.rejects(mgr.checkpoints.commit(name, { 't/0': 1 }), { code: 'INVALID_ARGUMENT', message: /1 to 200 of the characters/ });
    assert.throws(() => mgr.consume({ group: name, topics: ['t'] }), { code: 'INVALID_ARGUMENT' });
  }
  // The store is not stopped by them: the longest valid name commits, and reloads.
  await mgr.checkpoints.commit(longest, { 't/0': 2 });
  await mgr.checkpoints.commit(longest, { 't/0': 1 });
  await mgr.close();
  const reopened = await WalManager.open({ dir, retentionIntervalMs: 0 });
  assert.deepEqual(reopened.checkpoints.list(), [longest]);
  assert.deepEqual(reopened.checkpoints.get(longest), { 't/0': 1 });
  // A checkpoint with a longer name, as an earlier version could write one
  // where the file name fitted, still loads, reads and deletes; only new
  // commits are held to 200 characters.
  await reopened.close();
  const legacy = 'g'.repeat(210);
  renameSync(join(checkpointDir(dir), `${longest}.checkpoint`), join(checkpointDir(dir), `${legacy}.checkpoint`));
  const third = await WalManager.open({ dir, retentionIntervalMs: 0 });
  assert.deepEqual(third.checkpoints.list(), [legacy]);
  assert.deepEqual(third.checkpoints.get(legacy), { 't/0': 1 });
  await assert.rejects(third.checkpoints.commit(legacy, { 't/0': 2 }), { code: 'INVALID_ARGUMENT' });
  assert.equal(await third.checkpoints.delete(legacy), true);
  assert.deepEqual(readdirSync(checkpointDir(dir)), []);
  await third.close();
});

test('a commit interrupted before its rename leaves the old checkpoint', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, retentionIntervalMs: 0 });
  await mgr.append('t', 0, ['a', 'b']);
  await mgr.checkpoints.commit('c', { 't/0': 1 });
  await mgr.close();
  // What a crash between writing the temp file and renaming it leaves behind.
  writeFileSync(join(checkpointDir(dir), 'c.checkpoint.999.1.tmp'), encodeCheckpoint({ 't/0': 2 }).subarray(0, 10));
  const reopened = await WalManager.open({ dir, retentionIntervalMs: 0 });
  assert.deepEqual(reopened.checkpoints.get('c'), { 't/0': 1 });
  assert.deepEqual(readdirSync(checkpointDir(dir)), ['c.checkpoint']);
  await reopened.close();
});

test('a failed checkpoint sync stops the store: later commits reject until the manager is reopened, and the last good checkpoint stays', async () => {
  const dir = freshDir();
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const mgr = await WalManager.open({ dir, fileSystem: faulty, retentionIntervalMs: 0 });
  try {
    await mgr.append('t', 0, ['a', 'b', 'c']);
    await mgr.checkpoints.commit('c', { 't/0': 1 });
    faulty.arm({ call: 'syncDir', code: 'EIO', path: exactPath(checkpointDir(dir)) });
    await assert.rejects(mgr.checkpoints.commit('c', { 't/0': 2 }), { code: 'WAL_FAILED', message: /reopen the manager to continue/ });
    // The fault is gone, but a retried sync could report success for a rename the failed one lost: never retry.
    faulty.disarm();
    await assert.rejects(mgr.checkpoints.commit('c', { 't/0': 3 }), { code: 'WAL_FAILED' });
    await assert.rejects(mgr.checkpoints.delete('c'), { code: 'WAL_FAILED' });
  } finally {
    await mgr.close().catch(() => {});
  }
  const reopened = await WalManager.open({ dir, retentionIntervalMs: 0 });
  try {
    // The rename of the failed commit may or may not have landed; nothing later did.
    assert.ok([1, 2].includes(reopened.checkpoints.get('c')?.['t/0'] ?? -1), JSON.stringify(reopened.checkpoints.get('c')));
    await reopened.checkpoints.commit('c', { 't/0': 3 });
    assert.deepEqual(reopened.checkpoints.get('c'), { 't/0': 3 });
  } finally {
    await reopened.close();
  }
});

test('a damaged checkpoint file is reported, never read as offsets', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, retentionIntervalMs: 0 });
  await mgr.append('t', 0, ['a', 'b']);
  await mgr.checkpoints.commit('c', { 't/0': 1 });
  await mgr.close();
  const path = join(checkpointDir(dir), 'c.checkpoint');
  const content = readFileSync(path);
  const flipIndex = content.length - 3;
  content[flipIndex] = (content[flipIndex] ?? 0) ^ 0x01;
  writeFileSync(path, content);
  await assert.rejects(WalManager.open({ dir, retentionIntervalMs: 0 }), (error: unknown) => {
    // The same class as a damaged segment, naming the file and where, with advice that fits a checkpoint.
    assert.ok(error instanceof CorruptionError);
    assert.equal(error.code, 'LOG_CORRUPT');
    assert.equal(error.file, path);
    assert.equal(error.filePosition, 12);
    assert.match(error.message, /^Cannot load checkpoint: checksum mismatch in .*c\.checkpoint at byte 12; restore the file from a backup or delete it$/);
    return true;
  });
});

test('checkpoint files decode only when whole', () => {
  const content = encodeCheckpoint({ 'a/0': 5, 'b/12': 0 });
  assert.deepEqual(decodeCheckpoint(content, 'x'), { 'a/0': 5, 'b/12': 0 });
  for (let length = 0; length < content.length; length += 7) {
    assert.throws(() => decodeCheckpoint(content.subarray(0, length), 'x'), { code: 'LOG_CORRUPT' });
  }
  const badVersion = Buffer.from(content);
  badVersion.writeUInt32LE(9, 4);
  assert.throws(() => decodeCheckpoint(badVersion, 'x'), { code: 'FORMAT_UNSUPPORTED' });
});

test('concurrent commits of one name are applied in call order', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, retentionIntervalMs: 0 });
  await mgr.append('t', 0, Array.from({ length: 20 }, (_, index) => `r${index}`));
  await Promise.all(Array.from({ length: 20 }, (_, index) => mgr.checkpoints.commit('c', { 't/0': index + 1 })));
  assert.deepEqual(mgr.checkpoints.get('c'), { 't/0': 20 });
  await mgr.close();
  const reopened = await WalManager.open({ dir, retentionIntervalMs: 0 });
  assert.deepEqual(reopened.checkpoints.get('c'), { 't/0': 20 });
  await reopened.close();
});
