/**
 * The owner's side of a shared append ring (see shared-ring.ts): takes the
 * records a producer thread publishes, appends them to the Wal in order,
 * and writes back each offset (or error code) as the log acknowledges it.
 * Waiting is `Atomics.waitAsync`, so the owner's event loop is never blocked
 * and nothing polls.
 */
import { assert } from '../assert.js';
import { InvalidArgumentError, WalClosedError, WalError } from '../errors.js';
import { Wal } from '../log/wal.js';
import type { AppendResult } from '../log/wal.js';
import { checkOptionKeys, describe } from '../log/options.js';
import {
  CONTROL,
  CONTROL_WORDS,
  ENTRY_HEADER_BYTES,
  ERROR_CODES,
  RING_BYTES_DEFAULT,
  RING_BYTES_MAX,
  RING_BYTES_MIN,
  SHARED_RING_VERSION,
  STATE,
  WRAP_MARKER,
  changeOf,
  entryBytes,
  wake,
  resultSlotCount,
} from './shared-ring.js';
import type { SharedAppendHandle } from './shared-ring.js';

/**
 * The ring size `options` ask for, checked.
 * @throws InvalidArgumentError on an unknown key or a bad ring size
 */
export function ringBytesOf(options: SharedAppendChannelOptions): number {
  checkOptionKeys(options, ['ringBytes'], 'open shared append channel');
  const ringBytes = options.ringBytes ?? RING_BYTES_DEFAULT;
  if (!Number.isInteger(ringBytes) || ringBytes < RING_BYTES_MIN || ringBytes > RING_BYTES_MAX || ringBytes % 8 !== 0) {
    throw new InvalidArgumentError(
      `Cannot open shared append channel: ringBytes must be a multiple of 8 in [${RING_BYTES_MIN}, ${RING_BYTES_MAX}], got ${describe(ringBytes)}`,
    );
  }
  return ringBytes;
}

/** The part of a Wal a channel uses (a Wal, or a test double with the same contract). */
export interface AppendTarget {
  readonly dir: string;
  readonly maxRecordBytes: number;
  append(data: Uint8Array): Promise<AppendResult>;
  /** Calls `listener` when the target starts closing (the channel then closes too); returns the unsubscribe. */
  onClosing?(listener: () => void): () => void;
}

export interface SharedAppendChannelOptions {
  /** Ring size in bytes, a multiple of 8; bounds the records in flight from this producer. @default 4 MiB */
  readonly ringBytes?: number;
}

/**
 * One producer thread's channel into a log.
 *
 * @example
 * const channel = SharedAppendChannel.open(wal);
 * const worker = new Worker('./producer.js', { workerData: channel.handle });
 * // in the worker: const appender = SharedAppender.attach(workerData); await appender.append(bytes);
 * await once(worker, 'exit');
 * await channel.close();
 */
export class SharedAppendChannel {
  /** Pass this to the producer thread. */
  readonly handle: SharedAppendHandle;
  readonly #target: AppendTarget;
  readonly #control: Int32Array;
  readonly #ring: Uint8Array;
  readonly #ringView: DataView;
  readonly #results: Float64Array;
  readonly #slotCount: number;
  /** Ring bytes each taken record holds (its entry and any skipped tail before it), oldest first. */
  readonly #takenBytes: number[] = [];
  #readPosition = 0;
  #takenCount = 0;
  #settledCount = 0;
  /**
   * Results of records that settled before an older one: a closing or
   * failing Wal rejects new appends at once while older groups are still
   * being written. The producer sees results only in publication order.
   */
  readonly #settledEarly = new Map<number, number>();
  #closing = false;
  #drained: (() => void) | null = null;
  #wakeScheduled = false;
  readonly #wakeProducer = (): void => {
    this.#wakeScheduled = false;
    wake(this.#control, CONTROL.PRODUCER_WAKE);
  };
  readonly #done: Promise<void>;
  /** Drops this channel's close-with-the-log listener: a closed channel is not kept by a Wal that lives on. */
  readonly #forgetTarget: (() => void) | null;

  private constructor(target: AppendTarget, ringBytes: number) {
    this.#target = target;
    const control = new SharedArrayBuffer(CONTROL_WORDS * 4);
    const ring = new SharedArrayBuffer(ringBytes);
    this.#slotCount = resultSlotCount(ringBytes);
    const results = new SharedArrayBuffer(this.#slotCount * 8);
    this.#control = new Int32Array(control);
    this.#ring = new Uint8Array(ring);
    this.#ringView = new DataView(ring);
    this.#results = new Float64Array(results);
    this.handle = { version: SHARED_RING_VERSION, control, ring, results, maxRecordBytes: target.maxRecordBytes, dir: target.dir };
    this.#done = this.#run();
    // A channel outliving its log would wait for the producer for good,
    // keeping the process alive and its shared memory in use.
    this.#forgetTarget = target.onClosing?.(() => void this.close()) ?? null;
  }

  /**
   * Opens a channel into `target` (a Wal) for one producer thread.
   * @throws InvalidArgumentError on a bad ring size
   */
  static open(target: AppendTarget, options: SharedAppendChannelOptions = {}): SharedAppendChannel {
    if (typeof target !== 'object' || target === null || typeof target.append !== 'function') {
      throw new InvalidArgumentError(`Cannot open shared append channel: the target must be a Wal, got ${describe(target)}`);
    }
    // The handle carries these to the producer thread, which refuses a handle without them.
    if (typeof target.dir !== 'string' || !Number.isSafeInteger(target.maxRecordBytes) || target.maxRecordBytes < 1) {
      throw new InvalidArgumentError('Cannot open shared append channel: the target must be a Wal (or have a string dir, a positive integer maxRecordBytes and append())');
    }
    if (target instanceof Wal && (target.state === 'closed' || target.state === 'closing')) {
      throw new WalClosedError('open shared append channel');
    }
    return new SharedAppendChannel(target, ringBytesOf(options));
  }

  /**
   * @internal Settles once the channel takes no more records and every one
   * it took has settled, however it ended (its close(), the producer's, its
   * log's); never rejects.
   */
  get ended(): Promise<void> {
    return this.#done.then(
      () => {},
      () => {},
    );
  }

  /** Records settled (acknowledged or failed) so far. */
  get settledCount(): number {
    return this.#settledCount;
  }

  /**
   * Stops taking records: the producer's later appends reject with
   * WAL_CLOSED. Records already taken still settle first. Closing the Wal
   * closes its channels too.
   */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#forgetTarget?.();
      Atomics.compareExchange(this.#control, CONTROL.STATE, STATE.OPEN, STATE.CLOSED_BY_OWNER);
      wake(this.#control, CONTROL.OWNER_WAKE);
      wake(this.#control, CONTROL.PRODUCER_WAKE);
    }
    await this.#done;
  }

  async #run(): Promise<void> {
    for (;;) {
      const wakeCount = Atomics.load(this.#control, CONTROL.OWNER_WAKE);
      const published = Atomics.load(this.#control, CONTROL.PUBLISHED);
      const state = Atomics.load(this.#control, CONTROL.STATE);
      if (published === (this.#takenCount | 0)) {
        if (this.#closing || state !== STATE.OPEN) break;
        await changeOf(this.#control, CONTROL.OWNER_WAKE, wakeCount);
        continue;
      }
      while ((this.#takenCount | 0) !== published) this.#take();
    }
    Atomics.store(this.#control, CONTROL.TAKEN_FINAL, this.#takenCount | 0);
    Atomics.store(this.#control, CONTROL.OWNER_DONE, 1);
    wake(this.#control, CONTROL.PRODUCER_WAKE);
    if (this.#settledCount !== this.#takenCount) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
    }
  }

  /** Appends the next published record; settles it when the log does. */
  #take(): void {
    let skippedBytes = 0;
    let length = this.#ringView.getUint32(this.#readPosition, true);
    if (length === WRAP_MARKER) {
      skippedBytes = this.#ring.length - this.#readPosition;
      this.#readPosition = 0;
      length = this.#ringView.getUint32(0, true);
    }
    assert(length !== WRAP_MARKER && entryBytes(length) <= this.#ring.length, 'a published entry fits the ring');
    const sequence = this.#takenCount;
    this.#takenCount += 1;
    const data = this.#ring.subarray(this.#readPosition + ENTRY_HEADER_BYTES, this.#readPosition + ENTRY_HEADER_BYTES + length);
    const bytes = entryBytes(length);
    this.#takenBytes.push(skippedBytes + bytes);
    this.#readPosition = (this.#readPosition + bytes) % this.#ring.length;
    // The Wal copies `data` into its write group before it resolves; the
    // ring space is freed only when the record settles.
    let appended: Promise<AppendResult>;
    try {
      appended = this.#target.append(data);
    } catch (error) {
      appended = Promise.reject(error);
    }
    appended.then(
      (result) => this.#settle(sequence, result.offset),
      (error: unknown) => this.#settle(sequence, -(errorIndex(error) + 1)),
    );
  }

  #settle(sequence: number, result: number): void {
    assert(sequence >= this.#settledCount && sequence < this.#takenCount && !this.#settledEarly.has(sequence), 'a record settles once');
    if (sequence !== this.#settledCount) {
      this.#settledEarly.set(sequence, result);
      return;
    }
    this.#publish(result);
    for (let early = this.#settledEarly.get(this.#settledCount); early !== undefined; early = this.#settledEarly.get(this.#settledCount)) {
      this.#settledEarly.delete(this.#settledCount);
      this.#publish(early);
    }
    Atomics.store(this.#control, CONTROL.ACKNOWLEDGED, this.#settledCount | 0);
    // A group's records settle in one microtask run: wake the producer once for all of them.
    if (!this.#wakeScheduled) {
      this.#wakeScheduled = true;
      queueMicrotask(this.#wakeProducer);
    }
    if (this.#settledCount === this.#takenCount) this.#drained?.();
  }

  /** Hands the oldest unsettled record's result to the producer and frees its ring space. */
  #publish(result: number): void {
    this.#results[this.#settledCount % this.#slotCount] = result;
    const freedBytes = this.#takenBytes.shift();
    assert(freedBytes !== undefined, 'a settled record was taken');
    this.#settledCount += 1;
    Atomics.sub(this.#control, CONTROL.USED_BYTES, freedBytes);
  }
}

function errorIndex(error: unknown): number {
  const code = error instanceof WalError ? error.code : 'WAL_FAILED';
  const index = ERROR_CODES.indexOf(code);
  return index < 0 ? ERROR_CODES.indexOf('WAL_FAILED') : index;
}
