/**
 * Decodes one frame at a time and says what it found. Every size is checked
 * against a limit and against the bytes really present before anything is
 * allocated: a damaged length is damage, never a request for memory.
 */
import { crc32 } from './checksum.js';
import { FRAME_HEADER_SIZE_BYTES, FRAME_SIZE_BYTES_LIMIT, FRAME_ALIGNMENT_BYTES, RECORD_HEADER_SIZE_BYTES } from '../constants.js';
import { FRAME_FLAGS_KNOWN, FRAME_FLAG_CODEC_MASK, FRAME_HEADER, FRAME_MAGIC, RECORD_HEADER, SYNCED_DELTA_MAX, isAllZero, readUint53, recordEntrySizeBytes } from './format.js';

/**
 * - `ok`: a valid frame; its fields are on the decoder.
 * - `zero`: the header is all zeros (unwritten or preallocated space).
 * - `incomplete`: the frame runs past the bytes given; `frameSizeBytes` says how many it needs.
 * - `bad`: not a valid frame here; `reason` says why.
 */
export type FrameStatus = 'ok' | 'zero' | 'incomplete' | 'bad';

/** The smallest frame: a header and one record of one byte. */
const FRAME_SIZE_BYTES_MIN = FRAME_HEADER_SIZE_BYTES + recordEntrySizeBytes(1);

/** Receives the records of a decoded frame, one call per record, in offset order. */
export interface RecordSink {
  /** Record `offset`: its append time and where its data lies in the buffer given to {@link FrameDecoder.records}. */
  add(offset: number, timestampMs: number, dataPosition: number, dataSizeBytes: number): void;
}

/** Reusable decoder: fields describe the last decoded frame (no allocation per frame). */
export class FrameDecoder {
  readonly maxPayloadSizeBytes: number;
  /** The nonce frames must carry (the segment's), or -1 to accept any. */
  expectedNonce = -1;
  /** The nonce of the last decoded frame. */
  segmentNonce = 0;
  frameSizeBytes = 0;
  firstOffset = 0;
  recordCount = 0;
  /** First offset of the write group the frame belongs to. */
  groupFirstOffset = 0;
  /** Every record below this offset was durable before the frame was written. */
  syncedOffset = 0;
  timestampMs = 0;
  flags = 0;
  reason = '';

  constructor(maxPayloadSizeBytes: number) {
    this.maxPayloadSizeBytes = maxPayloadSizeBytes;
  }

  /**
   * Decodes the frame at `bufferPosition`, using bytes up to `endPosition`.
   * @param expectedOffset the first offset this place must hold, or -1 to accept any (damage scans)
   */
  decode(buffer: Buffer, bufferPosition: number, endPosition: number, expectedOffset: number): FrameStatus {
    if (endPosition - bufferPosition < FRAME_HEADER_SIZE_BYTES) {
      if (isAllZero(buffer, bufferPosition, endPosition)) return 'zero';
      this.frameSizeBytes = FRAME_HEADER_SIZE_BYTES;
      return 'incomplete';
    }
    if (buffer.readUInt16LE(bufferPosition + FRAME_HEADER.magic) !== FRAME_MAGIC) {
      if (isAllZero(buffer, bufferPosition, bufferPosition + FRAME_HEADER_SIZE_BYTES)) return 'zero';
      return this.#bad('frame magic is wrong');
    }
    const frameSizeBytes = buffer.readUInt32LE(bufferPosition + FRAME_HEADER.frameSizeBytes);
    if (frameSizeBytes < FRAME_SIZE_BYTES_MIN || frameSizeBytes % FRAME_ALIGNMENT_BYTES !== 0 || frameSizeBytes > FRAME_SIZE_BYTES_LIMIT) {
      return this.#bad(`frame size ${frameSizeBytes} is impossible`);
    }
    const flags = buffer.readUInt16LE(bufferPosition + FRAME_HEADER.flags);
    // Only codec 0 (stored) exists yet: any flag set is unknown to this version.
    if ((flags & ~FRAME_FLAGS_KNOWN) !== 0 || (flags & FRAME_FLAG_CODEC_MASK) !== 0) {
      return this.#bad(`frame flags 0x${flags.toString(16)} are unknown`);
    }
    this.frameSizeBytes = frameSizeBytes;
    const frameEndPosition = bufferPosition + frameSizeBytes;
    if (frameEndPosition > endPosition) return 'incomplete';
    const storedCrc = buffer.readUInt32LE(bufferPosition + FRAME_HEADER.crc);
    const actualCrc = crc32(buffer.subarray(bufferPosition + FRAME_HEADER.frameSizeBytes, frameEndPosition));
    if (storedCrc !== actualCrc) return this.#bad('frame checksum mismatch');
    const firstOffset = readUint53(buffer, bufferPosition + FRAME_HEADER.firstOffsetLow);
    if (expectedOffset >= 0 && firstOffset !== expectedOffset) {
      return this.#bad(`frame starts at offset ${firstOffset} where offset ${expectedOffset} belongs`);
    }
    const recordCount = buffer.readUInt32LE(bufferPosition + FRAME_HEADER.recordCount);
    const groupDelta = buffer.readUInt32LE(bufferPosition + FRAME_HEADER.groupDelta);
    const segmentNonce = buffer.readUInt32LE(bufferPosition + FRAME_HEADER.segmentNonce);
    if (this.expectedNonce >= 0 && segmentNonce !== this.expectedNonce) {
      return this.#bad(`frame belongs to another segment (nonce ${segmentNonce}, this segment's is ${this.expectedNonce})`);
    }
    if (groupDelta > firstOffset || buffer.readUInt32LE(bufferPosition + FRAME_HEADER.reserved) !== 0) {
      return this.#bad('frame header fields are impossible');
    }
    // A valid checksum over a frame the encoder could not have written means a bug, or a forgery; refuse it.
    if (!this.#recordsTile(buffer, bufferPosition + FRAME_HEADER_SIZE_BYTES, frameEndPosition, recordCount)) {
      return this.#bad('frame records do not fill the frame');
    }
    this.firstOffset = firstOffset;
    this.recordCount = recordCount;
    this.segmentNonce = segmentNonce;
    this.groupFirstOffset = firstOffset - groupDelta;
    const syncedDelta = buffer.readUInt32LE(bufferPosition + FRAME_HEADER.syncedDelta);
    this.syncedOffset = syncedDelta === SYNCED_DELTA_MAX ? 0 : Math.max(0, firstOffset - syncedDelta);
    this.timestampMs = readUint53(buffer, bufferPosition + FRAME_HEADER.timestampMsLow);
    this.flags = flags;
    return 'ok';
  }

  /**
   * Hands `sink` the records of the frame just decoded at `bufferPosition`
   * whose offsets are at least `fromOffset` and below `toOffset`.
   */
  records(buffer: Buffer, bufferPosition: number, fromOffset: number, toOffset: number, sink: RecordSink): void {
    let recordPosition = bufferPosition + FRAME_HEADER_SIZE_BYTES;
    const endOffset = Math.min(toOffset, this.firstOffset + this.recordCount);
    for (let offset = this.firstOffset; offset < endOffset; offset++) {
      const payloadSizeBytes = buffer.readUInt32LE(recordPosition + RECORD_HEADER.payloadSizeBytes);
      if (offset >= fromOffset) {
        const timestampMs = this.timestampMs + buffer.readInt32LE(recordPosition + RECORD_HEADER.timestampDeltaMs);
        sink.add(offset, timestampMs, recordPosition + RECORD_HEADER_SIZE_BYTES, payloadSizeBytes);
      }
      recordPosition += recordEntrySizeBytes(payloadSizeBytes);
    }
  }

  /** Timestamp of the frame's last record. */
  lastTimestampMs(buffer: Buffer, bufferPosition: number): number {
    let recordPosition = bufferPosition + FRAME_HEADER_SIZE_BYTES;
    let timestampMs = this.timestampMs;
    for (let recordIndex = 0; recordIndex < this.recordCount; recordIndex++) {
      timestampMs = this.timestampMs + buffer.readInt32LE(recordPosition + RECORD_HEADER.timestampDeltaMs);
      recordPosition += recordEntrySizeBytes(buffer.readUInt32LE(recordPosition + RECORD_HEADER.payloadSizeBytes));
    }
    return timestampMs;
  }

  #recordsTile(buffer: Buffer, startPosition: number, endPosition: number, recordCount: number): boolean {
    if (recordCount === 0) return false;
    let recordPosition = startPosition;
    for (let recordIndex = 0; recordIndex < recordCount; recordIndex++) {
      if (endPosition - recordPosition < RECORD_HEADER_SIZE_BYTES) return false;
      const payloadSizeBytes = buffer.readUInt32LE(recordPosition + RECORD_HEADER.payloadSizeBytes);
      if (payloadSizeBytes === 0 || payloadSizeBytes > this.maxPayloadSizeBytes) return false;
      recordPosition += recordEntrySizeBytes(payloadSizeBytes);
      if (recordPosition > endPosition) return false;
    }
    return recordPosition === endPosition;
  }

  #bad(reason: string): FrameStatus {
    this.reason = reason;
    return 'bad';
  }
}
