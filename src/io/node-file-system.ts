/**
 * The real file system. Node's callback API is used rather than
 * fs/promises: it allocates less per call, and every group commit pays for
 * each call. This is the only file that speaks Node's
 * `fs.write(fd, buffer, offset, length, position)` vocabulary.
 */
import fs from 'node:fs';
import { dirname } from 'node:path';
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

  mkdir(path: string): Promise<void> {
    return makeFolders(path);
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

/**
 * Creates `path` and any missing folders above it. Node's own recursive
 * mkdir never settles when a parent exists but cannot hold the child: a
 * dangling symlink, or a path under /proc, answers ENOENT however often
 * the parent is made again, and Node 20 retries forever on a pool thread
 * (the loop Node once had on Windows for a file in the way, nodejs/node#27198).
 * Here an ENOENT once the parent exists is final.
 */
async function makeFolders(path: string): Promise<void> {
  if (await makeFolder(path)) return;
  const parent = dirname(path);
  if (parent === path) throw errnoError('ENOENT', -2, path, 'no such file or directory', 'the root is missing');
  await makeFolders(parent);
  if (!(await makeFolder(path))) throw errnoError('ENOENT', -2, path, 'no such file or directory', 'its parent exists but cannot hold it: a virtual file system such as /proc, or the parent was removed meanwhile');
}

/** Makes one folder: true when it exists now, false when its parent is missing (ENOENT). */
async function makeFolder(path: string): Promise<boolean> {
  try {
    await fs.promises.mkdir(path);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    // Made meanwhile by someone else, or there already: fine if it is a folder.
    if (isErrno(error, 'EEXIST')) {
      if (await isFolder(path)) return true;
      // A file, or a symlink to nothing: not a folder, as ENOTDIR says of a path.
      throw errnoError('ENOTDIR', -20, path, 'not a directory', 'a file or a symlink to nothing is in the way');
    }
    throw error;
  }
}

/** Whether `path` is a folder: false for a file or a symlink to nothing; other errors (EIO) throw. */
async function isFolder(path: string): Promise<boolean> {
  try {
    return (await fs.promises.stat(path)).isDirectory();
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ELOOP') || isErrno(error, 'ENOTDIR')) return false;
    throw error;
  }
}

function errnoError(code: string, errno: number, path: string, text: string, why: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: ${text}, mkdir '${path}' (${why})`);
  error.code = code;
  error.errno = errno;
  error.syscall = 'mkdir';
  error.path = path;
  return error;
}

/** True when `error` is a Node errno error with this `code`. */
export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
