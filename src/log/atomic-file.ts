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
