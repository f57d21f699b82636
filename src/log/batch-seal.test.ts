/**
 * Sealing under fsync batch, on the real file system with one kind of call
 * held at a gate: index trailers (the only thread-pool writes to segment
 * files under batch; groups are written with writeSync) can be made to
 * wait, as slow I/O would, to show that durability never waits for them and
 * that rotation stops piling up unsealed segments.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Wal } from './wal.js';
import { SEALS_IN_FLIGHT_MAX } from '../constants.js';
import { decodeIndexTrailer } from './segment-index.js';
import { segmentFileName } from './segment-name.js';
import type { FileHandle, FileSystem, OpenOptions } from '../io/file-system.js';
import { NodeFileSystem } from '../io/node-file-system.js';
import { freshFolders } from '../../test/temp-folders.js';

const freshFolder = freshFolders('tidewal-batch-seal-');

/** The real file system, except that thread-pool writes to segment files wait until `release()`. */
class IndexGateFileSystem implements FileSystem {
  readonly #inner = new NodeFileSystem();
  #released: Promise<void>;
  #release: () => void = () => {};
  /** Paths fdatasync'd so far, in order. */
  readonly syncedPaths: string[] = [];
  /** Write handles open now. */
  openWriteHandles = 0;

  constructor() {
    this.#released = Promise.resolve();
  }

  /** From now on, thread-pool writes to segment files wait (open writes a header that way: hold after it). */
  hold(): void {
    this.#released = new Promise((resolve) => {
      this.#release = resolve;
    });
  }

  release(): void {
    this.#release();
  }

  async open(path: string, options: OpenOptions): Promise<FileHandle> {
    const handle = await this.#inner.open(path, options);
    if (options.write !== true) return handle;
    this.openWriteHandles += 1;
    const gate = this;
    return {
      get path() {
        return handle.path;
      },
      set path(value: string) {
        handle.path = value;
      },
      read: (...args) => handle.read(...args),
      async write(...args) {
        if (handle.path.endsWith('.wal')) await gate.#released;
        return handle.write(...args);
      },
      writeSync: (...args) => handle.writeSync(...args),
      async datasync() {
        await handle.datasync();
        gate.syncedPaths.push(handle.path);
      },
      truncate: (sizeBytes) => handle.truncate(sizeBytes),
      sizeBytes: () => handle.sizeBytes(),
      async close() {
        gate.openWriteHandles -= 1;
        await handle.close();
      },
    };
  }

  readFile(path: string): Promise<Buffer | null> {
    return this.#inner.readFile(path);
  }
  rename(fromPath: string, toPath: string): Promise<void> {
    return this.#inner.rename(fromPath, toPath);
  }
  unlink(path: string): Promise<void> {
    return this.#inner.unlink(path);
  }
  mkdir(path: string): Promise<void> {
    return this.#inner.mkdir(path);
  }
  readdir(path: string): Promise<string[]> {
    return this.#inner.readdir(path);
  }
  syncDir(path: string): Promise<void> {
    return this.#inner.syncDir(path);
  }
}

/** Settles with 'timeout' if `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return Promise.race([promise, sleep(ms).then(() => 'timeout' as const)]);
}

/** Base offsets of the segments in `dir` that carry a valid index trailer. */
function indexedSegments(dir: string): number[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.wal'))
    .map((name) => Number(name.slice(0, -'.wal'.length)))
    .filter((base) => decodeIndexTrailer(fs.readFileSync(path.join(dir, segmentFileName(base))), base) !== null)
    .sort((a, b) => a - b);
}

describe('Wal sealing under fsync batch', () => {
  test('sync() makes rotated segments durable without waiting for their index trailers', async () => {
    const dir = freshFolder();
    const gate = new IndexGateFileSystem();
    // The timer never fires during the test: only sync() and sealing sync.
    const wal = await Wal.open({ dir, fsync: { batch: { intervalMs: 60_000 } }, segmentMaxRecords: 1, fileSystem: gate });
    gate.hold();
    try {
      for (const record of ['a', 'b', 'c']) await wal.append(record);
      const synced = await within(wal.sync(), 5_000);
      assert.notEqual(synced, 'timeout', 'sync() waited for the index trailers held at the gate');
      assert.equal(wal.durableOffset, 3);
      assert.deepEqual(indexedSegments(dir), [], 'no index trailer was written: the gate still holds them');
      for (const baseOffset of [0, 1, 2]) {
        const name = segmentFileName(baseOffset);
        assert.ok(
          gate.syncedPaths.some((syncedPath) => syncedPath.endsWith(name)),
          `${name} was fdatasync'd (synced: ${gate.syncedPaths.join(', ')})`,
        );
      }
    } finally {
      gate.release();
      await wal.close();
    }
    assert.deepEqual(indexedSegments(dir), [0, 1]);
    const reopened = await Wal.open({ dir });
    const records: string[] = [];
    for await (const record of reopened.read({ from: 0 })) records.push(record.data.toString());
    assert.deepEqual(records, ['a', 'b', 'c']);
    await reopened.close();
  });

  test('a producer awaiting each append waits once SEALS_IN_FLIGHT_MAX seals are behind, so open descriptors stay bounded', async () => {
    const dir = freshFolder();
    const gate = new IndexGateFileSystem();
    const wal = await Wal.open({ dir, fsync: { batch: { intervalMs: 5 } }, segmentMaxRecords: 1, fileSystem: gate });
    gate.hold();
    try {
      // Record k opens segment k and starts the seal of segment k-1.
      for (let index = 0; index <= SEALS_IN_FLIGHT_MAX; index += 1) assert.equal((await wal.append(`r${index}`)).offset, index);
      const blocked = wal.append('past the bound');
      assert.equal(await within(blocked, 300), 'timeout', 'the append past the bound waits for the oldest seal');
      // The seals behind, the active segment, the one the waiting append
      // opened, the preparer's files (at most 2), the LOCK: nothing more.
      assert.ok(gate.openWriteHandles <= SEALS_IN_FLIGHT_MAX + 5, `${gate.openWriteHandles} write handles open`);
      gate.release();
      assert.equal((await blocked).offset, SEALS_IN_FLIGHT_MAX + 1);
    } finally {
      gate.release();
      await wal.close();
    }
    assert.equal(gate.openWriteHandles, 0);
  });
});
