/**
 * Keeps the next segment file ready before it is needed (etcd's file
 * pipeline), so that the append that crosses the size limit does not wait
 * for file creation. The prepared file has a temp name;
 * rotation renames it to the segment's name once the base offset is known.
 */
import { join } from 'node:path';
import type { FileHandle, FileSystem } from '../io/file-system.js';

export const PREPARED_FILE_PREFIX = 'prepared-';

export class SegmentPreparer {
  readonly #fileSystem: FileSystem;
  readonly #dir: string;
  readonly #dsync: boolean;
  #sequence: number;
  #prepared: Promise<FileHandle> | null;

  constructor(fileSystem: FileSystem, dir: string, dsync: boolean) {
    this.#fileSystem = fileSystem;
    this.#dir = dir;
    this.#dsync = dsync;
    this.#sequence = 0;
    this.#prepared = null;
  }

  /** Starts preparing a file if none is ready or under way. */
  start(): void {
    if (this.#prepared !== null) return;
    this.#prepared = this.#prepare();
    // The failure is reported by take(); this only keeps it from being unhandled meanwhile.
    this.#prepared.catch(() => {});
  }

  /** Hands over the prepared file (waiting if it is not ready) and starts the next. */
  async take(): Promise<FileHandle> {
    this.start();
    const prepared = this.#prepared;
    this.#prepared = null;
    if (prepared === null) throw new Error('segment preparer has no file under way');
    const handle = await prepared;
    this.start();
    return handle;
  }

  /** Closes and removes a prepared file that was never used. */
  async close(): Promise<void> {
    const prepared = this.#prepared;
    this.#prepared = null;
    if (prepared === null) return;
    const handle = await prepared.catch(() => null);
    if (handle === null) return;
    await handle.close();
    await this.#fileSystem.unlink(handle.path);
  }

  async #prepare(): Promise<FileHandle> {
    this.#sequence += 1;
    const path = join(this.#dir, `${PREPARED_FILE_PREFIX}${process.pid}-${this.#sequence}.tmp`);
    return this.#fileSystem.open(path, { write: true, exclusive: true, dsync: this.#dsync });
  }
}
