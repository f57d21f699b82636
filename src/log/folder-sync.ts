/**
 * The fsyncs of a log's folder, which make its creates and renames durable.
 * One runs at a time. A caller that comes while one is in flight waits for
 * it and shares its outcome: a failed folder fsync leaves the folder's
 * state unknown, so everyone who counted on it fails too, and nobody
 * retries it. After a sync that went well, a caller syncs again only if
 * the folder changed since that sync started.
 */
import type { FileSystem } from '../io/file-system.js';

export class FolderSync {
  readonly #fileSystem: FileSystem;
  readonly #dir: string;
  #dirty = false;
  #inFlight: Promise<void> | null = null;

  constructor(fileSystem: FileSystem, dir: string) {
    this.#fileSystem = fileSystem;
    this.#dir = dir;
  }

  /** A file of the folder was created or renamed: the next {@link sync} must fsync the folder. */
  markDirty(): void {
    this.#dirty = true;
  }

  /**
   * Makes every change marked so far durable.
   * @throws the failure of the folder fsync it ran, or of the one it waited for
   */
  async sync(): Promise<void> {
    while (this.#inFlight !== null) await this.#inFlight;
    if (!this.#dirty) return;
    this.#dirty = false;
    const run = this.#fileSystem.syncDir(this.#dir);
    this.#inFlight = run;
    try {
      await run;
    } finally {
      if (this.#inFlight === run) this.#inFlight = null;
    }
  }
}
