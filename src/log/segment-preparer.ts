/**
 * Keeps the next segment file ready before it is needed (etcd's file
 * pipeline), so that the append that crosses the size limit does not wait
 * for file creation or preallocation. The prepared file has a temp name;
 * rotation renames it to the segment's name once the base offset is known.
 */
import { join } from 'node:path';
import type { Clock } from '../io/clock.js';
import type { FileHandle, FileSystem } from '../io/file-system.js';
import { writeFully } from '../io/write-fully.js';

export const PREPARED_FILE_PREFIX = 'prepared-';
/**
 * Most files kept prepared at once. One is enough for large segments; when
 * rotation comes faster than a file can be created (S1 rotates every 100
 * records; under load a create took ~4 ms here), a wait adds a second.
 * Each holds a descriptor: 2 keeps a log at 3 (docs/manager.md counts
 * them); 4 measured no better than 2 in S1.
 */
export const PREPARED_FILES_MAX = 2;
/** A take that waited longer than this makes the preparer keep one more file ready. */
const TAKE_WAIT_MS_DEEPEN = 0.5;

/** A prepared file and how many bytes of zeros it already holds. */
export interface PreparedFile {
  readonly handle: FileHandle;
  readonly allocatedBytes: number;
}

export class SegmentPreparer {
  readonly #fileSystem: FileSystem;
  readonly #dir: string;
  readonly #dsync: boolean;
  readonly #clock: Clock;
  #sequence: number;
  /** Files prepared or being prepared, oldest first. */
  readonly #prepared: Promise<PreparedFile>[];
  /** How many files to keep prepared (1 to PREPARED_FILES_MAX). */
  #depth: number;
  /** Zeros to write into the next prepared file; 0 turns preallocation off. */
  preallocateBytes: number;

  constructor(fileSystem: FileSystem, dir: string, dsync: boolean, preallocateBytes: number, clock: Clock) {
    this.#fileSystem = fileSystem;
    this.#dir = dir;
    this.#dsync = dsync;
    this.#clock = clock;
    this.#sequence = 0;
    this.#prepared = [];
    this.#depth = 1;
    this.preallocateBytes = preallocateBytes;
  }

  /** Starts preparing files until `depth` are ready or under way. */
  start(): void {
    while (this.#prepared.length < this.#depth) {
      const prepared = this.#prepare(this.preallocateBytes);
      // The failure is reported by take(); this only keeps it from being unhandled meanwhile.
      prepared.catch(() => {});
      this.#prepared.push(prepared);
    }
  }

  /** Hands over the oldest prepared file (waiting if it is not ready) and starts the next. */
  async take(): Promise<PreparedFile> {
    this.start();
    const prepared = this.#prepared.shift();
    if (prepared === undefined) throw new Error('segment preparer has no file under way');
    const startedMs = this.#clock.monotonicMs();
    const file = await prepared;
    if (this.#clock.monotonicMs() - startedMs > TAKE_WAIT_MS_DEEPEN) this.#depth = Math.min(PREPARED_FILES_MAX, this.#depth + 1);
    this.start();
    return file;
  }

  /** Closes and removes the prepared files that were never used. */
  async close(): Promise<void> {
    const prepared = this.#prepared.splice(0);
    for (const pending of prepared) {
      const file = await pending.catch(() => null);
      if (file === null) continue;
      await file.handle.close();
      await this.#fileSystem.unlink(file.handle.path);
    }
  }

  async #prepare(preallocateBytes: number): Promise<PreparedFile> {
    this.#sequence += 1;
    const path = join(this.#dir, `${PREPARED_FILE_PREFIX}${process.pid}-${this.#sequence}.tmp`);
    try {
      return await this.#create(path, preallocateBytes);
    } catch (error) {
      // Best effort, so that a full disk does not keep a half-filled file
      // until the next open (which would remove it): the log fails anyway.
      await this.#fileSystem.unlink(path).catch(() => {});
      throw error;
    }
  }

  async #create(path: string, preallocateBytes: number): Promise<PreparedFile> {
    if (preallocateBytes > 0) {
      // Zeros through a plain handle and one sync: far cheaper than O_DSYNC writes.
      const zeros = Buffer.alloc(preallocateBytes);
      const filler = await this.#fileSystem.open(path, { write: true, exclusive: true });
      try {
        await writeFully(filler, zeros, 0, zeros.length, 0);
        // Unsynced zeros are still unallocated blocks (delayed allocation), so
        // the first synced write into them would commit the allocation.
        if (this.#dsync) await filler.datasync();
      } finally {
        await filler.close();
      }
    }
    const handle = await this.#fileSystem.open(path, { write: true, create: true, exclusive: preallocateBytes === 0, dsync: this.#dsync });
    // Under 'always' the file must exist durably before records are
    // acknowledged in it: rotation then only renames it, and recovery
    // finishes a rename that a power cut lost (a prepared file holding a
    // segment header). Under the other policies the log's next sync covers
    // the folder (Wal #syncData).
    if (this.#dsync) {
      try {
        await this.#fileSystem.syncDir(this.#dir);
      } catch (error) {
        await handle.close().catch(() => {});
        throw error;
      }
    }
    return { handle, allocatedBytes: preallocateBytes };
  }
}
