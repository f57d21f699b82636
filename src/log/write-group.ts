/**
 * A write group: the frames that one write syscall puts on disk, and the one
 * promise every append in it awaits (lmdb-js gives every write of a
 * transaction the same promise). Frames are encoded into the group's buffer
 * as they are appended; the buffer comes from a two-slot pool so that a
 * steady load allocates nothing.
 */
import { assert } from '../assert.js';
import { FRAME_HEADER_SIZE_BYTES, FRAME_SIZE_BYTES_TARGET, GROUP_BUFFER_SIZE_BYTES_INITIAL, SEGMENT_HEADER_SIZE_BYTES } from '../constants.js';
import { encodeSegmentHeader } from './format.js';
import { beginFrame, encodeRecord, sealFrame } from './frame-encoder.js';
import type { Segment } from './segment.js';

export class WriteGroup {
  readonly segment: Segment;
  /** File position of `buffer[0]`. */
  readonly startFilePosition: number;
  readonly firstOffset: number;
  buffer: Buffer;
  usedBytes: number;
  recordCount: number;
  /** Start of each frame in `buffer`, and how many records each holds. */
  readonly framePositions: number[];
  readonly frameRecordCounts: number[];
  /** The open frame's base timestamp (records store a delta to it). */
  frameTimestampMs: number;
  /** Set once the flusher has taken the group: no more records join it. */
  flushing: boolean;
  timestampMs: number;
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (error: Error) => void;

  /** Every record below this offset is durable before this group is written. */
  readonly syncedOffset: number;

  constructor(segment: Segment, firstOffset: number, syncedOffset: number, buffer: Buffer) {
    assert(segment.nonce > 0, 'a segment being written knows its nonce');
    this.segment = segment;
    this.firstOffset = firstOffset;
    this.syncedOffset = syncedOffset;
    this.buffer = buffer;
    this.usedBytes = 0;
    this.recordCount = 0;
    this.framePositions = [];
    this.frameRecordCounts = [];
    this.frameTimestampMs = 0;
    this.flushing = false;
    this.timestampMs = 0;
    if (segment.headerPending) {
      // A rotated segment's header goes out with its first group: one write, not two.
      this.startFilePosition = 0;
      encodeSegmentHeader(buffer, 0, segment.baseOffset, segment.createdAtMs, segment.nonce);
      this.usedBytes = SEGMENT_HEADER_SIZE_BYTES;
      segment.headerPending = false;
    } else {
      this.startFilePosition = segment.reservedSizeBytes;
    }
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Every group is awaited by its appenders; this only keeps a group that
    // fails before anyone awaits it from being an unhandled rejection.
    this.promise.catch(ignore);
  }

  /** Position in `buffer` where the first frame starts. */
  get framesStartPosition(): number {
    return this.startFilePosition === 0 ? SEGMENT_HEADER_SIZE_BYTES : 0;
  }

  /**
   * Adds records that must share one frame (one append, or one atomic
   * batch); returns the offset of the first and grows `usedBytes`.
   * @param payloads one record (an append: no array per call on the hot path) or a batch
   * @param entryBytes the records' entry sizes added up
   */
  add(payloads: Uint8Array | readonly Uint8Array[], entryBytes: number, timestampMs: number, pool: BufferPool): number {
    const openFrameIndex = this.framePositions.length - 1;
    const openFrameBytes = openFrameIndex < 0 ? 0 : this.usedBytes - (this.framePositions[openFrameIndex] ?? 0);
    const startsFrame = openFrameIndex < 0 || openFrameBytes + entryBytes > FRAME_SIZE_BYTES_TARGET;
    const neededBytes = this.usedBytes + entryBytes + (startsFrame ? FRAME_HEADER_SIZE_BYTES : 0);
    if (neededBytes > this.buffer.length) this.buffer = pool.grow(this.buffer, this.usedBytes, neededBytes);
    const firstOffset = this.firstOffset + this.recordCount;
    if (startsFrame) {
      // The open frame is complete: checksum it now, while the previous
      // group's write is in flight, rather than on the flush's critical path.
      if (openFrameIndex >= 0) this.#sealFrame(openFrameIndex);
      beginFrame(this.buffer, this.usedBytes, firstOffset, timestampMs, this.recordCount, this.syncedOffset, this.segment.nonce);
      this.framePositions.push(this.usedBytes);
      this.frameRecordCounts.push(0);
      this.frameTimestampMs = timestampMs;
      this.usedBytes += FRAME_HEADER_SIZE_BYTES;
    }
    const timestampDeltaMs = clampInt32(timestampMs - this.frameTimestampMs);
    let recordCount = 1;
    if (payloads instanceof Uint8Array) {
      this.usedBytes += encodeRecord(this.buffer, this.usedBytes, payloads, timestampDeltaMs);
    } else {
      for (const payload of payloads) this.usedBytes += encodeRecord(this.buffer, this.usedBytes, payload, timestampDeltaMs);
      recordCount = payloads.length;
    }
    const lastFrameIndex = this.frameRecordCounts.length - 1;
    this.frameRecordCounts[lastFrameIndex] = (this.frameRecordCounts[lastFrameIndex] ?? 0) + recordCount;
    this.recordCount += recordCount;
    this.timestampMs = timestampMs;
    return firstOffset;
  }

  /** Seals the last frame (earlier ones were sealed as they closed); the group is then ready to write. */
  seal(): void {
    const lastFrameIndex = this.framePositions.length - 1;
    assert(lastFrameIndex >= 0, 'a group being written holds a frame');
    this.#sealFrame(lastFrameIndex);
  }

  #sealFrame(frameIndex: number): void {
    const framePosition = this.framePositions[frameIndex] ?? 0;
    const frameEndPosition = this.framePositions[frameIndex + 1] ?? this.usedBytes;
    sealFrame(this.buffer, framePosition, frameEndPosition - framePosition, this.frameRecordCounts[frameIndex] ?? 0);
  }
}

/** Frames start a new frame header when a record would push them past this; worst case for budgeting. */
export function entryBytesWorstCase(entryBytes: number): number {
  return entryBytes + FRAME_HEADER_SIZE_BYTES;
}

function clampInt32(value: number): number {
  // Clocks can step backwards; a delta beyond int32 (24 days inside one
  // group) cannot happen, but is clamped rather than wrapped if it does.
  return Math.max(-0x8000_0000, Math.min(0x7fff_ffff, value));
}

/** Two reusable group buffers (one filling, one being written), grown by doubling. */
export class BufferPool {
  readonly #free: Buffer[] = [];
  readonly #maxSizeBytes: number;

  constructor(maxSizeBytes: number) {
    this.#maxSizeBytes = maxSizeBytes;
  }

  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(GROUP_BUFFER_SIZE_BYTES_INITIAL);
  }

  /** Returns a buffer of at least `neededBytes` holding the first `usedBytes` of `buffer`. */
  grow(buffer: Buffer, usedBytes: number, neededBytes: number): Buffer {
    let sizeBytes = buffer.length;
    while (sizeBytes < neededBytes) sizeBytes *= 2;
    assert(sizeBytes <= 2 * this.#maxSizeBytes + GROUP_BUFFER_SIZE_BYTES_INITIAL, 'group buffer stays within the pending budget');
    const grown = Buffer.allocUnsafeSlow(sizeBytes);
    buffer.copy(grown, 0, 0, usedBytes);
    return grown;
  }

  give(buffer: Buffer): void {
    // Keep two: one filling while one is written. Oversized buffers from a
    // burst are dropped rather than pinned for the log's lifetime.
    if (this.#free.length < 2 && buffer.length <= GROUP_BUFFER_SIZE_BYTES_KEPT_MAX) this.#free.push(buffer);
  }
}

/** Group buffers larger than this (grown by a burst) are not kept for reuse. */
const GROUP_BUFFER_SIZE_BYTES_KEPT_MAX = 16 * 1024 * 1024;

function ignore(): void {}
