/**
 * Lists a folder, creating it (and any missing folders above it) first when
 * it does not exist. A new folder's name lives in its parent, so each one
 * created here is synced into its parent, top down, before this returns: a
 * power cut after that keeps the whole path (docs/decisions.md, "Failure and close").
 */
import { dirname } from 'node:path';
import type { FileSystem } from './file-system.js';

/** What {@link listOrCreateFolder} found. */
export interface FolderListing {
  /** The names in the folder; empty when this call created it. */
  readonly names: string[];
  /** This call created the folder, and its name is synced into its parent. */
  readonly created: boolean;
}

/**
 * @throws what `readdir`, `mkdir` or a folder fsync threw (ENOTDIR, EACCES, EIO, ...)
 */
export async function listOrCreateFolder(fileSystem: FileSystem, dir: string): Promise<FolderListing> {
  const names = await listFolderOrNull(fileSystem, dir);
  if (names !== null) return { names, created: false };
  const missing = [dir];
  for (let parent = dirname(dir); parent !== dirname(parent); parent = dirname(parent)) {
    if (!(await isMissing(fileSystem, parent))) break;
    missing.push(parent);
  }
  await fileSystem.mkdir(dir);
  for (const folder of missing.reverse()) await fileSystem.syncDir(dirname(folder));
  return { names: [], created: true };
}

/** The names in `dir`, or null when it does not exist; other errors throw. */
export async function listFolderOrNull(fileSystem: FileSystem, dir: string): Promise<string[] | null> {
  try {
    return await fileSystem.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Only ENOENT says missing: a folder this process may not list (EACCES) still exists, and mkdir reports a file in the way (ENOTDIR). */
function isMissing(fileSystem: FileSystem, dir: string): Promise<boolean> {
  return listFolderOrNull(fileSystem, dir).then((names) => names === null, () => false);
}
