/**
 * What the log knows about one segment file: its range of offsets, its size,
 * its timestamps and a sparse index from offset to file position. The
 * acknowledged fields move only when a write group is acknowledged; the
 * reserved fields move at append time, as records are assigned to the
 * segment, and drive rotation.
 */
import { join } from 'node:path';
import { assert } from '../assert.js';
import { INDEX_INTERVAL_BYTES, SEGMENT_HEADER_SIZE_BYTES } from '../constants.js';
import type { FileHandle } from '../io/file-system.js';
import { segmentFileName } from './segment-name.js';

export class Segment {
  readonly baseOffset: number;
  readonly path: string;
  createdAtMs: number;
  /** Random per segment, in its header and every frame; -1 until read from the header. */
  nonce: number;
  /** Records acknowledged in this segment. */
  recordCount: number;
  /** Size of the acknowledged content (header and whole groups). */
  sizeBytes: number;
  /** Records assigned (acknowledged or pending). */
  reservedRecordCount: number;
  /** Size once every pending group is written. */
  reservedSizeBytes: number;
  firstTimestampMs: number;
  lastTimestampMs: number;
  /** File size: content plus zeros written ahead (preallocation). */
  allocatedBytes: number;
  /** Zeros being written ahead, from `allocatingFromPosition`; groups reaching there wait. */
  allocating: Promise<void> | null;
  allocatingFromPosition: number;
  /** A shared journal's checkpoint syncing this file (Wal.syncFiles); closing waits for it. */
  filesSync: Promise<void> | null;
  /** Under batch: rotated away and not yet covered by a sync; its seal waits for one before closing the file. */
  syncPending: boolean;
  /** Synced, trimmed, indexed: never written again. */
  sealed: boolean;
  /** Removed from the log by retention (its file is being or was unlinked). */
  deleted: boolean;
  /** The write handle while this segment is active (or being sealed). */
  writeHandle: FileHandle | null;
  /** Resolves once `writeHandle` is set: groups may be written into the file. */
  ready: Promise<void> | null;
  /**
   * The rename from the prepared file's temp name, while in flight. Writes
   * and acknowledgements do not wait for it; anything that opens the file
   * by its name (readers, sealing, close, syncs of the folder) does.
   */
  named: Promise<void> | null;
  /** Resolves once the folder sync after the rename is done: the name is durable. */
  nameSynced: Promise<void> | null;
  /** The header is not on disk yet: the segment's first write group carries it. */
  headerPending: boolean;
  /** Sparse index: entry i says offset `baseOffset + indexOffsetDeltas[i]` starts at `indexPositions[i]`. */
  readonly indexOffsetDeltas: number[];
  readonly indexPositions: number[];
  /** False while the sparse index does not cover the whole segment (not loaded yet). */
  indexComplete: boolean;
  #ageMs = 0;
  /** Wall time of the last {@link ageMs} call; NaN before the first. */
  #ageSeenAtMs = NaN;

  constructor(dir: string, baseOffset: number, createdAtMs: number) {
    this.baseOffset = baseOffset;
    this.path = join(dir, segmentFileName(baseOffset));
    this.createdAtMs = createdAtMs;
    this.nonce = -1;
    this.recordCount = 0;
    this.sizeBytes = SEGMENT_HEADER_SIZE_BYTES;
    this.reservedRecordCount = 0;
    this.reservedSizeBytes = SEGMENT_HEADER_SIZE_BYTES;
    this.firstTimestampMs = 0;
    this.lastTimestampMs = 0;
    this.allocatedBytes = 0;
    this.allocating = null;
    this.allocatingFromPosition = 0;
    this.filesSync = null;
    this.syncPending = false;
    this.sealed = false;
    this.deleted = false;
    this.writeHandle = null;
    this.ready = null;
    this.named = null;
    this.nameSynced = null;
    this.headerPending = false;
    this.indexOffsetDeltas = [0];
    this.indexPositions = [SEGMENT_HEADER_SIZE_BYTES];
    this.indexComplete = true;
  }

  /**
   * How long this segment has been the active one, for age rotation, as of
   * wall time `nowMs`. It counts from `createdAtMs` (the header's, after a
   * reopen) and then adds only forward steps of the clock: a clock stepped
   * back (NTP, a VM resumed) would otherwise hold rotation up by the step.
   */
  ageMs(nowMs: number): number {
    if (Number.isNaN(this.#ageSeenAtMs)) {
      this.#ageMs = Math.max(0, nowMs - this.createdAtMs);
    } else if (nowMs > this.#ageSeenAtMs) {
      this.#ageMs += nowMs - this.#ageSeenAtMs;
    }
    this.#ageSeenAtMs = nowMs;
    return this.#ageMs;
  }

  /** One past the last acknowledged offset in this segment. */
  get nextOffset(): number {
    return this.baseOffset + this.recordCount;
  }

  /**
   * Records that a group of `recordCount` records ending at `endPosition` was
   * acknowledged; adds an index entry when the group starts a new interval.
   */
  acknowledge(groupStartPosition: number, recordCount: number, endPosition: number, timestampMs: number): void {
    assert(groupStartPosition <= this.sizeBytes, 'groups are acknowledged in order');
    const lastIndexedPosition = this.indexPositions[this.indexPositions.length - 1] ?? 0;
    const frameStartPosition = Math.max(groupStartPosition, SEGMENT_HEADER_SIZE_BYTES);
    if (frameStartPosition - lastIndexedPosition >= INDEX_INTERVAL_BYTES) {
      this.indexOffsetDeltas.push(this.recordCount);
      this.indexPositions.push(frameStartPosition);
    }
    if (this.recordCount === 0) this.firstTimestampMs = timestampMs;
    this.lastTimestampMs = timestampMs;
    this.recordCount += recordCount;
    this.sizeBytes = endPosition;
  }

  /** File position from which a scan reaches `offset` soonest, and the offset found there. */
  seek(offset: number): { filePosition: number; offset: number } {
    assert(offset >= this.baseOffset, 'seek within the segment');
    const delta = offset - this.baseOffset;
    let low = 0;
    let high = this.indexOffsetDeltas.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.indexOffsetDeltas[middle] ?? 0) <= delta) low = middle;
      else high = middle - 1;
    }
    return { filePosition: this.indexPositions[low] ?? SEGMENT_HEADER_SIZE_BYTES, offset: this.baseOffset + (this.indexOffsetDeltas[low] ?? 0) };
  }

  /** Replaces the sparse index (from an index trailer or a scan). */
  setIndex(offsetDeltas: readonly number[], positions: readonly number[]): void {
    assert(offsetDeltas.length === positions.length && offsetDeltas.length > 0, 'index arrays match');
    this.indexOffsetDeltas.length = 0;
    this.indexPositions.length = 0;
    this.indexOffsetDeltas.push(...offsetDeltas);
    this.indexPositions.push(...positions);
    this.indexComplete = true;
  }
}
