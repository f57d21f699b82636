/** Reads and classifies the header of an open segment file. */
import { SEGMENT_HEADER_SIZE_BYTES } from '../constants.js';
import type { FileHandle } from '../io/file-system.js';
import { readFully } from '../io/read-fully.js';
import { decodeSegmentHeader } from './format.js';
import type { SegmentHeaderStatus } from './format.js';
import { CorruptionError } from '../errors.js';

export async function readSegmentHeader(handle: FileHandle): Promise<SegmentHeaderStatus> {
  const header = Buffer.alloc(SEGMENT_HEADER_SIZE_BYTES);
  const readBytes = await readFully(handle, header, 0, header.length, 0);
  return decodeSegmentHeader(header.subarray(0, readBytes));
}

/** The segment's nonce from its header; a damaged header is corruption. */
export async function readSegmentNonce(handle: FileHandle): Promise<number> {
  const status = await readSegmentHeader(handle);
  if (status.kind !== 'ok') throw new CorruptionError(handle.path, 0, 'segment header is damaged');
  return status.nonce;
}
