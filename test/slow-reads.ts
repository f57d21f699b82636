/**
 * A file system whose read handles wait before every read, so that a test
 * can have reads in flight while something else happens (appends, a close).
 */
import type { FileHandle, FileSystem, OpenOptions } from '../src/io/file-system.js';

export function slowReads(inner: FileSystem, delayMs: number): FileSystem {
  return {
    open: async (path: string, options: OpenOptions): Promise<FileHandle> => {
      const handle = await inner.open(path, options);
      if (options.write === true) return handle;
      const read = handle.read.bind(handle);
      handle.read = async (...args) => {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        return read(...args);
      };
      return handle;
    },
    readFile: (path) => inner.readFile(path),
    rename: (fromPath, toPath) => inner.rename(fromPath, toPath),
    unlink: (path) => inner.unlink(path),
    mkdir: (path) => inner.mkdir(path),
    readdir: (path) => inner.readdir(path),
    syncDir: (path) => inner.syncDir(path),
  };
}
