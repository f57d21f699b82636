/**
 * Encodes frames into a write group's buffer. Payloads are copied in at
 * append time (so callers may reuse their buffers at once); checksums are
 * computed once per group, at flush, when the group's last frame is known.
 */
import { crc32 } from 'node:zlib';
import { assert } from '../assert.js';
import { FRAME_HEADER_SIZE_BYTES } from '../constants.js';
import { FRAME_FLAG_GROUP_END, FRAME_HEADER, FRAME_MAGIC, frameSizeBytes, writeUint53 } from './format.js';

/** Writes one frame (without its checksum) at `bufferPosition`; returns the frame's size. */
export function encodeFrame(
  buffer: Buffer,
  bufferPosition: number,
  payload: Uint8Array,
  offset: number,
  timestampMs: number,
  groupDelta: number,
): number {
  const sizeBytes = frameSizeBytes(payload.length);
  assert(bufferPosition + sizeBytes <= buffer.length, 'group buffer has room for the frame');
  buffer.writeUInt32LE(0, bufferPosition + FRAME_HEADER.crc);
  buffer.writeUInt32LE(payload.length, bufferPosition + FRAME_HEADER.payloadSizeBytes);
  writeUint53(buffer, offset, bufferPosition + FRAME_HEADER.offsetLow);
  writeUint53(buffer, timestampMs, bufferPosition + FRAME_HEADER.timestampMsLow);
  buffer.writeUInt32LE(groupDelta, bufferPosition + FRAME_HEADER.groupDelta);
  buffer.writeUInt16LE(0, bufferPosition + FRAME_HEADER.flags);
  buffer.writeUInt16LE(FRAME_MAGIC, bufferPosition + FRAME_HEADER.magic);
  buffer.set(payload, bufferPosition + FRAME_HEADER_SIZE_BYTES);
  const payloadEndPosition = bufferPosition + FRAME_HEADER_SIZE_BYTES + payload.length;
  buffer.fill(0, payloadEndPosition, bufferPosition + sizeBytes);
  return sizeBytes;
}

/**
 * Seals the frames in `buffer[startPosition, endPosition)`: flags the last as
 * the end of its write group and writes every frame's checksum.
 */
export function sealFrames(buffer: Buffer, startPosition: number, endPosition: number, lastFramePosition: number): void {
  const flagsPosition = lastFramePosition + FRAME_HEADER.flags;
  buffer.writeUInt16LE(buffer.readUInt16LE(flagsPosition) | FRAME_FLAG_GROUP_END, flagsPosition);
  let framePosition = startPosition;
  while (framePosition < endPosition) {
    const payloadSizeBytes = buffer.readUInt32LE(framePosition + FRAME_HEADER.payloadSizeBytes);
    const checkedEndPosition = framePosition + FRAME_HEADER_SIZE_BYTES + payloadSizeBytes;
    const checksum = crc32(buffer.subarray(framePosition + FRAME_HEADER.payloadSizeBytes, checkedEndPosition));
    buffer.writeUInt32LE(checksum, framePosition + FRAME_HEADER.crc);
    framePosition += frameSizeBytes(payloadSizeBytes);
  }
  assert(framePosition === endPosition, 'frames tile the group exactly');
}
