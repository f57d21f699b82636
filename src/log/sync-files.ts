/**
 * fdatasync of files by path, a few at a time: the journaled logs' segments
 * sealed without a sync, synced together at a journal checkpoint.
 */
import type { FileSystem } from '../io/file-system.js';

/** Files synced at once (the thread pool runs 4). */
const SYNC_CONCURRENCY = 8;

/**
 * Syncs each file. A file deleted meanwhile (retention) needs no sync of
 * its own, but its deletion does: until the folder is synced, a power cut
 * may bring the file back without the writes it was never synced with.
 * @returns how many of the files were gone (the caller syncs their folder)
 */
export async function syncFilesAt(fileSystem: FileSystem, paths: readonly string[]): Promise<number> {
  let goneCount = 0;
  for (let start = 0; start < paths.length; start += SYNC_CONCURRENCY) {
    const synced = await Promise.all(paths.slice(start, start + SYNC_CONCURRENCY).map((path) => syncFileAt(fileSystem, path)));
    for (const found of synced) if (!found) goneCount += 1;
  }
  return goneCount;
}

/** False when the file is gone. */
async function syncFileAt(fileSystem: FileSystem, path: string): Promise<boolean> {
  let handle;
  try {
    handle = await fileSystem.open(path, {});
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return true;
}
