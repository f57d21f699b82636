/**
 * A small LRU of read handles to segment files, shared by every reader of a
 * log (and, through WalManager, by every log), so that the number of open
 * descriptors stays bounded however many readers and segments there are.
 * A handle in use is never closed; the cache may exceed its limit while
 * more than `maxOpenFiles` handles are in use at once, and shrinks back as
 * they are released.
 */
import { assert } from '../assert.js';
import type { FileHandle, FileSystem } from '../io/file-system.js';
import { checkFileCacheArguments } from './options.js';
import { WalClosedError } from '../errors.js';

interface CacheEntry {
  readonly path: string;
  readonly handle: Promise<FileHandle>;
  useCount: number;
  /** Its file was deleted while the handle was in use: close it when the last user releases it. */
  forgotten: boolean;
}

/** LRU of open read-only file handles. */
export class FileCache {
  readonly maxOpenFiles: number;
  readonly #fileSystem: FileSystem;
  /** Map iteration order is the LRU order: oldest first. */
  readonly #entries = new Map<string, CacheEntry>();
  /** Set by closeAll(): a handle opened afterwards would outlive its log (nothing would close it). */
  #closed = false;

  constructor(fileSystem: FileSystem, maxOpenFiles: number) {
    checkFileCacheArguments(fileSystem, maxOpenFiles);
    this.#fileSystem = fileSystem;
    this.maxOpenFiles = maxOpenFiles;
  }

  /** Number of handles open now (in use or idle). */
  get openCount(): number {
    return this.#entries.size;
  }

  /** Borrows a read handle for `path`; give it back with {@link release}. */
  async acquire(path: string): Promise<FileHandle> {
    if (this.#closed) throw new WalClosedError('read records');
    let entry = this.#entries.get(path);
    if (entry === undefined) {
      entry = { path, handle: this.#fileSystem.open(path, {}), useCount: 0, forgotten: false };
      this.#entries.set(path, entry);
      entry.handle.catch(() => this.#entries.get(path) === entry && this.#entries.delete(path));
    } else {
      this.#entries.delete(path);
      this.#entries.set(path, entry);
    }
    entry.useCount += 1;
    try {
      return await entry.handle;
    } catch (error) {
      entry.useCount -= 1;
      throw error;
    } finally {
      this.#evict();
    }
  }

  /** Returns a handle borrowed with {@link acquire}. */
  release(path: string): void {
    const entry = this.#entries.get(path);
    assert(entry !== undefined && entry.useCount > 0, 'released handle was acquired');
    entry.useCount -= 1;
    if (entry.useCount === 0 && entry.forgotten) {
      this.#entries.delete(path);
      void closeQuietly(entry.handle);
    }
    this.#evict();
  }

  /**
   * Closes the handle of `path` (its file is being deleted or rewritten):
   * now when idle, else when its last user releases it, so that a deleted
   * file's space is not held until the LRU gets to it.
   */
  forget(path: string): void {
    const entry = this.#entries.get(path);
    if (entry === undefined) return;
    if (entry.useCount > 0) {
      entry.forgotten = true;
      return;
    }
    this.#entries.delete(path);
    void closeQuietly(entry.handle);
  }

  /** Closes every idle handle, and each one in use when its last user releases it, and opens none after; used by close(). */
  async closeAll(): Promise<void> {
    this.#closed = true;
    const closing: Promise<void>[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.useCount === 0) {
        this.#entries.delete(entry.path);
        closing.push(closeQuietly(entry.handle));
      } else {
        entry.forgotten = true;
      }
    }
    await Promise.all(closing);
  }

  #evict(): void {
    if (this.#entries.size <= this.maxOpenFiles) return;
    for (const entry of this.#entries.values()) {
      if (this.#entries.size <= this.maxOpenFiles) break;
      if (entry.useCount > 0) continue;
      this.#entries.delete(entry.path);
      void closeQuietly(entry.handle);
    }
  }
}

async function closeQuietly(handle: Promise<FileHandle>): Promise<void> {
  try {
    await (await handle).close();
  } catch {
    // A read handle has nothing to flush; a failed close loses nothing.
  }
}
