/**
 * Writes a whole range even when the file system returns short writes. A
 * write that makes no progress is an error: looping on it would spin forever.
 */
import type { FileHandle } from './file-system.js';

function noProgress(path: string): Error {
  return Object.assign(new Error(`write to ${path} made no progress`), { code: 'EIO' });
}

export async function writeFully(
  handle: FileHandle,
  buffer: Uint8Array,
  startPosition: number,
  endPosition: number,
  filePosition: number,
): Promise<void> {
  let bufferPosition = startPosition;
  while (bufferPosition < endPosition) {
    const writtenBytes = await handle.write(buffer, bufferPosition, endPosition - bufferPosition, filePosition);
    if (writtenBytes <= 0) throw noProgress(handle.path);
    bufferPosition += writtenBytes;
    filePosition += writtenBytes;
  }
}

export function writeFullySync(
  handle: FileHandle,
  buffer: Uint8Array,
  startPosition: number,
  endPosition: number,
  filePosition: number,
): void {
  let bufferPosition = startPosition;
  while (bufferPosition < endPosition) {
    const writtenBytes = handle.writeSync(buffer, bufferPosition, endPosition - bufferPosition, filePosition);
    if (writtenBytes <= 0) throw noProgress(handle.path);
    bufferPosition += writtenBytes;
    filePosition += writtenBytes;
  }
}
