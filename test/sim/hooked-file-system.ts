/**
 * A file system whose every asynchronous call completes through a hook,
 * so that a test can reorder or delay I/O completions (and with them the
 * order in which the engine's awaits resume) without changing what the
 * calls do on disk.
 */
import path from 'node:path';
import type { FileHandle, FileSystem, OpenOptions } from '../../src/io/file-system.js';

/** Runs `call` and settles when it chooses, with the call's outcome; `label` names the call (for schedulers' reports). */
export type CompletionHook = <T>(label: string, call: () => Promise<T>) => Promise<T>;

export function hookCompletions(inner: FileSystem, hook: CompletionHook): FileSystem {
  const wrapHandle = (handle: FileHandle): FileHandle => ({
    // The engine renames files and updates `path`: both views must agree.
    get path(): string {
      return handle.path;
    },
    set path(value: string) {
      handle.path = value;
    },
    read: (buffer, bufferPosition, sizeBytes, filePosition) =>
      hook(`read ${path.basename(handle.path)}`, () => handle.read(buffer, bufferPosition, sizeBytes, filePosition)),
    write: (buffer, bufferPosition, sizeBytes, filePosition) =>
      hook(`write ${path.basename(handle.path)}`, () => handle.write(buffer, bufferPosition, sizeBytes, filePosition)),
    // Blocking by contract: nothing to reorder.
    writeSync: (buffer, bufferPosition, sizeBytes, filePosition) => handle.writeSync(buffer, bufferPosition, sizeBytes, filePosition),
    datasync: () => hook(`datasync ${path.basename(handle.path)}`, () => handle.datasync()),
    truncate: (sizeBytes) => hook(`truncate ${path.basename(handle.path)}`, () => handle.truncate(sizeBytes)),
    sizeBytes: () => hook(`size ${path.basename(handle.path)}`, () => handle.sizeBytes()),
    close: () => hook(`close ${path.basename(handle.path)}`, () => handle.close()),
  });
  return {
    open: async (filePath: string, options: OpenOptions): Promise<FileHandle> =>
      wrapHandle(await hook(`open ${path.basename(filePath)}`, () => inner.open(filePath, options))),
    readFile: (filePath) => hook(`readFile ${path.basename(filePath)}`, () => inner.readFile(filePath)),
    rename: (fromPath, toPath) => hook(`rename ${path.basename(toPath)}`, () => inner.rename(fromPath, toPath)),
    unlink: (filePath) => hook(`unlink ${path.basename(filePath)}`, () => inner.unlink(filePath)),
    mkdir: (folder) => hook('mkdir', () => inner.mkdir(folder)),
    readdir: (folder) => hook('readdir', () => inner.readdir(folder)),
    syncDir: (folder) => hook('syncDir', () => inner.syncDir(folder)),
  };
}
