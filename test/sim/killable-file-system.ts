/**
 * A process's view of a file system that can be killed: after kill(), none
 * of its calls reach the file system any more (asynchronous ones never
 * settle, synchronous ones throw), as if the process died with them in
 * flight. What it wrote stays in the file system below, synced or not: a
 * `kill -9` keeps the page cache. A Wal left on it does nothing more, so a
 * second Wal can open the folder on the file system below.
 */
import type { FileHandle, FileSystem, OpenOptions } from '../../src/io/file-system.js';

const NEVER = new Promise<never>(() => {});

export class KillableFileSystem implements FileSystem {
  readonly #inner: FileSystem;
  #killed = false;
  /** Calls that reached the file system below and have not returned. */
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(inner: FileSystem) {
    this.#inner = inner;
  }

  /**
   * Kills the process: no new call gets through, and this resolves once the
   * calls already under way have finished in the file system below (the
   * kernel completes a dead process's system calls before anyone else
   * opens its files).
   */
  async kill(): Promise<void> {
    this.#killed = true;
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Runs `call` unless killed; a call that returns after the kill never settles for its caller. */
  async pass<T>(call: () => Promise<T>): Promise<T> {
    if (this.#killed) return NEVER;
    const running = call();
    this.#inFlight.add(running);
    try {
      const result = await running;
      if (this.#killed) return NEVER;
      return result;
    } finally {
      this.#inFlight.delete(running);
    }
  }

  passSync<T>(call: () => T): T {
    if (this.#killed) throw new Error('the process was killed');
    return call();
  }

  async open(path: string, options: OpenOptions): Promise<FileHandle> {
    const handle = await this.pass(() => this.#inner.open(path, options));
    return new KillableHandle(this, handle);
  }

  readFile(path: string): Promise<Buffer | null> {
    return this.pass(() => this.#inner.readFile(path));
  }

  rename(fromPath: string, toPath: string): Promise<void> {
    return this.pass(() => this.#inner.rename(fromPath, toPath));
  }

  unlink(path: string): Promise<void> {
    return this.pass(() => this.#inner.unlink(path));
  }

  mkdir(path: string): Promise<void> {
    return this.pass(() => this.#inner.mkdir(path));
  }

  readdir(path: string): Promise<string[]> {
    return this.pass(() => this.#inner.readdir(path));
  }

  syncDir(path: string): Promise<void> {
    return this.pass(() => this.#inner.syncDir(path));
  }
}

class KillableHandle implements FileHandle {
  readonly #owner: KillableFileSystem;
  readonly #inner: FileHandle;

  constructor(owner: KillableFileSystem, inner: FileHandle) {
    this.#owner = owner;
    this.#inner = inner;
  }

  get path(): string {
    return this.#inner.path;
  }

  set path(path: string) {
    this.#inner.path = path;
  }

  read(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): Promise<number> {
    return this.#owner.pass(() => this.#inner.read(buffer, bufferPosition, sizeBytes, filePosition));
  }

  write(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): Promise<number> {
    return this.#owner.pass(() => this.#inner.write(buffer, bufferPosition, sizeBytes, filePosition));
  }

  writeSync(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): number {
    return this.#owner.passSync(() => this.#inner.writeSync(buffer, bufferPosition, sizeBytes, filePosition));
  }

  datasync(): Promise<void> {
    return this.#owner.pass(() => this.#inner.datasync());
  }

  truncate(sizeBytes: number): Promise<void> {
    return this.#owner.pass(() => this.#inner.truncate(sizeBytes));
  }

  sizeBytes(): Promise<number> {
    return this.#owner.pass(() => this.#inner.sizeBytes());
  }

  close(): Promise<void> {
    return this.#owner.pass(() => this.#inner.close());
  }
}
