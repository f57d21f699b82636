/**
 * Helpers that damage a log on disk the way crashes and bad disks do:
 * truncate, tear the last sector, zero a middle sector, flip a bit, append
 * garbage. They work on real files; each test starts from a fresh folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FrameDecoder } from '../../src/log/frame-decoder.js';
import { RECORD_HEADER } from '../../src/log/format.js';
import { decodeIndexTrailer } from '../../src/log/segment-index.js';
import { FRAME_HEADER_SIZE_BYTES, RECORD_SIZE_BYTES_LIMIT, SEGMENT_HEADER_SIZE_BYTES } from '../../src/constants.js';
import { copyLiveFolder } from '../copy-live-folder.js';

export const CLEAN_SHUTDOWN_FILE = 'clean-shutdown';
export const LOCK_FILE = 'LOCK';

const created: string[] = [];

/** A fresh empty folder under the OS temp folder; removed by {@link removeTempDirs}. */
export function tempDir(prefix = 'tidewal-corruption-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Copies a log folder to a new temp folder (a "disk image"); the LOCK is dropped as a reboot would. */
export function copyLog(dir: string): string {
  return copyLiveFolder(dir, () => tempDir('tidewal-copy-'));
}

/** Makes the next open believe the process crashed: no clean-shutdown marker, so it scans. */
export function forgetCleanShutdown(dir: string): void {
  fs.rmSync(path.join(dir, CLEAN_SHUTDOWN_FILE), { force: true });
}

export function segmentNames(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => /^\d{20}\.wal$/.test(name)).sort();
}

export function segmentPath(dir: string, baseOffset: number): string {
  return path.join(dir, `${String(baseOffset).padStart(20, '0')}.wal`);
}

export function lastSegmentPath(dir: string): string {
  const names = segmentNames(dir);
  const last = names[names.length - 1];
  if (last === undefined) throw new Error(`no segment in ${dir}`);
  return path.join(dir, last);
}

export interface FrameLocation {
  /** Position of the frame's header in the segment file. */
  readonly position: number;
  /** Whole frame, padding included (all of it under the checksum). */
  readonly sizeBytes: number;
  /** Offset of the frame's first record. */
  readonly offset: number;
  readonly recordCount: number;
  /** First offset of the write group (one write syscall) the frame belongs to. */
  readonly groupFirstOffset: number;
  /** Payload size of the frame's first record. */
  readonly firstPayloadSizeBytes: number;
}

/** Records in `frames`. */
export function recordCountOf(frames: readonly FrameLocation[]): number {
  return frames.reduce((sum, frame) => sum + frame.recordCount, 0);
}

/**
 * Walks the frames of a segment file with the real decoder; stops at the
 * first position that does not hold a valid frame. `badPosition` is that
 * position, or null when every byte up to the end was valid frames (or zeros).
 */
export function scanFrames(filePath: string): { frames: FrameLocation[]; badPosition: number | null; zeroAt: number | null } {
  const bytes = fs.readFileSync(filePath);
  const decoder = new FrameDecoder(RECORD_SIZE_BYTES_LIMIT);
  const frames: FrameLocation[] = [];
  const baseOffset = bytes.length >= 16 ? bytes.readUInt32LE(8) + bytes.readUInt32LE(12) * 2 ** 32 : 0;
  let position = SEGMENT_HEADER_SIZE_BYTES;
  let expectedOffset = baseOffset;
  // A sealed segment's frames end where its index trailer starts.
  const dataEnd = decodeIndexTrailer(bytes, baseOffset)?.sizeBytes ?? bytes.length;
  while (position < dataEnd) {
    const status = decoder.decode(bytes, position, dataEnd, expectedOffset);
    if (status === 'zero') {
      const rest = bytes.subarray(position, dataEnd);
      return { frames, badPosition: rest.every((byte) => byte === 0) ? null : position, zeroAt: position };
    }
    if (status !== 'ok') return { frames, badPosition: position, zeroAt: null };
    frames.push({
      position,
      sizeBytes: decoder.frameSizeBytes,
      offset: decoder.firstOffset,
      recordCount: decoder.recordCount,
      groupFirstOffset: decoder.groupFirstOffset,
      firstPayloadSizeBytes: bytes.readUInt32LE(position + FRAME_HEADER_SIZE_BYTES + RECORD_HEADER.payloadSizeBytes),
    });
    position += decoder.frameSizeBytes;
    expectedOffset += decoder.recordCount;
  }
  return { frames, badPosition: null, zeroAt: null };
}

/** The frames of a file, failing if any of it is damaged. */
export function framesOf(filePath: string): FrameLocation[] {
  const { frames, badPosition } = scanFrames(filePath);
  if (badPosition !== null) throw new Error(`${filePath} is damaged at ${badPosition} before the test damaged it`);
  return frames;
}

/** The frame that holds `offset`. */
export function frameAt(filePath: string, offset: number): FrameLocation {
  const frame = framesOf(filePath).find((candidate) => candidate.offset <= offset && offset < candidate.offset + candidate.recordCount);
  if (frame === undefined) throw new Error(`no frame for offset ${offset} in ${filePath}`);
  return frame;
}

/** End of the last frame: where the data of the segment stops. */
export function dataEndPosition(filePath: string): number {
  const frames = framesOf(filePath);
  const last = frames[frames.length - 1];
  return last === undefined ? SEGMENT_HEADER_SIZE_BYTES : last.position + last.sizeBytes;
}

export function truncateFile(filePath: string, sizeBytes: number): void {
  fs.truncateSync(filePath, sizeBytes);
}

/** Writes `bytes` at `position` in place (the file grows if it must). */
export function overwrite(filePath: string, position: number, bytes: Uint8Array): void {
  const fd = fs.openSync(filePath, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, position);
  } finally {
    fs.closeSync(fd);
  }
}

export function readBytes(filePath: string, position: number, sizeBytes: number): Buffer {
  const buffer = Buffer.alloc(sizeBytes);
  const fd = fs.openSync(filePath, 'r');
  try {
    const bytesRead = fs.readSync(fd, buffer, 0, sizeBytes, position);
    return buffer.subarray(0, bytesRead);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flips the bits of `mask` in the byte at `position`. */
export function flipByte(filePath: string, position: number, mask = 0x01): void {
  const [byte = 0] = readBytes(filePath, position, 1);
  overwrite(filePath, position, Buffer.from([byte ^ mask]));
}

export function zeroRange(filePath: string, position: number, sizeBytes: number): void {
  overwrite(filePath, position, Buffer.alloc(sizeBytes));
}

export function appendBytes(filePath: string, bytes: Uint8Array): void {
  fs.appendFileSync(filePath, bytes);
}

/** Names of `.broken` files anywhere under `dir` (repair's side files). */
export function brokenFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((name) => name.endsWith('.broken'))
    .sort();
}

/**
 * Bytes a torn-tail cut at `fromPosition` is expected to report: up to the
 * last non-zero byte, because zeros after the data are unwritten or
 * preallocated space, not lost data.
 */
export function tornBytesAfter(filePath: string, fromPosition: number): number {
  const bytes = fs.readFileSync(filePath);
  for (let position = bytes.length - 1; position >= fromPosition; position -= 1) {
    if (bytes[position] !== 0) return position + 1 - fromPosition;
  }
  return 0;
}
