import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { test } from 'node:test';
import { FaultyFileSystem } from '../io/faulty-file-system.js';
import { NodeFileSystem } from '../io/node-file-system.js';
import { FolderSync } from './folder-sync.js';
import { freshFolders } from '../../test/temp-folders.js';

const freshDir = freshFolders('tidewal-folder-sync-');

function folderSync(): { faulty: FaultyFileSystem; folder: FolderSync } {
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const dir = freshDir();
  mkdirSync(dir, { recursive: true });
  return { faulty, folder: new FolderSync(faulty, dir) };
}

test('a folder with no change is not synced; callers during a sync share it when nothing changed after it started', async () => {
  const { faulty, folder } = folderSync();
  await folder.sync();
  assert.equal(faulty.counts.syncDir, 0);
  folder.markDirty();
  faulty.arm({ call: 'syncDir', delayMs: 50 });
  await Promise.all([folder.sync(), folder.sync(), folder.sync()]);
  assert.equal(faulty.counts.syncDir, 1);
});

test('a change made while a sync is in flight gets a sync of its own after it', async () => {
  const { faulty, folder } = folderSync();
  folder.markDirty();
  faulty.arm({ call: 'syncDir', delayMs: 50 });
  const first = folder.sync();
  folder.markDirty();
  const second = folder.sync();
  await Promise.all([first, second]);
  assert.equal(faulty.counts.syncDir, 2);
});

test('callers that waited for a folder fsync that failed fail with it, and it is not retried', async () => {
  const { faulty, folder } = folderSync();
  folder.markDirty();
  faulty.arm({ call: 'syncDir', code: 'EIO', delayMs: 50 });
  const started = folder.sync();
  const waiting = [folder.sync(), folder.sync()];
  await Promise.all([started, ...waiting].map((call) => assert.rejects(call, { code: 'EIO' })));
  assert.equal(faulty.counts.syncDir, 1);
});
