/**
 * The real file system. Node's callback API is used rather than
 * fs/promises: it allocates less per call, and every group commit pays for
 * each call. This is the only file that speaks Node's
 * `fs.write(fd, buffer, offset, length, position)` vocabulary.
 */
import fs from 'node:fs';
import type { FileHandle, FileSystem, OpenOptions } from './file-system.js';

function openFlags(options: OpenOptions): number {
  const { constants } = fs;
  let flags = options.write === true ? constants.O_RDWR : constants.O_RDONLY;
  if (options.create === true || options.exclusive === true) flags |= constants.O_CREAT;
  if (options.exclusive === true) flags |= constants.O_EXCL;
  if (options.dsync === true) flags |= constants.O_DSYNC;
  return flags;
}

class NodeFileHandle implements FileHandle {
  path: string;
  readonly #fd: number;

  constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  read(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): Promise<number> {
    return new Promise((resolve, reject) => {
      fs.read(this.#fd, buffer, bufferPosition, sizeBytes, filePosition, (error, bytesRead) => {
        if (error) reject(error);
        else resolve(bytesRead);
      });
    });
  }

  write(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): Promise<number> {
    return new Promise((resolve, reject) => {
      fs.write(this.#fd, buffer, bufferPosition, sizeBytes, filePosition, (error, bytesWritten) => {
        if (error) reject(error);
        else resolve(bytesWritten);
      });
    });
  }

  writeSync(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): number {
    return fs.writeSync(this.#fd, buffer, bufferPosition, sizeBytes, filePosition);
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.fdatasync(this.#fd, (error) => (error ? reject(error) : resolve()));
    });
  }

  truncate(sizeBytes: number): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.ftruncate(this.#fd, sizeBytes, (error) => (error ? reject(error) : resolve()));
    });
  }

  sizeBytes(): Promise<number> {
    return new Promise((resolve, reject) => {
      fs.fstat(this.#fd, (error, stats) => (error ? reject(error) : resolve(stats.size)));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.close(this.#fd, (error) => (error ? reject(error) : resolve()));
    });
  }
}

/** The file system of this machine, through node:fs. */
export class NodeFileSystem implements FileSystem {
  open(path: string, options: OpenOptions): Promise<FileHandle> {
    return new Promise((resolve, reject) => {
      fs.open(path, openFlags(options), 0o644, (error, fd) => {
        if (error) reject(error);
        else resolve(new NodeFileHandle(path, fd));
      });
    });
  }

  async readFile(path: string): Promise<Buffer | null> {
    try {
      return await fs.promises.readFile(path);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw error;
    }
  }

  rename(fromPath: string, toPath: string): Promise<void> {
    return fs.promises.rename(fromPath, toPath);
  }

  async unlink(path: string): Promise<void> {
    try {
      await fs.promises.unlink(path);
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
    }
  }

  async mkdir(path: string): Promise<void> {
    await fs.promises.mkdir(path, { recursive: true });
  }

  readdir(path: string): Promise<string[]> {
    return fs.promises.readdir(path);
  }

  async syncDir(path: string): Promise<void> {
    const handle = await fs.promises.open(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

/** True when `error` is a Node errno error with this `code`. */
export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
