/**
 * The clean-shutdown marker: written by close() once every record is
 * synced, so the next open knows where the log ends without reading data.
 */
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import type { FileSystem } from '../io/file-system.js';
import { readUint53, writeUint53 } from './format.js';
import { writeFileAtomic } from './atomic-file.js';

export const CLEAN_MARKER_FILE_NAME = 'clean-shutdown';
const MAGIC = 0x4e4c4354; // "TCLN"
const VERSION = 1;
const SIZE_BYTES = 64;
const CRC_POSITION = 60;

export interface CleanMarker {
  readonly nextOffset: number;
  readonly activeBaseOffset: number;
  readonly activeSizeBytes: number;
}

export function encodeCleanMarker(marker: CleanMarker): Buffer {
  const buffer = Buffer.alloc(SIZE_BYTES);
  buffer.writeUInt32LE(MAGIC, 0);
  buffer.writeUInt16LE(VERSION, 4);
  writeUint53(buffer, marker.nextOffset, 8);
  writeUint53(buffer, marker.activeBaseOffset, 16);
  writeUint53(buffer, marker.activeSizeBytes, 24);
  buffer.writeUInt32LE(crc32(buffer.subarray(0, CRC_POSITION)), CRC_POSITION);
  return buffer;
}

/** The marker, or null when it is missing, damaged or of another version (then open scans). */
export function decodeCleanMarker(buffer: Buffer | null): CleanMarker | null {
  if (buffer === null || buffer.length !== SIZE_BYTES) return null;
  if (buffer.readUInt32LE(0) !== MAGIC || buffer.readUInt16LE(4) !== VERSION) return null;
  if (crc32(buffer.subarray(0, CRC_POSITION)) !== buffer.readUInt32LE(CRC_POSITION)) return null;
  return {
    nextOffset: readUint53(buffer, 8),
    activeBaseOffset: readUint53(buffer, 16),
    activeSizeBytes: readUint53(buffer, 24),
  };
}

export async function readCleanMarker(fileSystem: FileSystem, dir: string): Promise<CleanMarker | null> {
  return decodeCleanMarker(await fileSystem.readFile(join(dir, CLEAN_MARKER_FILE_NAME)));
}

export async function writeCleanMarker(fileSystem: FileSystem, dir: string, marker: CleanMarker): Promise<void> {
  await writeFileAtomic(fileSystem, dir, CLEAN_MARKER_FILE_NAME, encodeCleanMarker(marker), { durable: true });
}
