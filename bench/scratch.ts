/**
 * Scratch folders for benchmark data and the page-cache switch. Folders live
 * under os.tmpdir() (or --dir), which must be on the disk being measured.
 *
 * They are removed at the end of the benchmark, not after each workload,
 * while the disk has room: on ext4 without a journal (this machine's disk)
 * creating a file walks past every inode of its block group freed in the
 * last 60-360 s (the kernel's `recently_deleted()` check), so deleting one
 * workload's thousands of segment files slowed the file creation of the
 * next, and results depended on workload order. Measured: S1 under batch
 * fell from about 160,000 to about 100,000 records/s right after another
 * run's folder was deleted (docs/performance.md).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let scratchRoot = os.tmpdir();

/** Where scratch folders are made from now on. */
export function setScratchRoot(root: string): void {
  fs.mkdirSync(root, { recursive: true });
  scratchRoot = root;
}

export function getScratchRoot(): string {
  return scratchRoot;
}

/** A new empty folder whose name starts with `tidewal-bench-<label>-`. */
export async function makeScratchDir(label: string): Promise<string> {
  return fs.promises.mkdtemp(path.join(scratchRoot, `tidewal-bench-${label}-`));
}

/** Below this much free space a scratch folder is removed at once rather than at the end. */
const DEFERRED_REMOVAL_FREE_BYTES_MIN = 20 * 1024 * 1024 * 1024;

const removalsDeferred: string[] = [];

/** Removes `dir` at the end of the benchmark ({@link removeDeferredScratchDirs}), or now if the disk is filling. */
export async function removeScratchDir(dir: string): Promise<void> {
  const stats = await fs.promises.statfs(dir);
  if (stats.bavail * stats.bsize >= DEFERRED_REMOVAL_FREE_BYTES_MIN) {
    removalsDeferred.push(dir);
    return;
  }
  await fs.promises.rm(dir, { recursive: true, force: true });
}

/** Removes every scratch folder whose removal was deferred. */
export async function removeDeferredScratchDirs(): Promise<void> {
  for (const dir of removalsDeferred.splice(0)) await fs.promises.rm(dir, { recursive: true, force: true });
}

/**
 * Writes dirty pages back, then drops the page cache so the next read comes
 * from the disk. Needs root and a writable /proc/sys; returns why not otherwise.
 */
export function dropPageCache(): { readonly dropped: true } | { readonly dropped: false; readonly reason: string } {
  try {
    execFileSync('sync');
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
    return { dropped: true };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error);
    return { dropped: false, reason: `cannot drop the page cache (${reason})` };
  }
}

/** Sum of the sizes of the regular files in `dir` whose names end with `suffix`. */
export async function folderBytes(dir: string, suffix: string): Promise<number> {
  let total = 0;
  for (const name of await fs.promises.readdir(dir)) {
    if (!name.endsWith(suffix)) continue;
    const stats = await fs.promises.stat(path.join(dir, name));
    if (stats.isFile()) total += stats.size;
  }
  return total;
}
