/**
 * A block of records as `wal.readBlocks()` yields it: the verified bytes of
 * one read and where each record lies in them, with no object per record.
 * The bytes and the tables are reused for a later block once the reader
 * moves on, which is what lets a scan run near the speed of a plain read:
 * no fresh memory to fault in, no garbage per record.
 */
import { assert } from '../assert.js';
import { InvalidArgumentError } from '../errors.js';
import { READ_CHUNK_SIZE_BYTES } from '../constants.js';
import type { RecordSink } from './frame-decoder.js';
import type { BlockCollector } from './reader.js';

/**
 * Records of one read, valid until the reader's next step (the next
 * iteration of the `for await`, or its end). Record `index` (0 to
 * `count - 1`) has offset `firstOffset + index`.
 */
export interface RecordBlock {
  /** Offset of the block's first record. */
  readonly firstOffset: number;
  /** Records in the block (at least one). */
  readonly count: number;
  /** The bytes the records lie in (see {@link RecordBlock.dataPosition}). */
  readonly buffer: Buffer;
  /** Where record `index`'s data starts in `buffer`. */
  dataPosition(index: number): number;
  /** Size of record `index`'s data in bytes. */
  dataSizeBytes(index: number): number;
  /** Append time of record `index`, ms since the epoch. */
  timestamp(index: number): number;
  /** Record `index`'s data as a view; copy it (`Buffer.from(view)`) to keep it past the next step. */
  data(index: number): Buffer;
}

/** Records per block the tables start with; they double when a block holds more. */
const TABLE_RECORD_COUNT_INITIAL = 1024;

/** Where the records of the block being filled lie; one per reader, refilled for every block. */
export class RecordTables implements RecordSink {
  count = 0;
  firstOffset = 0;
  dataPositions = new Uint32Array(TABLE_RECORD_COUNT_INITIAL);
  dataSizes = new Uint32Array(TABLE_RECORD_COUNT_INITIAL);
  timestamps = new Float64Array(TABLE_RECORD_COUNT_INITIAL);

  add(offset: number, timestampMs: number, dataPosition: number, dataSizeBytes: number): void {
    const index = this.count;
    if (index === 0) this.firstOffset = offset;
    if (index === this.dataPositions.length) this.#grow();
    this.dataPositions[index] = dataPosition;
    this.dataSizes[index] = dataSizeBytes;
    this.timestamps[index] = timestampMs;
    this.count = index + 1;
  }

  #grow(): void {
    const capacity = this.dataPositions.length * 2;
    const dataPositions = new Uint32Array(capacity);
    dataPositions.set(this.dataPositions);
    const dataSizes = new Uint32Array(capacity);
    dataSizes.set(this.dataSizes);
    const timestamps = new Float64Array(capacity);
    timestamps.set(this.timestamps);
    this.dataPositions = dataPositions;
    this.dataSizes = dataSizes;
    this.timestamps = timestamps;
  }
}

/**
 * One yielded block: a small object per read over the reader's shared
 * tables. Once released, every access throws instead of quietly returning
 * another read's bytes.
 */
export class RecordBlockView implements RecordBlock {
  readonly #tables: RecordTables;
  readonly #buffer: Buffer;
  readonly #firstOffset: number;
  readonly #count: number;
  #released = false;

  constructor(tables: RecordTables, buffer: Buffer) {
    this.#tables = tables;
    this.#buffer = buffer;
    this.#firstOffset = tables.firstOffset;
    this.#count = tables.count;
  }

  get firstOffset(): number {
    this.#checkLive();
    return this.#firstOffset;
  }

  get count(): number {
    this.#checkLive();
    return this.#count;
  }

  get buffer(): Buffer {
    this.#checkLive();
    return this.#buffer;
  }

  dataPosition(index: number): number {
    this.#checkIndex(index);
    return this.#tables.dataPositions[index]!;
  }

  dataSizeBytes(index: number): number {
    this.#checkIndex(index);
    return this.#tables.dataSizes[index]!;
  }

  timestamp(index: number): number {
    this.#checkIndex(index);
    return this.#tables.timestamps[index]!;
  }

  data(index: number): Buffer {
    this.#checkIndex(index);
    const dataPosition = this.#tables.dataPositions[index]!;
    return this.#buffer.subarray(dataPosition, dataPosition + this.#tables.dataSizes[index]!);
  }

  /** Called when the reader moves on: the bytes and tables are about to hold another block. */
  release(): void {
    this.#released = true;
  }

  #checkLive(): void {
    if (this.#released) {
      throw new InvalidArgumentError(
        'Cannot read block: it was released when its reader moved on, and its bytes now hold another block; copy what you keep before the next step',
      );
    }
  }

  #checkIndex(index: number): void {
    this.#checkLive();
    // Written so that NaN fails too.
    if (!(index >= 0 && index < this.#count) || !Number.isInteger(index)) {
      throw new InvalidArgumentError(`Cannot read block record: index ${String(index)} is not an integer in [0, ${this.#count})`);
    }
  }
}

/**
 * Buffers a reader keeps for reuse: one being yielded, two reads in
 * flight, and one spare for the moment between a read's end and the
 * recycling of the block before it.
 */
const POOLED_BUFFER_COUNT_MAX = 4;

/** Collects each read into a reused {@link RecordBlock}; its buffers come from a small pool. */
export class RecordBlockCollector implements BlockCollector<RecordBlock> {
  readonly #tables = new RecordTables();
  readonly sink: RecordSink = this.#tables;
  readonly #pool: Buffer[] = [];
  #bytes: Buffer = Buffer.alloc(0);
  #yielded: RecordBlockView | null = null;

  allocate(headroomBytes: number, sizeBytes: number): Buffer {
    const wantedBytes = headroomBytes + READ_CHUNK_SIZE_BYTES;
    assert(sizeBytes <= READ_CHUNK_SIZE_BYTES, 'a read fits a pooled buffer');
    const pooled = this.#pool.pop();
    if (pooled !== undefined && pooled.length === wantedBytes) return pooled;
    return Buffer.allocUnsafeSlow(wantedBytes);
  }

  recycle(buffer: Buffer): void {
    if (this.#pool.length < POOLED_BUFFER_COUNT_MAX) this.#pool.push(buffer);
  }

  begin(bytes: Buffer): void {
    this.#bytes = bytes;
    this.#tables.count = 0;
  }

  finish(): RecordBlock | null {
    if (this.#tables.count === 0) return null;
    this.#yielded = new RecordBlockView(this.#tables, this.#bytes);
    return this.#yielded;
  }

  moveOn(): void {
    this.#yielded?.release();
    this.#yielded = null;
  }
}
