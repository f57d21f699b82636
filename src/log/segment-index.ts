/**
 * The index file of a sealed segment (docs/FORMAT.md). It is a cache: the
 * segment's data was synced before it was written, so a valid index proves
 * the segment complete, and a missing or damaged one only costs a scan.
 */
import { crc32 } from 'node:zlib';
import type { Segment } from './segment.js';
import { readUint53, writeUint53 } from './format.js';

const MAGIC = 0x58444954; // "TIDX"
const VERSION = 1;
const HEADER_SIZE_BYTES = 52;
const ENTRY_SIZE_BYTES = 8;
const CRC_SIZE_BYTES = 4;

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
  const offsetDeltas: number[] = [];
  const positions: number[] = [];
  for (let entryIndex = 0; entryIndex < entryCount; entryIndex++) {
    const entryPosition = HEADER_SIZE_BYTES + entryIndex * ENTRY_SIZE_BYTES;
    offsetDeltas.push(buffer.readUInt32LE(entryPosition));
    positions.push(buffer.readUInt32LE(entryPosition + 4));
  }
  return {
    baseOffset: expectedBaseOffset,
    recordCount: readUint53(buffer, 16),
    sizeBytes: readUint53(buffer, 24),
    firstTimestampMs: readUint53(buffer, 32),
    lastTimestampMs: readUint53(buffer, 40),
    offsetDeltas,
    positions,
  };
}
