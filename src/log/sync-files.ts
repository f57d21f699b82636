/**
 * fdatasync of files by path, a few at a time: the journaled logs' segments
 * sealed without a sync, synced together at a journal checkpoint.
 */
import type { FileSystem } from '../io/file-system.js';

/** Files synced at once (the thread pool runs 4). */
const SYNC_CONCURRENCY = 8;

/** Syncs each file; a file deleted meanwhile (retention) needs no sync. */
export async function syncFilesAt(fileSystem: FileSystem, paths: readonly string[]): Promise<void> {
  for (let start = 0; start < paths.length; start += SYNC_CONCURRENCY) {
    await Promise.all(paths.slice(start, start + SYNC_CONCURRENCY).map((path) => syncFileAt(fileSystem, path)));
  }
}

async function syncFileAt(fileSystem: FileSystem, path: string): Promise<void> {
  let handle;
  try {
    handle = await fileSystem.open(path, {});
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
