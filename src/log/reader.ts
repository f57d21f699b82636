/**
 * Reads records in a range of offsets. Sealed and active segments are read
 * the same way: large sequential reads through the shared handle cache, every
 * frame's checksum and offset verified on every read. While the records of
 * one block are being yielded, the read of the next block is in flight.
 * Readers take no lock: they read only acknowledged bytes, which are never
 * rewritten, so they never block appends.
 */
import { FRAME_HEADER_SIZE_BYTES, FRAME_SIZE_BYTES_TARGET, READ_CHUNK_SIZE_BYTES, RECORD_SIZE_BYTES_LIMIT } from '../constants.js';
import { readFully } from '../io/read-fully.js';
import { readSegmentNonce } from './segment-header-file.js';
import { CorruptionError, WalIOError } from '../errors.js';
import { assert } from '../assert.js';
import type { FileHandle } from '../io/file-system.js';
import type { FileCache } from './file-cache.js';
import { FrameDecoder } from './frame-decoder.js';
import type { RecordSink } from './frame-decoder.js';
import type { Segment } from './segment.js';

/** One record as readers return it. */
export interface WalRecord {
  /** The record's offset: dense, starting at the log's first offset. */
  readonly offset: number;
  /** Append time, ms since the epoch. */
  readonly timestamp: number;
  /** The record's bytes: a view into the block read from disk, valid for as long as it is held (blocks are never reused). Keeping it keeps that whole block in memory: copy it (`Buffer.from(data)`) to keep a few records of a long scan. */
  readonly data: Buffer;
}

/** What a reader needs from the log. */
export interface ReadableLog {
  readonly fileCache: FileCache;
  readonly maxRecordBytes: number;
  /** The segment holding `offset`; throws OffsetOutOfRangeError when it was removed. */
  segmentFor(offset: number, action: string): Segment;
  /** Loads a sealed segment's size and sparse index (index trailer or scan). */
  ensureIndexed(segment: Segment): Promise<void>;
  /** Throws WalClosedError once the log is closed: a reader still iterating opens no file of it. */
  assertReadable(action: string): void;
}

/**
 * What a reader collects from the verified frames of one read, and yields
 * for it. Two kinds: arrays of records (whose views keep their block
 * alive) and reused record blocks (whose bytes come from a small pool).
 */
export interface BlockCollector<T> {
  /** Memory for one read of up to `sizeBytes`, with `headroomBytes` free in front. */
  allocate(headroomBytes: number, sizeBytes: number): Buffer;
  /** The reader is done with a buffer `allocate` gave: nothing it yielded points into it any more. */
  recycle(buffer: Buffer): void;
  /** Starts a block over `bytes`. */
  begin(bytes: Buffer): void;
  /** Takes the block's records in range, frame by frame; their data positions are in the bytes given to `begin`. */
  readonly sink: RecordSink;
  /** What to yield for the block, or null when it holds no record in range. */
  finish(): T | null;
  /** The consumer took its next step: what `finish` returned last is stale. */
  moveOn(): void;
}

/** Collects each block's records as an array of `{ offset, timestamp, data }`; blocks are never reused. */
class RecordArrayCollector implements BlockCollector<WalRecord[]>, RecordSink {
  #bytes: Buffer = Buffer.alloc(0);
  #records: WalRecord[] = [];
  readonly sink: RecordSink = this;

  allocate(headroomBytes: number, sizeBytes: number): Buffer {
    return Buffer.allocUnsafeSlow(headroomBytes + sizeBytes);
  }

  recycle(): void {}

  begin(bytes: Buffer): void {
    this.#bytes = bytes;
    this.#records = [];
  }

  add(offset: number, timestampMs: number, dataPosition: number, dataSizeBytes: number): void {
    this.#records.push({ offset, timestamp: timestampMs, data: this.#bytes.subarray(dataPosition, dataPosition + dataSizeBytes) });
  }

  finish(): WalRecord[] | null {
    return this.#records.length > 0 ? this.#records : null;
  }

  moveOn(): void {}
}

/** Yields the records `[from, to)` in blocks (one block per read), in order. */
export function readBatches(log: ReadableLog, from: number, to: number): AsyncGenerator<WalRecord[], void, undefined> {
  return readBlocksWith(log, from, to, new RecordArrayCollector());
}

/** Yields what `collector` makes of each read of the records `[from, to)`, in order. */
export async function* readBlocksWith<T>(log: ReadableLog, from: number, to: number, collector: BlockCollector<T>): AsyncGenerator<T, void, undefined> {
  let offset = from;
  while (offset < to) {
    const segment = log.segmentFor(offset, 'read records');
    const segmentEnd = Math.min(to, segment.nextOffset);
    yield* readSegment(log, segment, offset, segmentEnd, collector);
    offset = segmentEnd;
  }
}

/** Yields the records `[from, to)` one by one, in order. */
export function readRange(log: ReadableLog, from: number, to: number): AsyncIterableIterator<WalRecord> {
  return new RecordIterator(readBatches(log, from, to));
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * Flattens blocks of records without an async generator per record: a
 * record already in memory costs one resolved promise, not a chain of
 * generator resumptions (measured: about 3 us per record otherwise).
 */
class RecordIterator implements AsyncIterableIterator<WalRecord> {
  readonly #batches: AsyncGenerator<WalRecord[], void, undefined>;
  #batch: WalRecord[];
  #index: number;

  constructor(batches: AsyncGenerator<WalRecord[], void, undefined>) {
    this.#batches = batches;
    this.#batch = [];
    this.#index = 0;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WalRecord> {
    return this;
  }

  next(): Promise<IteratorResult<WalRecord, undefined>> {
    const record = this.#batch[this.#index];
    if (record !== undefined) {
      this.#index += 1;
      return Promise.resolve({ done: false, value: record });
    }
    return this.#nextBatch();
  }

  async return(): Promise<IteratorResult<WalRecord, undefined>> {
    this.#batch = [];
    await this.#batches.return(undefined);
    return DONE;
  }

  async #nextBatch(): Promise<IteratorResult<WalRecord, undefined>> {
    const result = await this.#batches.next();
    if (result.done === true) return DONE;
    this.#batch = result.value;
    this.#index = 1;
    const record = result.value[0];
    if (record === undefined) return this.#nextBatch();
    return { done: false, value: record };
  }
}

/**
 * Space kept free in front of each block for the unfinished frame at the end
 * of the previous block, so a frame that straddles two reads is stitched
 * with a copy of its first part only, never of the whole block.
 */
const HEADROOM_BYTES = FRAME_SIZE_BYTES_TARGET + FRAME_HEADER_SIZE_BYTES;

interface Block {
  readonly buffer: Buffer;
  /** File position of `buffer[HEADROOM_BYTES]`. */
  readonly filePosition: number;
  readonly sizeBytes: number;
}

/**
 * Indexes `segment` and borrows a read handle for it. Retention may delete
 * the segment between the reader finding it and opening it; the reader
 * then gets what a read below `firstOffset` gets, not the file's ENOENT.
 */
async function openSegment(log: ReadableLog, segment: Segment, from: number): Promise<FileHandle> {
  log.assertReadable('read records');
  try {
    await log.ensureIndexed(segment);
    // A segment just rotated in may still carry its temp name.
    if (segment.named !== null) {
      await segment.named.catch((error: unknown) => {
        throw new WalIOError(`Cannot read records: ${segment.path} was never renamed into place; the log stopped, reopen it to recover`, error);
      });
    }
    return await log.fileCache.acquire(segment.path);
  } catch (error) {
    throw openFailure(log, segment, from, error);
  }
}

/** Borrows the read handle of an indexed, named segment again (a reader resuming after a yield), with the errors of {@link openSegment}. */
async function borrowHandle(log: ReadableLog, segment: Segment, offset: number): Promise<FileHandle> {
  log.assertReadable('read records');
  try {
    return await log.fileCache.acquire(segment.path);
  } catch (error) {
    throw openFailure(log, segment, offset, error);
  }
}

/** What a failed open of `segment` means to a reader at `offset` (throws it when the log says so). */
function openFailure(log: ReadableLog, segment: Segment, offset: number, error: unknown): unknown {
  // Throws OffsetOutOfRangeError: the segment is no longer in the log.
  if (segment.deleted) log.segmentFor(offset, 'read records');
  // Closed meanwhile: a newer owner of the folder may have deleted the file.
  log.assertReadable('read records');
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return new WalIOError(`Cannot read records: ${segment.path} is gone, though the log still lists it; was it deleted by hand? Reopen the log to recover`, error);
  }
  if (typeof (error as NodeJS.ErrnoException).errno === 'number' && typeof code === 'string') {
    return new WalIOError(`Cannot read records: opening ${segment.path} failed (${code}); check that it is a readable file of the log`, error);
  }
  return error;
}

/**
 * Yields the records `[from, to)` of one segment in blocks, verified. The
 * read of the next block is issued before the current one is decoded, so
 * the disk (or the page-cache copy on the thread pool) and the checksums
 * overlap.
 */
async function* readSegment<T>(log: ReadableLog, segment: Segment, from: number, to: number, collector: BlockCollector<T>): AsyncGenerator<T, void, undefined> {
  let handle = await openSegment(log, segment, from);
  // False while the reader is handed back to its consumer: the handle is then
  // released as soon as the reads in flight settle, so a consumer that stops
  // calling next() without return() (a lookup of one record, a race against
  // a timeout) pins no descriptor, and no deleted file, for good.
  let holding = true;
  const start = segment.seek(from);
  // An index starts at the segment's first record (decodeSegmentIndex refuses
  // others): reading on from past `from` would silently leave records out.
  assert(start.offset <= from, 'a segment seek lands at or before the offset sought');
  const limitPosition = segment.sizeBytes;
  const decoder = new FrameDecoder(RECORD_SIZE_BYTES_LIMIT);
  try {
    if (segment.nonce < 0) segment.nonce = await readSegmentNonce(handle);
  } catch (error) {
    log.fileCache.release(segment.path);
    throw error;
  }
  decoder.expectedNonce = segment.nonce;
  let readPosition = start.filePosition;
  const issue = (): Promise<Block> => {
    const filePosition = readPosition;
    const sizeBytes = Math.max(0, Math.min(READ_CHUNK_SIZE_BYTES, limitPosition - filePosition));
    readPosition += sizeBytes;
    const pending = readBlock(handle, collector.allocate(HEADROOM_BYTES, sizeBytes), filePosition, sizeBytes);
    // A consumer that stops early never awaits the prefetch; keep its failure from being unhandled.
    pending.catch(ignore);
    return pending;
  };
  // The buffer of the block whose records were yielded last: recycled once its unfinished frame is stitched into the next.
  let previousBuffer: Buffer | null = null;
  // Two reads in flight: the thread pool copies the next blocks from the
  // page cache (or the disk reads them) while this thread verifies one.
  const pending: Promise<Block>[] = [];
  try {
    let offset = start.offset;
    let leftover: Buffer = Buffer.alloc(0);
    let dataEndPosition = start.filePosition;
    pending.push(issue());
    if (readPosition < limitPosition) pending.push(issue());
    while (offset < to) {
      const next = pending.shift();
      // Every block was read and records remain: the file is shorter than its index says.
      if (next === undefined) throw new CorruptionError(segment.path, dataEndPosition - leftover.length, 'segment ends before its last record');
      const block = await next;
      dataEndPosition = block.filePosition + block.sizeBytes;
      const blockFilePosition = block.filePosition - leftover.length;
      if (block.sizeBytes === 0) throw new CorruptionError(segment.path, blockFilePosition, 'segment ends before its last record');
      let bytes: Buffer;
      if (leftover.length <= HEADROOM_BYTES) {
        leftover.copy(block.buffer, HEADROOM_BYTES - leftover.length);
        bytes = block.buffer.subarray(HEADROOM_BYTES - leftover.length, HEADROOM_BYTES + block.sizeBytes);
      } else {
        // A frame larger than the headroom (a big batch): stitch it whole.
        bytes = Buffer.concat([leftover, block.buffer.subarray(HEADROOM_BYTES, HEADROOM_BYTES + block.sizeBytes)]);
      }
      if (previousBuffer !== null) collector.recycle(previousBuffer);
      previousBuffer = block.buffer;
      if (readPosition < limitPosition) pending.push(issue());
      collector.begin(bytes);
      let bufferPosition = 0;
      while (offset < to && bufferPosition < bytes.length) {
        const status = decoder.decode(bytes, bufferPosition, bytes.length, offset);
        if (status === 'incomplete' && decoder.frameSizeBytes <= limitPosition - blockFilePosition - bufferPosition) break;
        if (status !== 'ok') {
          const reason = status === 'zero' ? 'zeroed bytes where a frame belongs' : status === 'incomplete' ? 'frame runs past the end of the segment' : decoder.reason;
          throw new CorruptionError(segment.path, blockFilePosition + bufferPosition, reason);
        }
        decoder.records(bytes, bufferPosition, from, to, collector.sink);
        bufferPosition += decoder.frameSizeBytes;
        offset += decoder.recordCount;
      }
      leftover = bytes.subarray(bufferPosition);
      const value = collector.finish();
      if (value !== null) {
        // A read in flight must settle before its handle may close: its
        // descriptor could otherwise be reused by another file meanwhile.
        holding = false;
        void Promise.allSettled(pending).then(() => log.fileCache.release(segment.path));
        yield value;
        collector.moveOn();
        if (offset < to) {
          handle = await borrowHandle(log, segment, offset);
          holding = true;
        }
      }
    }
  } finally {
    // Reads still in flight keep their buffers: the thread pool may yet write into them.
    if (previousBuffer !== null) collector.recycle(previousBuffer);
    if (holding) {
      // A reader that stops early leaves reads in flight: the handle may be
      // closed once released, and its descriptor reused by another file.
      await Promise.allSettled(pending);
      log.fileCache.release(segment.path);
    }
  }
}

async function readBlock(handle: FileHandle, buffer: Buffer, filePosition: number, sizeBytes: number): Promise<Block> {
  const readBytes = await readFully(handle, buffer, HEADROOM_BYTES, Math.max(0, sizeBytes), filePosition);
  return { buffer, filePosition, sizeBytes: readBytes };
}

function ignore(): void {}
