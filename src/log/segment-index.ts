/**
 * The index of a sealed segment, kept in a trailer at the end of the
 * segment's own file (docs/FORMAT.md): the index bytes, then their length
 * and a magic number, so that it is found from the file's end. It is a
 * cache: the segment's data was synced before it was written, so a valid
 * trailer proves the segment complete, and a missing or damaged one only
 * costs a scan. In the file and not beside it, because creating a second
 * file per rotation doubled the slowest part of rotation (file creation,
 * docs/decisions.md).
 */
import { crc32 } from 'node:zlib';
import type { Segment } from './segment.js';
import type { FileHandle } from '../io/file-system.js';
import { readFully } from '../io/read-fully.js';
import { SEGMENT_HEADER_SIZE_BYTES } from '../constants.js';
import { readUint53, writeUint53 } from './format.js';

const MAGIC = 0x58444954; // "TIDX"
const VERSION = 1;
const HEADER_SIZE_BYTES = 52;
const ENTRY_SIZE_BYTES = 8;
const CRC_SIZE_BYTES = 4;
const TRAILER_MAGIC = 0x52544954; // "TITR"
/** After the index bytes: their length (u32) and TRAILER_MAGIC (u32). */
const FOOTER_SIZE_BYTES = 8;
/** Far beyond any real index (one 8-byte entry per 64 KiB of a segment of at most 2 GiB): a larger length is damage. */
const INDEX_SIZE_BYTES_MAX = 1024 * 1024;

export interface SegmentIndexFile {
  readonly baseOffset: number;
  readonly recordCount: number;
  readonly sizeBytes: number;
  readonly firstTimestampMs: number;
  readonly lastTimestampMs: number;
  readonly offsetDeltas: number[];
  readonly positions: number[];
}

export function encodeSegmentIndex(segment: Segment): Buffer {
  const entryCount = segment.indexOffsetDeltas.length;
  const buffer = Buffer.alloc(HEADER_SIZE_BYTES + entryCount * ENTRY_SIZE_BYTES + CRC_SIZE_BYTES);
  buffer.writeUInt32LE(MAGIC, 0);
  buffer.writeUInt16LE(VERSION, 4);
  writeUint53(buffer, segment.baseOffset, 8);
  writeUint53(buffer, segment.recordCount, 16);
  writeUint53(buffer, segment.sizeBytes, 24);
  writeUint53(buffer, segment.firstTimestampMs, 32);
  writeUint53(buffer, segment.lastTimestampMs, 40);
  buffer.writeUInt32LE(entryCount, 48);
  for (let entryIndex = 0; entryIndex < entryCount; entryIndex++) {
    const entryPosition = HEADER_SIZE_BYTES + entryIndex * ENTRY_SIZE_BYTES;
    buffer.writeUInt32LE(segment.indexOffsetDeltas[entryIndex] ?? 0, entryPosition);
    buffer.writeUInt32LE(segment.indexPositions[entryIndex] ?? 0, entryPosition + 4);
  }
  const crcPosition = buffer.length - CRC_SIZE_BYTES;
  buffer.writeUInt32LE(crc32(buffer.subarray(0, crcPosition)), crcPosition);
  return buffer;
}

/** The index, or null when the file is missing, damaged, of another version or of another segment. */
export function decodeSegmentIndex(buffer: Buffer | null, expectedBaseOffset: number): SegmentIndexFile | null {
  if (buffer === null || buffer.length < HEADER_SIZE_BYTES + CRC_SIZE_BYTES) return null;
  const crcPosition = buffer.length - CRC_SIZE_BYTES;
  if (crc32(buffer.subarray(0, crcPosition)) !== buffer.readUInt32LE(crcPosition)) return null;
  if (buffer.readUInt32LE(0) !== MAGIC || buffer.readUInt16LE(4) !== VERSION) return null;
  const entryCount = buffer.readUInt32LE(48);
  if (HEADER_SIZE_BYTES + entryCount * ENTRY_SIZE_BYTES !== crcPosition || entryCount === 0) return null;
  if (readUint53(buffer, 8) !== expectedBaseOffset) return null;
  const recordCount = readUint53(buffer, 16);
  const sizeBytes = readUint53(buffer, 24);
  const offsetDeltas: number[] = [];
  const positions: number[] = [];
  // An index that a checksum vouches for but that contradicts itself (a
  // writer's bug) must not steer readers: entries start at the first record
  // and rise within the segment's records and data, or it is none.
  let previousDelta = -1;
  let previousPosition = -1;
  for (let entryIndex = 0; entryIndex < entryCount; entryIndex++) {
    const entryPosition = HEADER_SIZE_BYTES + entryIndex * ENTRY_SIZE_BYTES;
    const delta = buffer.readUInt32LE(entryPosition);
    const position = buffer.readUInt32LE(entryPosition + 4);
    if (entryIndex === 0 && (delta !== 0 || position !== SEGMENT_HEADER_SIZE_BYTES)) return null;
    if (delta <= previousDelta || position <= previousPosition || delta >= recordCount || position >= sizeBytes) return null;
    offsetDeltas.push(delta);
    positions.push(position);
    previousDelta = delta;
    previousPosition = position;
  }
  return {
    baseOffset: expectedBaseOffset,
    recordCount,
    sizeBytes,
    firstTimestampMs: readUint53(buffer, 32),
    lastTimestampMs: readUint53(buffer, 40),
    offsetDeltas,
    positions,
  };
}

/** The trailer written after the last frame of a sealed segment: the index, its length, the magic. */
export function encodeIndexTrailer(segment: Segment): Buffer {
  const index = encodeSegmentIndex(segment);
  const footer = Buffer.alloc(FOOTER_SIZE_BYTES);
  footer.writeUInt32LE(index.length, 0);
  footer.writeUInt32LE(TRAILER_MAGIC, 4);
  return Buffer.concat([index, footer]);
}

/**
 * Reads the index from the trailer of a sealed segment's file, or null when
 * there is none or it does not check out (then the caller scans). Checks
 * that the data the index describes ends exactly where the trailer starts.
 */
export async function readIndexTrailer(handle: FileHandle, expectedBaseOffset: number): Promise<SegmentIndexFile | null> {
  const fileSizeBytes = await handle.sizeBytes();
  if (fileSizeBytes < SEGMENT_HEADER_SIZE_BYTES + TRAILER_SIZE_BYTES_MIN) return null;
  const footer = Buffer.alloc(FOOTER_SIZE_BYTES);
  if ((await readFully(handle, footer, 0, FOOTER_SIZE_BYTES, fileSizeBytes - FOOTER_SIZE_BYTES)) !== FOOTER_SIZE_BYTES) return null;
  const indexPosition = indexPositionFromFooter(footer, 0, fileSizeBytes);
  if (indexPosition === null) return null;
  const indexSizeBytes = fileSizeBytes - FOOTER_SIZE_BYTES - indexPosition;
  const bytes = Buffer.alloc(indexSizeBytes);
  if ((await readFully(handle, bytes, 0, indexSizeBytes, indexPosition)) !== indexSizeBytes) return null;
  return checkedIndex(bytes, expectedBaseOffset, indexPosition);
}

/** The same check on a whole segment file in memory: the index, or null. */
export function decodeIndexTrailer(file: Buffer, expectedBaseOffset: number): SegmentIndexFile | null {
  if (file.length < SEGMENT_HEADER_SIZE_BYTES + TRAILER_SIZE_BYTES_MIN) return null;
  const indexPosition = indexPositionFromFooter(file, file.length - FOOTER_SIZE_BYTES, file.length);
  if (indexPosition === null) return null;
  return checkedIndex(file.subarray(indexPosition, file.length - FOOTER_SIZE_BYTES), expectedBaseOffset, indexPosition);
}

const TRAILER_SIZE_BYTES_MIN = HEADER_SIZE_BYTES + CRC_SIZE_BYTES + FOOTER_SIZE_BYTES;

/** Where the index starts, from the footer at `footerPosition` of a file of `fileSizeBytes`; null when the footer is not one. */
function indexPositionFromFooter(bytes: Buffer, footerPosition: number, fileSizeBytes: number): number | null {
  const indexSizeBytes = bytes.readUInt32LE(footerPosition);
  if (bytes.readUInt32LE(footerPosition + 4) !== TRAILER_MAGIC || indexSizeBytes > INDEX_SIZE_BYTES_MAX) return null;
  const indexPosition = fileSizeBytes - FOOTER_SIZE_BYTES - indexSizeBytes;
  return indexPosition < SEGMENT_HEADER_SIZE_BYTES ? null : indexPosition;
}

function checkedIndex(bytes: Buffer, expectedBaseOffset: number, indexPosition: number): SegmentIndexFile | null {
  const index = decodeSegmentIndex(bytes, expectedBaseOffset);
  return index !== null && index.sizeBytes === indexPosition ? index : null;
}
