import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FaultyFileSystem } from '../io/faulty-file-system.js';
import { NodeFileSystem } from '../io/node-file-system.js';
import { FileCache } from './file-cache.js';
import { freshFolders } from '../../test/temp-folders.js';

const freshDir = freshFolders('tidewal-file-cache-');

function filesIn(dir: string, count: number): string[] {
  mkdirSync(dir, { recursive: true });
  return Array.from({ length: count }, (_, index) => {
    const path = join(dir, `f${index}`);
    writeFileSync(path, `file ${index}`);
    return path;
  });
}

test('the cache keeps at most maxOpenFiles idle handles, closing the least recently used', async () => {
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const cache = new FileCache(faulty, 2);
  const [first = '', second = '', third = ''] = filesIn(freshDir(), 3);
  for (const path of [first, second, first, third]) {
    await cache.acquire(path);
    cache.release(path);
  }
  assert.equal(cache.openCount, 2);
  assert.equal(faulty.countsFor(second).close, 1, 'the least recently used one was closed');
  assert.equal(faulty.countsFor(first).close, 0);
  assert.equal(faulty.countsFor(first).open, 1, 'a cached handle is reused');
  await cache.closeAll();
  assert.equal(cache.openCount, 0);
});

test('forget closes an idle handle at once, and one in use when its last user releases it', async () => {
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const cache = new FileCache(faulty, 10);
  const [idle = '', busy = ''] = filesIn(freshDir(), 2);
  await cache.acquire(idle);
  cache.release(idle);
  cache.forget(idle);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(faulty.countsFor(idle).close, 1);

  await cache.acquire(busy);
  await cache.acquire(busy);
  cache.forget(busy);
  cache.release(busy);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(faulty.countsFor(busy).close, 0, 'still in use');
  cache.release(busy);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(faulty.countsFor(busy).close, 1, 'closed with its last release, not left for the LRU');
  assert.equal(cache.openCount, 0);
});
