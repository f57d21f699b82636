/**
 * Which kind of owner a folder belongs to, judged by its entries, so that a
 * Wal is not opened in a WalManager's folder (its segments would land among
 * the topic folders) and a manager is not opened in a log's folder (its
 * `~manager` would land among the segments). Both kinds tolerate files they
 * do not know; this only refuses the other kind's own.
 */
import { dirname, join, resolve } from 'node:path';
import type { FileSystem } from '../io/file-system.js';
import { listFolderOrNull } from '../io/list-or-create-folder.js';
import { CLEAN_MARKER_FILE_NAME } from './clean-marker.js';
import { LOCK_FILE_NAME } from './lock.js';
import { parseSegmentFileName } from './segment-name.js';

/** Folder of a manager's own files (LOCK, checkpoints, journal) inside its folder. */
export const MANAGER_FOLDER_NAME = '~manager';

/**
 * The entry that shows whose folder this is, or null when it shows no owner.
 * `~manager` decides first, whatever the listing order: a manager's topic
 * may be named `LOCK`, `clean-shutdown` or like a segment file.
 */
export function folderOwner(names: readonly string[]): { readonly kind: 'log' | 'manager'; readonly entry: string } | null {
  if (names.includes(MANAGER_FOLDER_NAME)) return { kind: 'manager', entry: MANAGER_FOLDER_NAME };
  const logEntry = names.find((name) => name === LOCK_FILE_NAME || name === CLEAN_MARKER_FILE_NAME || parseSegmentFileName(name) !== null);
  return logEntry === undefined ? null : { kind: 'log', entry: logEntry };
}

/**
 * The WalManager folder that `dir` lies in (a folder above it holds
 * `~manager`), or null. Such a folder belongs to the manager: a log opened
 * there on its own would miss the records that only the manager's journal
 * holds and fork from it, and a manager opened there would write its
 * topics among the other manager's partitions.
 */
export async function managerFolderAbove(fileSystem: FileSystem, dir: string): Promise<string | null> {
  const candidates: string[] = [];
  // From the absolute path: a relative one ('5', run inside a topic folder) names no folder above it.
  for (let folder = dirname(resolve(dir)); ; folder = dirname(folder)) {
    candidates.push(folder);
    if (dirname(folder) === folder) break;
  }
  // All looked up at once: this runs in every standalone open.
  const listings = await Promise.all(candidates.map((candidate) => managerFolderListing(fileSystem, join(candidate, MANAGER_FOLDER_NAME))));
  const found = listings.findIndex((names) => names !== null);
  return found === -1 ? null : (candidates[found] ?? null);
}

/** The names in a `~manager` folder above a log; null when there is none. */
async function managerFolderListing(fileSystem: FileSystem, path: string): Promise<string[] | null> {
  try {
    return await listFolderOrNull(fileSystem, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A file above the log: no manager there (the open reports the file itself).
    if (code === 'ENOTDIR') return null;
    // There, but not ours to list: still a manager's folder.
    if (code === 'EACCES' || code === 'EPERM') return [];
    throw error;
  }
}
