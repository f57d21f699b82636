import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FaultyFileSystem, exactPath } from './faulty-file-system.js';
import { listOrCreateFolder } from './list-or-create-folder.js';
import { NodeFileSystem } from './node-file-system.js';
import { freshFolders } from '../../test/temp-folders.js';

const freshDir = freshFolders('tidewal-folders-');

/** fsyncs of exactly the folder `dir`. */
function folderSyncs(faulty: FaultyFileSystem, dir: string): number {
  return faulty.countsFor(exactPath(dir)).syncDir;
}

test('a missing path is created and every new folder is synced into its parent', async () => {
  const root = freshDir();
  mkdirSync(root);
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const dir = join(root, 'a', 'b', 'log');
  assert.deepEqual(await listOrCreateFolder(faulty, dir), { names: [], created: true });
  assert.equal(existsSync(dir), true);
  for (const parent of [root, join(root, 'a'), join(root, 'a', 'b')]) assert.equal(folderSyncs(faulty, parent), 1, `${parent} synced once`);
  assert.equal(folderSyncs(faulty, dir), 0, 'the new folder itself holds nothing yet');
  assert.equal(folderSyncs(faulty, join(root, '..')), 0, 'folders that existed are not synced');
});

test('an existing folder is listed, with nothing created or synced', async () => {
  const dir = freshDir();
  mkdirSync(dir);
  writeFileSync(join(dir, 'x'), '');
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  assert.deepEqual(await listOrCreateFolder(faulty, dir), { names: ['x'], created: false });
  assert.equal(faulty.counts.mkdir, 0);
  assert.equal(faulty.counts.syncDir, 0);
});

test('a file in the way fails with its errno error and creates nothing', async () => {
  const root = freshDir();
  mkdirSync(root);
  writeFileSync(join(root, 'file'), '');
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  await assert.rejects(listOrCreateFolder(faulty, join(root, 'file', 'log')), { code: 'ENOTDIR' });
  await assert.rejects(listOrCreateFolder(faulty, join(root, 'file', 'a', 'log')), { code: 'ENOTDIR' });
  assert.equal(faulty.counts.syncDir, 0);
});

test('a failed folder fsync fails the call', async () => {
  const root = freshDir();
  mkdirSync(root);
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  faulty.arm({ call: 'syncDir', code: 'EIO' });
  await assert.rejects(listOrCreateFolder(faulty, join(root, 'a', 'log')), { code: 'EIO' });
});

// Node's recursive mkdir never settles on these paths; the test's timeout turns such a hang into a failure.
test('a parent that exists but cannot hold a folder fails at once: a symlink to nothing, a path under /proc', { timeout: 20_000 }, async () => {
  const root = freshDir();
  mkdirSync(root);
  symlinkSync(join(root, 'nowhere'), join(root, 'link'));
  const fileSystem = new NodeFileSystem();
  await assert.rejects(listOrCreateFolder(fileSystem, join(root, 'link', 'a', 'log')), { code: 'ENOTDIR', message: /mkdir '.*link' \(a file or a symlink to nothing is in the way\)/ });
  await assert.rejects(fileSystem.mkdir(join(root, 'link')), { code: 'ENOTDIR' });
  assert.deepEqual(readdirSync(root), ['link'], 'nothing was made, not even the symlink\'s target');
  await assert.rejects(fileSystem.mkdir('/proc/tidewal-no-such-folder/log'), { code: 'ENOENT', message: /cannot hold it/ });
  await assert.rejects(listOrCreateFolder(fileSystem, '/proc/tidewal-no-such-folder'), { code: 'ENOENT' });
});

test('mkdir makes every missing folder and accepts one that exists', async () => {
  const root = freshDir();
  mkdirSync(root);
  const fileSystem = new NodeFileSystem();
  await fileSystem.mkdir(join(root, 'a', 'b', 'c'));
  assert.equal(existsSync(join(root, 'a', 'b', 'c')), true);
  await fileSystem.mkdir(join(root, 'a', 'b'));
  writeFileSync(join(root, 'a', 'file'), '');
  await assert.rejects(fileSystem.mkdir(join(root, 'a', 'file')), { code: 'ENOTDIR' });
  await assert.rejects(fileSystem.mkdir(join(root, 'a', 'file', 'd')), { code: 'ENOTDIR' });
});
