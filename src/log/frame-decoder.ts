/**
 * Decodes one frame at a time and says what it found. The decoder never
 * allocates from a length it has not checked: a length above the limit is
 * damage, not a request for memory.
 */
import { crc32 } from 'node:zlib';
import { FRAME_HEADER_SIZE_BYTES } from '../constants.js';
import {
  FRAME_FLAGS_KNOWN,
  FRAME_FLAG_CODEC_MASK,
  FRAME_HEADER,
  FRAME_MAGIC,
  frameSizeBytes,
  isAllZero,
  readUint53,
} from './format.js';

/**
 * - `ok`: a valid frame; its fields are on the decoder.
 * - `zero`: the header is all zeros (unwritten or preallocated space).
 * - `incomplete`: the frame runs past the bytes given; `frameSizeBytes` says how many it needs.
 * - `bad`: not a valid frame here; `reason` says why.
 */
export type FrameStatus = 'ok' | 'zero' | 'incomplete' | 'bad';

/** Reusable decoder: fields describe the last decoded frame (no allocation per frame). */
export class FrameDecoder {
  readonly maxPayloadSizeBytes: number;
  payloadSizeBytes = 0;
  frameSizeBytes = 0;
  offset = 0;
  timestampMs = 0;
  groupDelta = 0;
  flags = 0;
  reason = '';

  constructor(maxPayloadSizeBytes: number) {
    this.maxPayloadSizeBytes = maxPayloadSizeBytes;
  }

  /**
   * Decodes the frame at `bufferPosition`, using bytes up to `endPosition`.
   * @param expectedOffset the offset this place must hold, or -1 to accept any (damage scans)
   */
  decode(buffer: Buffer, bufferPosition: number, endPosition: number, expectedOffset: number): FrameStatus {
    if (endPosition - bufferPosition < FRAME_HEADER_SIZE_BYTES) {
      if (isAllZero(buffer, bufferPosition, endPosition)) return 'zero';
      this.frameSizeBytes = FRAME_HEADER_SIZE_BYTES;
      return 'incomplete';
    }
    const magic = buffer.readUInt16LE(bufferPosition + FRAME_HEADER.magic);
    if (magic !== FRAME_MAGIC) {
      if (isAllZero(buffer, bufferPosition, bufferPosition + FRAME_HEADER_SIZE_BYTES)) return 'zero';
      return this.#bad('frame magic is wrong');
    }
    const payloadSizeBytes = buffer.readUInt32LE(bufferPosition + FRAME_HEADER.payloadSizeBytes);
    if (payloadSizeBytes === 0) return this.#bad('frame length is zero');
    if (payloadSizeBytes > this.maxPayloadSizeBytes) {
      return this.#bad(`frame length ${payloadSizeBytes} exceeds the limit ${this.maxPayloadSizeBytes}`);
    }
    const flags = buffer.readUInt16LE(bufferPosition + FRAME_HEADER.flags);
    if ((flags & ~FRAME_FLAGS_KNOWN) !== 0 || (flags & FRAME_FLAG_CODEC_MASK) !== 0) {
      return this.#bad(`frame flags 0x${flags.toString(16)} are unknown`);
    }
    this.payloadSizeBytes = payloadSizeBytes;
    this.frameSizeBytes = frameSizeBytes(payloadSizeBytes);
    const checkedEndPosition = bufferPosition + FRAME_HEADER_SIZE_BYTES + payloadSizeBytes;
    if (checkedEndPosition > endPosition) return 'incomplete';
    const storedCrc = buffer.readUInt32LE(bufferPosition + FRAME_HEADER.crc);
    const actualCrc = crc32(buffer.subarray(bufferPosition + FRAME_HEADER.payloadSizeBytes, checkedEndPosition));
    if (storedCrc !== actualCrc) return this.#bad('frame checksum mismatch');
    const offset = readUint53(buffer, bufferPosition + FRAME_HEADER.offsetLow);
    if (expectedOffset >= 0 && offset !== expectedOffset) {
      return this.#bad(`frame holds offset ${offset} where offset ${expectedOffset} belongs`);
    }
    this.offset = offset;
    this.timestampMs = readUint53(buffer, bufferPosition + FRAME_HEADER.timestampMsLow);
    this.groupDelta = buffer.readUInt32LE(bufferPosition + FRAME_HEADER.groupDelta);
    this.flags = flags;
    return 'ok';
  }

  #bad(reason: string): FrameStatus {
    this.reason = reason;
    return 'bad';
  }
}
