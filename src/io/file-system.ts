/**
 * The one door to the disk. The engine never imports node:fs; it talks to a
 * FileSystem, so tests can wrap the real one to inject EIO, ENOSPC and short
 * writes, or replace it with a simulation that models power cuts.
 */

/** How a file is opened. */
export interface OpenOptions {
  /** Open for writing (reads stay possible). */
  readonly write?: boolean;
  /** Create the file if missing. */
  readonly create?: boolean;
  /** Fail with EEXIST if the file exists (implies create). */
  readonly exclusive?: boolean;
  /**
   * Every write returns only once its data is durable (O_DSYNC): one
   * syscall does the work of write + fdatasync.
   */
  readonly dsync?: boolean;
}

/** An open file. Positions are byte positions in the file. */
export interface FileHandle {
  /** Path the file was opened at (updated by the engine on rename). */
  path: string;
  /** Reads up to `sizeBytes` into `buffer` at `bufferPosition`; returns bytes read (0 at end of file). */
  read(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): Promise<number>;
  /** Writes up to `sizeBytes`; returns bytes written, which may be fewer (a short write). */
  write(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): Promise<number>;
  /** Blocking write, for page-cache writes that cost less than a thread-pool round trip. */
  writeSync(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): number;
  /** fdatasync(2). */
  datasync(): Promise<void>;
  /** ftruncate(2). */
  truncate(sizeBytes: number): Promise<void>;
  /** Current size in bytes (fstat). */
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}

export interface FileSystem {
  open(path: string, options: OpenOptions): Promise<FileHandle>;
  /** Reads a whole small file; `null` when it does not exist. */
  readFile(path: string): Promise<Buffer | null>;
  rename(fromPath: string, toPath: string): Promise<void>;
  /** Removes a file; succeeds when it is already gone. */
  unlink(path: string): Promise<void>;
  /** Creates a folder and its parents. */
  mkdir(path: string): Promise<void>;
  /** Names in a folder (not paths). */
  readdir(path: string): Promise<string[]>;
  /** fsync of a folder, so that creates, renames and unlinks in it are durable. */
  syncDir(path: string): Promise<void>;
}
