/**
 * Reads a whole range even when the file system returns short reads; stops
 * early only at the end of the file.
 */
import { constants } from 'node:buffer';
import type { FileHandle } from './file-system.js';

/** Reads up to `sizeBytes` into `buffer` at `bufferPosition`; returns the bytes read (fewer only at end of file). */
export async function readFully(
  handle: FileHandle,
  buffer: Uint8Array,
  bufferPosition: number,
  sizeBytes: number,
  filePosition: number,
): Promise<number> {
  let readBytes = 0;
  while (readBytes < sizeBytes) {
    const chunkBytes = await handle.read(buffer, bufferPosition + readBytes, sizeBytes - readBytes, filePosition + readBytes);
    if (chunkBytes === 0) break;
    readBytes += chunkBytes;
  }
  return readBytes;
}

/**
 * Reads a file from its start: its whole size, or at most `limitBytes`.
 * A file larger than a Buffer can hold is refused before anything is
 * allocated (a segment never is; a damaged or foreign file may be).
 */
export async function readWhole(handle: FileHandle, limitBytes = Infinity): Promise<Buffer> {
  const sizeBytes = Math.min(await handle.sizeBytes(), limitBytes);
  if (sizeBytes > constants.MAX_LENGTH) {
    throw Object.assign(new Error(`${handle.path} holds ${sizeBytes} bytes, more than one read may allocate`), { code: 'EFBIG' });
  }
  const content = Buffer.allocUnsafe(sizeBytes);
  return content.subarray(0, await readFully(handle, content, 0, sizeBytes, 0));
}
