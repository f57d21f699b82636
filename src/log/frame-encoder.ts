/**
 * Encodes frames into a write group's buffer. Payloads are copied in at
 * append time (so callers may reuse their buffers at once); each frame's
 * size, count and checksum are written once, at flush, when it is complete.
 */
import { crc32 } from './checksum.js';
import { assert } from '../assert.js';
import { FRAME_HEADER_SIZE_BYTES, RECORD_HEADER_SIZE_BYTES } from '../constants.js';
import { FRAME_HEADER, FRAME_MAGIC, RECORD_HEADER, SYNCED_DELTA_MAX, recordEntrySizeBytes, writeUint53 } from './format.js';

/** Writes a frame header with its identity; size, count and checksum come at {@link sealFrame}. */
export function beginFrame(
  buffer: Buffer,
  framePosition: number,
  firstOffset: number,
  timestampMs: number,
  groupDelta: number,
  syncedOffset: number,
  segmentNonce = 0,
): void {
  assert(syncedOffset <= firstOffset, 'nothing at or after a frame is synced before it is written');
  assert(framePosition + FRAME_HEADER_SIZE_BYTES <= buffer.length, 'group buffer has room for the frame header');
  buffer.writeUInt32LE(0, framePosition + FRAME_HEADER.crc);
  buffer.writeUInt32LE(0, framePosition + FRAME_HEADER.frameSizeBytes);
  writeUint53(buffer, firstOffset, framePosition + FRAME_HEADER.firstOffsetLow);
  writeUint53(buffer, timestampMs, framePosition + FRAME_HEADER.timestampMsLow);
  buffer.writeUInt32LE(0, framePosition + FRAME_HEADER.recordCount);
  buffer.writeUInt32LE(groupDelta, framePosition + FRAME_HEADER.groupDelta);
  buffer.writeUInt16LE(0, framePosition + FRAME_HEADER.flags);
  buffer.writeUInt16LE(FRAME_MAGIC, framePosition + FRAME_HEADER.magic);
  buffer.writeUInt32LE(Math.min(firstOffset - syncedOffset, SYNCED_DELTA_MAX), framePosition + FRAME_HEADER.syncedDelta);
  buffer.writeUInt32LE(segmentNonce, framePosition + FRAME_HEADER.segmentNonce);
  buffer.writeUInt32LE(0, framePosition + FRAME_HEADER.reserved);
}

/** Writes one record entry at `bufferPosition`; returns its size (padding included). */
export function encodeRecord(buffer: Buffer, bufferPosition: number, payload: Uint8Array, timestampDeltaMs: number): number {
  const sizeBytes = recordEntrySizeBytes(payload.length);
  assert(bufferPosition + sizeBytes <= buffer.length, 'group buffer has room for the record');
  buffer.writeUInt32LE(payload.length, bufferPosition + RECORD_HEADER.payloadSizeBytes);
  buffer.writeInt32LE(timestampDeltaMs, bufferPosition + RECORD_HEADER.timestampDeltaMs);
  buffer.set(payload, bufferPosition + RECORD_HEADER_SIZE_BYTES);
  // At most 7 bytes of padding: a loop costs less than Buffer.fill's checks (it showed in profiles).
  for (let position = bufferPosition + RECORD_HEADER_SIZE_BYTES + payload.length; position < bufferPosition + sizeBytes; position++) buffer[position] = 0;
  return sizeBytes;
}

/** Completes the frame at `framePosition`: its size, record count and checksum. */
export function sealFrame(buffer: Buffer, framePosition: number, frameSizeBytes: number, recordCount: number): void {
  assert(recordCount > 0, 'a frame holds at least one record');
  buffer.writeUInt32LE(frameSizeBytes, framePosition + FRAME_HEADER.frameSizeBytes);
  buffer.writeUInt32LE(recordCount, framePosition + FRAME_HEADER.recordCount);
  const checksum = crc32(buffer.subarray(framePosition + FRAME_HEADER.frameSizeBytes, framePosition + frameSizeBytes));
  buffer.writeUInt32LE(checksum, framePosition + FRAME_HEADER.crc);
}
