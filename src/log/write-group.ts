/**
 * A write group: the frames that one write syscall puts on disk, and the one
 * promise every append in it awaits (lmdb-js gives every write of a
 * transaction the same promise). Frames are encoded into the group's buffer
 * as they are appended; the buffer comes from a two-slot pool so that a
 * steady load allocates nothing.
 */
import { assert } from '../assert.js';
import { GROUP_BUFFER_SIZE_BYTES_INITIAL, SEGMENT_HEADER_SIZE_BYTES } from '../constants.js';
import { encodeSegmentHeader } from './format.js';
import { encodeFrame } from './frame-encoder.js';
import type { Segment } from './segment.js';

export class WriteGroup {
  readonly segment: Segment;
  /** File position of `buffer[0]`. */
  readonly startFilePosition: number;
  readonly firstOffset: number;
  buffer: Buffer;
  usedBytes: number;
  recordCount: number;
  lastFramePosition: number;
  /** Set once the flusher has taken the group: no more frames join it. */
  flushing: boolean;
  timestampMs: number;
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (error: Error) => void;

  constructor(segment: Segment, firstOffset: number, buffer: Buffer) {
    this.segment = segment;
    this.firstOffset = firstOffset;
    this.buffer = buffer;
    this.usedBytes = 0;
    this.recordCount = 0;
    this.lastFramePosition = -1;
    this.flushing = false;
    this.timestampMs = 0;
    if (segment.headerPending) {
      // A rotated segment's header goes out with its first group: one write, not two.
      this.startFilePosition = 0;
      encodeSegmentHeader(buffer, 0, segment.baseOffset, segment.createdAtMs);
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

  /** Adds one frame; returns its offset. */
  add(payload: Uint8Array, frameBytes: number, timestampMs: number, pool: BufferPool): number {
    if (this.usedBytes + frameBytes > this.buffer.length) this.buffer = pool.grow(this.buffer, this.usedBytes, this.usedBytes + frameBytes);
    const offset = this.firstOffset + this.recordCount;
    this.lastFramePosition = this.usedBytes;
    this.usedBytes += encodeFrame(this.buffer, this.usedBytes, payload, offset, timestampMs, this.recordCount);
    this.recordCount += 1;
    this.timestampMs = timestampMs;
    return offset;
  }
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
    if (this.#free.length < 2 && buffer.length <= 16 * GROUP_BUFFER_SIZE_BYTES_INITIAL * 16) this.#free.push(buffer);
  }
}

function ignore(): void {}
