/**
 * The real file system, except that a test can hold the thread-pool writes
 * (and, unless told otherwise, the fdatasyncs; if asked, the closes) of
 * files opened for writing until it releases them. It also records which files were fdatasync'd and
 * how many write handles are open.
 */
import type { FileHandle, FileSystem, OpenOptions } from '../src/io/file-system.js';
import { NodeFileSystem } from '../src/io/node-file-system.js';

export class GatedFileSystem implements FileSystem {
  readonly #inner = new NodeFileSystem();
  readonly #holdsSyncs: boolean;
  readonly #holdsCloses: boolean;
  #open = true;
  #waiters: Array<() => void> = [];
  /** Calls that had to wait at the gate. */
  heldCount = 0;
  /** Paths fdatasync'd so far, in order. */
  readonly syncedPaths: string[] = [];
  /** Write handles open now. */
  openWriteHandles = 0;
  /** Thread-pool writes to files opened for writing (under 'always', the O_DSYNC group writes). */
  writeCount = 0;

  /**
   * @param options.holdsSyncs hold fdatasyncs too, not only writes @default true
   * @param options.holdsCloses hold closes too (the last step of a seal) @default false
   */
  constructor(options: { readonly holdsSyncs?: boolean; readonly holdsCloses?: boolean } = {}) {
    this.#holdsSyncs = options.holdsSyncs ?? true;
    this.#holdsCloses = options.holdsCloses ?? false;
  }

  /** From now on, held calls wait (open writes a segment header that way: hold after it). */
  hold(): void {
    this.#open = false;
  }

  /** Calls waiting at the gate now. */
  get waitingCount(): number {
    return this.#waiters.length;
  }

  release(): void {
    this.#open = true;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  async #pass(): Promise<void> {
    if (this.#open) return;
    this.heldCount += 1;
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  async open(filePath: string, options: OpenOptions): Promise<FileHandle> {
    const handle = await this.#inner.open(filePath, options);
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
        await gate.#pass();
        gate.writeCount += 1;
        return handle.write(...args);
      },
      writeSync: (...args) => handle.writeSync(...args),
      async datasync() {
        if (gate.#holdsSyncs) await gate.#pass();
        await handle.datasync();
        gate.syncedPaths.push(handle.path);
      },
      truncate: (sizeBytes) => handle.truncate(sizeBytes),
      sizeBytes: () => handle.sizeBytes(),
      async close() {
        if (gate.#holdsCloses) await gate.#pass();
        gate.openWriteHandles -= 1;
        await handle.close();
      },
    };
  }

  readFile(filePath: string): Promise<Buffer | null> {
    return this.#inner.readFile(filePath);
  }
  rename(fromPath: string, toPath: string): Promise<void> {
    return this.#inner.rename(fromPath, toPath);
  }
  unlink(filePath: string): Promise<void> {
    return this.#inner.unlink(filePath);
  }
  mkdir(dirPath: string): Promise<void> {
    return this.#inner.mkdir(dirPath);
  }
  readdir(dirPath: string): Promise<string[]> {
    return this.#inner.readdir(dirPath);
  }
  syncDir(dirPath: string): Promise<void> {
    return this.#inner.syncDir(dirPath);
  }
}
