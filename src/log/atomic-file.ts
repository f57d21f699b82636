/**
 * Replaces a small file all at once: write a temp file, sync it, rename it
 * over the old name, sync the folder. After a crash the name holds the old
 * content or the new, never a mix.
 */
import { join } from 'node:path';
import type { FileSystem } from '../io/file-system.js';
import { writeFully } from '../io/write-fully.js';

let temporarySequence = 0;

/**
 * @param options.durable when false, skip both syncs: for caches verified by
 *   their own checksum, where losing the file costs only a rebuild
 */
export async function writeFileAtomic(
  fileSystem: FileSystem,
  dir: string,
  name: string,
  content: Buffer,
  options: { readonly durable: boolean },
): Promise<void> {
  temporarySequence += 1;
  const temporaryPath = join(dir, `${name}.${process.pid}.${temporarySequence}.tmp`);
  const handle = await fileSystem.open(temporaryPath, { write: true, exclusive: true });
  try {
    await writeFully(handle, content, 0, content.length, 0);
    if (options.durable) await handle.datasync();
  } finally {
    await handle.close();
  }
  await fileSystem.rename(temporaryPath, join(dir, name));
  if (options.durable) await fileSystem.syncDir(dir);
}

/**
 * Writes a cache file verified by its own checksum (a segment index): a new
 * one is written in place, with no temp file, rename or sync, because a torn
 * write fails its checksum and costs only a rebuild; an existing one (stale,
 * left by a crash or a repair) is replaced through writeFileAtomic, so a
 * reader never sees a mix of two versions. Measured: the rename was a third
 * of the metadata work of each rotation under S1 load (docs/decisions.md).
 */
export async function writeCacheFile(fileSystem: FileSystem, dir: string, name: string, content: Buffer): Promise<void> {
  let handle;
  try {
    handle = await fileSystem.open(join(dir, name), { write: true, exclusive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    await writeFileAtomic(fileSystem, dir, name, content, { durable: false });
    return;
  }
  try {
    await writeFully(handle, content, 0, content.length, 0);
  } finally {
    await handle.close();
  }
}
