/**
 * The producer's side of a shared append ring (see shared-ring.ts), used in
 * a worker thread: `append` copies the record into the ring, publishes it,
 * and resolves with its offset once the owning log acknowledged it.
 * Everything waits with `Atomics.waitAsync`: the worker's event loop keeps
 * running and nothing polls.
 */
import { assert } from '../assert.js';
import { InvalidArgumentError, WalClosedError, WalError, WalIOError } from '../errors.js';
import { toPayload } from '../log/record-input.js';
import { describe } from '../log/options.js';
import type { AppendResult } from '../log/wal.js';
import { CONTROL, CONTROL_WORDS, ENTRY_HEADER_BYTES, ERROR_CODES, SHARED_RING_VERSION, STATE, WRAP_MARKER, changeOf, entryBytes, resultSlotCount, wake } from './shared-ring.js';
import type { SharedAppendHandle } from './shared-ring.js';

interface Waiting {
  readonly sequence: number;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: Error) => void;
}

/** A record waiting for ring space, in call order. */
interface Queued {
  readonly payload: Uint8Array;
  readonly bytes: number;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Appends to a log owned by another thread, through shared memory.
 *
 * @example
 * import { workerData } from 'node:worker_threads';
 * const appender = SharedAppender.attach(workerData);
 * const { offset } = await appender.append(Buffer.from('from a worker'));
 * appender.close();
 */
export class SharedAppender {
  readonly #handle: SharedAppendHandle;
  readonly #control: Int32Array;
  readonly #ring: Uint8Array;
  readonly #ringView: DataView;
  readonly #results: Float64Array;
  readonly #slotCount: number;
  /** Published records waiting for the owner's acknowledgement, in sequence order. */
  readonly #waiting: Waiting[] = [];
  readonly #queued: Queued[] = [];
  #writePosition = 0;
  #publishedCount = 0;
  #watching = false;
  #closed = false;
  #wakeScheduled = false;
  readonly #wakeOwner = (): void => {
    this.#wakeScheduled = false;
    wake(this.#control, CONTROL.OWNER_WAKE);
  };

  private constructor(handle: SharedAppendHandle) {
    this.#handle = handle;
    this.#control = new Int32Array(handle.control);
    this.#ring = new Uint8Array(handle.ring);
    this.#ringView = new DataView(handle.ring);
    this.#results = new Float64Array(handle.results);
    this.#slotCount = resultSlotCount(handle.ring.byteLength);
  }

  /**
   * Attaches to a channel's handle (one producer thread per channel).
   * @throws InvalidArgumentError when `handle` is not a SharedAppendChannel's handle, or when a producer already attached to it
   */
  static attach(handle: SharedAppendHandle): SharedAppender {
    const valid =
      typeof handle === 'object' &&
      handle !== null &&
      handle.version === SHARED_RING_VERSION &&
      handle.control instanceof SharedArrayBuffer &&
      handle.control.byteLength === CONTROL_WORDS * 4 &&
      handle.ring instanceof SharedArrayBuffer &&
      handle.results instanceof SharedArrayBuffer &&
      handle.results.byteLength === resultSlotCount(handle.ring.byteLength) * 8 &&
      Number.isInteger(handle.maxRecordBytes);
    if (!valid) {
      throw new InvalidArgumentError(`Cannot attach shared appender: expected a SharedAppendChannel's handle, got ${describe(handle)}`);
    }
    // The ring has a single writer: a second appender would publish over the first one's records.
    if (Atomics.compareExchange(new Int32Array(handle.control), CONTROL.ATTACHED, 0, 1) !== 0) {
      throw new InvalidArgumentError(
        `Cannot attach shared appender to the channel of ${handle.dir}: a producer is already attached; open one SharedAppendChannel per producer thread`,
      );
    }
    return new SharedAppender(handle);
  }

  /**
   * Appends one record to the owning log.
   * @returns its offset, once the owner's log acknowledged it
   * @throws InvalidArgumentError for a bad record; WalClosedError once the channel or the appender is closed
   */
  append(data: Uint8Array | string): Promise<AppendResult> {
    try {
      const payload = this.#toPayload(data);
      this.#checkOpen();
      return new Promise<AppendResult>((resolve, reject) => {
        this.#queued.push({ payload, bytes: entryBytes(payload.length), resolve, reject });
        this.#publishQueued();
        this.#watch();
      });
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /** Stops this producer: later appends reject with WAL_CLOSED; those already published still settle. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    Atomics.compareExchange(this.#control, CONTROL.STATE, STATE.OPEN, STATE.CLOSED_BY_PRODUCER);
    wake(this.#control, CONTROL.OWNER_WAKE);
    for (const queued of this.#queued.splice(0)) queued.reject(channelClosed());
  }

  #toPayload(data: unknown): Uint8Array {
    // The owner's Wal checks records the same way: a record refused there is refused here.
    const payload = toPayload(data, this.#handle.maxRecordBytes, 'append record');
    if (entryBytes(payload.length) > this.#ring.length / 2) {
      throw new InvalidArgumentError(
        `Cannot append record: size is ${payload.length} bytes, more than half the shared ring (${this.#ring.length} bytes); open the channel with a larger ringBytes`,
      );
    }
    return payload;
  }

  #checkOpen(): void {
    if (this.#closed || Atomics.load(this.#control, CONTROL.STATE) === STATE.CLOSED_BY_OWNER) {
      throw channelClosed();
    }
  }

  /** Ring bytes an entry needs at the write position, counting a skipped tail when it must wrap. */
  #bytesNeeded(bytes: number): number {
    const tailBytes = this.#ring.length - this.#writePosition;
    return tailBytes >= bytes ? bytes : tailBytes + bytes;
  }

  /**
   * Publishes queued records, in order, while the ring has room and a result
   * slot is free. The owner writes record n's result into slot n % slotCount
   * and frees its ring space at once; until this thread has read that result,
   * record n + slotCount must not be published, or the owner could overwrite
   * the slot first and record n would be settled with another one's offset.
   */
  #publishQueued(): void {
    this.#takeResults();
    for (let queued = this.#queued[0]; queued !== undefined; queued = this.#queued[0]) {
      if (this.#waiting.length >= this.#slotCount) return;
      const needed = this.#bytesNeeded(queued.bytes);
      if (this.#ring.length - Atomics.load(this.#control, CONTROL.USED_BYTES) < needed) return;
      this.#queued.shift();
      this.#waiting.push({ sequence: this.#publishedCount, resolve: queued.resolve, reject: queued.reject });
      this.#publish(queued.payload, queued.bytes, needed);
    }
  }

  #publish(payload: Uint8Array, bytes: number, needed: number): void {
    if (needed !== bytes) {
      this.#ringView.setUint32(this.#writePosition, WRAP_MARKER, true);
      this.#writePosition = 0;
    }
    assert(this.#writePosition + bytes <= this.#ring.length, 'an entry fits before the ring ends');
    this.#ringView.setUint32(this.#writePosition, payload.length, true);
    this.#ringView.setUint32(this.#writePosition + 4, 0, true);
    this.#ring.set(payload, this.#writePosition + ENTRY_HEADER_BYTES);
    this.#writePosition = (this.#writePosition + bytes) % this.#ring.length;
    Atomics.add(this.#control, CONTROL.USED_BYTES, needed);
    this.#publishedCount += 1;
    // A seq-cst store: the owner that sees the count sees the bytes.
    Atomics.store(this.#control, CONTROL.PUBLISHED, this.#publishedCount | 0);
    // Producers that append in one microtask run wake the owner once.
    if (!this.#wakeScheduled) {
      this.#wakeScheduled = true;
      queueMicrotask(this.#wakeOwner);
    }
  }

  /** Runs while anything waits: settles published records and publishes queued ones as space frees. */
  #watch(): void {
    if (this.#watching) return;
    this.#watching = true;
    void this.#watchLoop();
  }

  /** Settles the published records the owner has acknowledged, oldest first, freeing their result slots. */
  #takeResults(): void {
    const acknowledged = Atomics.load(this.#control, CONTROL.ACKNOWLEDGED);
    while (this.#waiting.length > 0 && ((this.#waiting[0]?.sequence ?? 0) | 0) !== acknowledged) {
      const waiting = this.#waiting.shift();
      assert(waiting !== undefined, 'a waiting record exists');
      const result = this.#results[waiting.sequence % this.#slotCount] ?? Number.NaN;
      if (result >= 0) waiting.resolve({ offset: result });
      else waiting.reject(errorFor(result, this.#handle.dir));
    }
  }

  async #watchLoop(): Promise<void> {
    for (;;) {
      const wakeCount = Atomics.load(this.#control, CONTROL.PRODUCER_WAKE);
      const ownerDone = Atomics.load(this.#control, CONTROL.OWNER_DONE) === 1;
      this.#takeResults();
      if (ownerDone) {
        // Records published after the owner stopped taking will never settle.
        const takenFinal = Atomics.load(this.#control, CONTROL.TAKEN_FINAL);
        const orphanCount = this.#waiting.filter((waiting) => ((waiting.sequence - takenFinal) | 0) >= 0).length;
        for (const waiting of this.#waiting.splice(this.#waiting.length - orphanCount)) waiting.reject(channelClosed());
        for (const queued of this.#queued.splice(0)) queued.reject(channelClosed());
      } else {
        this.#publishQueued();
      }
      if (this.#waiting.length === 0 && this.#queued.length === 0) {
        // Cleared here, not after the loop's promise settles: an append made
        // by a continuation of the records just settled must start a new loop.
        this.#watching = false;
        return;
      }
      await changeOf(this.#control, CONTROL.PRODUCER_WAKE, wakeCount);
    }
  }
}

function errorFor(result: number, dir: string): WalError {
  const code = ERROR_CODES[-result - 1] ?? 'WAL_FAILED';
  if (code === 'WAL_CLOSED') return channelClosed();
  // The errno error itself stays in the owner's thread (its log has it as the failure's cause).
  if (code === 'WAL_FAILED') return new WalIOError(`Cannot append record to the log in ${dir} from a worker thread: the owner's log failed (WAL_FAILED); see the owner's log, and reopen it to recover`, undefined);
  return new WalError(code, `Cannot append record to the log in ${dir} from a worker thread: the owner's log rejected it (${code}); see the owner's log`);
}

function channelClosed(): WalClosedError {
  return new WalClosedError('append record', 'shared append channel', 'it, its appender or its log was closed; open a new SharedAppendChannel to append more');
}
