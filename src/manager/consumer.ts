/**
 * A streaming consumer over every partition of some topics. It follows each
 * partition with Wal.tail and hands out records round-robin, at most
 * `batchSize` from one partition before the next partition's turn, so a
 * busy partition cannot starve a quiet one. `commit()` writes the group's
 * checkpoint: the offset after the last record handed out, per partition.
 * A consumer restarted from `'checkpoint'` after a crash resumes exactly
 * there, so it skips nothing acknowledged; it may see again only records
 * handed out after the last commit (at-least-once).
 *
 * Each partition has at most one `next()` of its tail in flight and at most
 * one record taken from it and not yet handed out, so memory stays bounded
 * however far behind the consumer is, and a record's bytes (a view into
 * the reader's block) are handed out before that reader moves on.
 */
import { setMaxListeners } from 'node:events';
import { onAbort } from '../log/abort-listeners.js';
import { InvalidArgumentError, OffsetOutOfRangeError, WalClosedError } from '../errors.js';
import { checkOptionKeys, describe } from '../log/options.js';
import type { Wal, WalRecord } from '../log/wal.js';
import type { Logger } from '../logger.js';
import type { CheckpointOffsets, CheckpointStore } from './checkpoint-store.js';
import { checkCheckpointName, checkTopicName, logKey } from './topic-name.js';

/** Where a consumer starts in each partition. */
export type ConsumeFrom = 'checkpoint' | 'earliest' | 'latest';

/** Options of {@link WalManager.consume}. */
export interface ConsumeOptions {
  /** The consumer group: its checkpoint has this name. A checkpoint name: a topic name of at most 200 characters. */
  readonly group: string;
  /** Topics to follow (all their partitions, including ones created later). */
  readonly topics: readonly string[];
  /**
   * `'checkpoint'`: the group's committed offset, or the earliest record where it has none;
   * `'earliest'`: the first record still in each log; `'latest'`: only records appended after start.
   * @default 'checkpoint'
   */
  readonly from?: ConsumeFrom;
  /** Records taken from one partition before moving to the next. @default 64 */
  readonly batchSize?: number;
  /** Ends the iteration cleanly when aborted. */
  readonly signal?: AbortSignal;
}

/** A record with the log it came from. */
export interface ConsumerRecord extends WalRecord {
  readonly topic: string;
  readonly partition: number;
}

/** What a consumer needs from its manager. */
export interface ConsumerHost {
  readonly checkpoints: CheckpointStore;
  readonly logger: Logger;
  readonly maxPartitions: number;
  partitions(topic: string): number[];
  /** Opens (pins) a log; `release` unpins it. */
  acquire(topic: string, partition: number): Promise<{ wal: Wal; release: () => void }>;
  /** Calls `listener` for every partition created from now on; returns the unsubscribe. */
  onNewPartition(listener: (topic: string, partition: number) => void): () => void;
  /** The consumer's iteration began: close it with the manager. */
  started(consumer: Consumer): void;
  closed(consumer: Consumer): void;
  /** Throws WAL_CLOSED once the manager is closing. */
  checkOpen(action: string): void;
}

/** Records handed out from one partition per turn unless `batchSize` says otherwise. */
export const CONSUMER_BATCH_SIZE_DEFAULT = 64;

interface Cursor {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  /** The log followed; replaced when its Wal was closed by its user (#reattach). */
  wal: Wal;
  release: () => void;
  iterator: AsyncIterator<WalRecord>;
  /** Next offset to hand out (what commit() records). */
  position: number;
  /** The tail's next() in flight, if any. */
  pending: Promise<unknown> | null;
  /** A record the tail produced that is not yet handed out. */
  ready: WalRecord | null;
  done: boolean;
  /** The tail ended because its Wal closed under it (its user closed what mgr.log() gave): open the log again. */
  detached: boolean;
}

const CONSUME_OPTION_NAMES: readonly string[] = ['group', 'topics', 'from', 'batchSize', 'signal'];

/**
 * Follows every partition of some topics; made by {@link WalManager.consume}.
 *
 * @example
 * const consumer = mgr.consume({ group: 'indexer', topics: ['orders'] });
 * let handled = 0;
 * for await (const record of consumer) {
 *   await index(record.topic, record.partition, record.data);
 *   if (++handled % 1000 === 0) await consumer.commit();
 * }
 */
export class Consumer implements AsyncIterable<ConsumerRecord> {
  /** The group (and checkpoint) name. */
  readonly group: string;
  readonly #host: ConsumerHost;
  readonly #topics: ReadonlySet<string>;
  readonly #from: ConsumeFrom;
  readonly #batchSize: number;
  /** Ends every partition's tail at close; one listener per waiting tail, so as many as there are partitions. */
  readonly #abort = unboundedAbortController();
  readonly #cursors: Cursor[] = [];
  /** Next offset to hand out per log; kept after close so that a last commit() still works. */
  readonly #positions = new Map<string, number>();
  /** Partitions created after start, waiting to be opened by the iteration. */
  readonly #added: { topic: string; partition: number }[] = [];
  #unsubscribe: (() => void) | null = null;
  /** The consumer was closed by its signal (iteration then ends cleanly, never with WAL_CLOSED). */
  #endedBySignal = false;
  readonly #signal: AbortSignal | null;
  #forgetSignal: (() => void) | null = null;
  #iterating = false;
  #closed = false;
  #failure: unknown = null;
  #wake: (() => void) | null = null;

  /** @internal Use {@link WalManager.consume}. */
  constructor(host: ConsumerHost, options: ConsumeOptions) {
    // A misspelt `form: 'latest'` must not silently start from the checkpoint.
    checkOptionKeys(options, CONSUME_OPTION_NAMES, 'consume');
    checkCheckpointName(options.group, 'consume');
    if (!Array.isArray(options.topics) || options.topics.length === 0) {
      throw new InvalidArgumentError(`Cannot consume: topics must be a non-empty array, got ${describe(options.topics)}`);
    }
    for (const topic of options.topics) checkTopicName(topic, 'consume');
    // Only a missing option takes the default: null is a mistake, not "unset".
    const from = options.from === undefined ? 'checkpoint' : options.from;
    if (from !== 'checkpoint' && from !== 'earliest' && from !== 'latest') {
      throw new InvalidArgumentError(`Cannot consume: from must be 'checkpoint', 'earliest' or 'latest', got ${describe(from)}`);
    }
    const batchSize = options.batchSize === undefined ? CONSUMER_BATCH_SIZE_DEFAULT : options.batchSize;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new InvalidArgumentError(`Cannot consume: batchSize must be a positive integer, got ${describe(batchSize)}`);
    }
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new InvalidArgumentError(`Cannot consume: signal must be an AbortSignal, got ${describe(signal)}`);
    }
    this.group = options.group;
    this.#host = host;
    this.#topics = new Set(options.topics);
    this.#from = from;
    this.#batchSize = batchSize;
    // Watched from the start of the iteration only: a consumer never
    // iterated is then held by nothing of ours (not the manager, not the
    // caller's signal), and goes when its caller drops it.
    this.#signal = signal ?? null;
  }

  /**
   * The next offset to hand out per partition, as commit() would write it.
   * @returns `{ 'topic/partition': offset }`
   */
  positions(): CheckpointOffsets {
    return Object.fromEntries(this.#positions);
  }

  /**
   * Durably records, in the group's checkpoint, that every record handed
   * out so far is done. Call it after processing; a restart from
   * `'checkpoint'` resumes after the last commit that resolved.
   * @returns the committed offsets
   */
  async commit(): Promise<CheckpointOffsets> {
    // Also with nothing to write: a commit after the manager closed is a mistake either way.
    this.#host.checkOpen('commit consumer positions');
    const positions = this.positions();
    if (Object.keys(positions).length > 0) await this.#host.checkpoints.commit(this.group, positions);
    return positions;
  }

  /** Stops following the logs and unpins them; an iteration in progress ends cleanly. Positions stay readable and committable. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#notify();
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#forgetSignal?.();
    this.#forgetSignal = null;
    if (!this.#iterating) await this.#releaseAll();
    this.#host.closed(this);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ConsumerRecord> {
    // The caller's signal ends iteration cleanly, also one aborted before it began; close() does not.
    if (this.#signal?.aborted === true && !this.#closed) {
      this.#endedBySignal = true;
      await this.close();
    }
    if (this.#closed && this.#endedBySignal) return;
    if (this.#closed) throw new WalClosedError('consume', 'consumer', 'start a new one with mgr.consume(); it resumes from the group\'s checkpoint');
    if (this.#iterating) throw new InvalidArgumentError('Cannot consume: this consumer is already being iterated; a consumer takes one loop at a time: share that loop\'s records, or make another consumer with mgr.consume()');
    this.#host.checkOpen('consume');
    this.#iterating = true;
    this.#host.started(this);
    if (this.#signal !== null) {
      // Removed on close, so a long-lived signal does not keep closed consumers alive.
      this.#forgetSignal = onAbort(this.#signal, () => {
        this.#endedBySignal = true;
        void this.close();
      });
    }
    try {
      this.#unsubscribe = this.#host.onNewPartition((topic, partition) => {
        if (!this.#topics.has(topic)) return;
        this.#added.push({ topic, partition });
        this.#notify();
      });
      for (const topic of this.#topics) {
        for (const partition of this.#host.partitions(topic)) if (!(await this.#addCursorUnlessClosed(topic, partition, this.#from))) return;
      }
      yield* this.#roundRobin();
    } finally {
      this.#iterating = false;
      await this.close();
      await this.#releaseAll();
    }
  }

  async *#roundRobin(): AsyncGenerator<ConsumerRecord, void, undefined> {
    let turnIndex = 0;
    while (!this.#closed) {
      // Armed before the pass, so a record that arrives during it wakes the wait after it.
      const woken = new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      while (this.#added.length > 0) {
        const added = this.#added.shift();
        // Created after start: everything in it is new, so 'latest' means its beginning.
        if (added !== undefined && !(await this.#addCursorUnlessClosed(added.topic, added.partition, this.#from === 'latest' ? 'earliest' : this.#from))) return;
      }
      for (const cursor of this.#cursors) {
        if (cursor.detached && !this.#closed && !(await this.#reattach(cursor))) return;
      }
      let handedOut = 0;
      const cursors = this.#cursors;
      for (let step = 0; step < cursors.length && !this.#closed; step += 1) {
        const cursor = cursors[(turnIndex + step) % cursors.length];
        if (cursor === undefined) continue;
        for (let count = 0; count < this.#batchSize && !this.#closed; count += 1) {
          const record = await this.#poll(cursor);
          if (record === null) break;
          cursor.position = record.offset + 1;
          this.#positions.set(cursor.key, cursor.position);
          handedOut += 1;
          yield { topic: cursor.topic, partition: cursor.partition, offset: record.offset, timestamp: record.timestamp, data: record.data };
        }
      }
      if (this.#failure !== null) throw this.#failure;
      turnIndex = cursors.length === 0 ? 0 : (turnIndex + 1) % cursors.length;
      if (handedOut === 0 && !this.#closed) await woken;
    }
  }

  /** A record of `cursor` that is there without waiting, or null (leaving a tail read armed to wake us). */
  async #poll(cursor: Cursor): Promise<WalRecord | null> {
    if (cursor.ready !== null) {
      const record = cursor.ready;
      cursor.ready = null;
      return record;
    }
    if (cursor.pending !== null || cursor.done || cursor.detached) return null;
    const pending = cursor.iterator.next().then(
      (result) => {
        cursor.pending = null;
        // A tail ends only when its Wal closes; unless this consumer is closing, someone else closed it.
        if (result.done === true) {
          if (this.#closed) cursor.done = true;
          else cursor.detached = true;
        } else {
          cursor.ready = result.value;
        }
        this.#notify();
      },
      (error: unknown) => {
        cursor.pending = null;
        // A read that fails after close() began (retention deleted what it
        // was reading, the log closed under it) changes nothing: a closed
        // consumer's iteration ends cleanly, as documented.
        if (this.#closed) cursor.done = true;
        else if (!this.#skipDeleted(cursor, error)) {
          cursor.done = true;
          this.#failure ??= error;
        }
        this.#notify();
      },
    );
    cursor.pending = pending;
    // Acknowledged records are there to read: wait for the read, not for new appends.
    if (cursor.position >= cursor.wal.nextOffset) return null;
    await pending;
    if (this.#failure !== null) throw this.#failure;
    const record = cursor.ready as WalRecord | null;
    cursor.ready = null;
    return record;
  }

  /**
   * Retention (without this group's checkpoint as guard) deleted records
   * the cursor had not handed out yet: go on from the log's first offset, as
   * a consumer started from the checkpoint would (#startOffset), rather than
   * fail the whole consumer.
   * @returns whether the cursor was moved on
   */
  #skipDeleted(cursor: Cursor, error: unknown): boolean {
    if (!(error instanceof OffsetOutOfRangeError) || this.#closed) return false;
    const firstOffset = cursor.wal.firstOffset;
    if (cursor.position >= firstOffset) return false;
    this.#host.logger.warn({ group: this.group, key: cursor.key, position: cursor.position, firstOffset }, 'records not yet consumed were deleted; going on from the log start');
    try {
      cursor.iterator = cursor.wal.tail({ from: firstOffset, signal: this.#abort.signal })[Symbol.asyncIterator]();
    } catch {
      // The log closed meanwhile: the original error stands.
      return false;
    }
    cursor.position = firstOffset;
    this.#positions.set(cursor.key, firstOffset);
    return true;
  }

  /**
   * #addCursor, except that a failure caused by close() (the manager's
   * or the consumer's, during start-up) ends the iteration cleanly.
   * @returns false when the consumer closed
   */
  async #addCursorUnlessClosed(topic: string, partition: number, from: ConsumeFrom): Promise<boolean> {
    try {
      await this.#addCursor(topic, partition, from);
      return !this.#closed;
    } catch (error) {
      if (this.#closed) return false;
      throw error;
    }
  }

  /**
   * Follows a log again whose Wal its user closed (the pool opens it anew),
   * from the cursor's position.
   * @returns false when the consumer closed meanwhile
   */
  async #reattach(cursor: Cursor): Promise<boolean> {
    const oldRelease = cursor.release;
    // Released once: if the new acquire fails, #releaseAll must not release it again.
    cursor.release = () => {};
    oldRelease();
    let acquired: { wal: Wal; release: () => void };
    try {
      acquired = await this.#host.acquire(cursor.topic, cursor.partition);
    } catch (error) {
      if (this.#closed) return false;
      throw error;
    }
    cursor.wal = acquired.wal;
    cursor.release = acquired.release;
    try {
      cursor.iterator = cursor.wal.tail({ from: cursor.position, signal: this.#abort.signal })[Symbol.asyncIterator]();
    } catch (error) {
      // Records deleted while it was away: go on from the log start, as a running cursor does.
      if (!this.#skipDeleted(cursor, error)) throw error;
    }
    cursor.detached = false;
    return !this.#closed;
  }

  async #addCursor(topic: string, partition: number, from: ConsumeFrom): Promise<void> {
    const key = logKey(topic, partition);
    if (this.#cursors.some((cursor) => cursor.key === key)) return;
    const { wal, release } = await this.#host.acquire(topic, partition);
    try {
      const position = this.#startOffset(wal, key, from);
      const iterator = wal.tail({ from: position, signal: this.#abort.signal })[Symbol.asyncIterator]();
      this.#cursors.push({ topic, partition, key, wal, release, iterator, position, pending: null, ready: null, done: false, detached: false });
      this.#positions.set(key, position);
    } catch (error) {
      release();
      throw error;
    }
  }

  #startOffset(wal: Wal, key: string, from: ConsumeFrom): number {
    if (from === 'earliest') return wal.firstOffset;
    if (from === 'latest') return wal.nextOffset;
    const committed = this.#host.checkpoints.get(this.group)?.[key];
    if (committed === undefined) return wal.firstOffset;
    if (committed < wal.firstOffset) {
      // Retention without this group's checkpoint as guard removed records it had not processed.
      this.#host.logger.warn({ group: this.group, key, committed, firstOffset: wal.firstOffset }, 'checkpoint below the log start; records were deleted');
      return wal.firstOffset;
    }
    // Beyond the end only after a power cut lost acknowledged-but-unsynced
    // records (fsync 'os' or batch), or after the log's files were lost: new
    // records then take offsets the group already passed, so say so.
    if (committed > wal.nextOffset) {
      this.#host.logger.warn({ group: this.group, key, committed, nextOffset: wal.nextOffset }, 'checkpoint past the log end; records were lost, resuming at the log end');
      return wal.nextOffset;
    }
    return committed;
  }

  async #releaseAll(): Promise<void> {
    const cursors = this.#cursors.splice(0);
    for (const cursor of cursors) {
      await cursor.iterator.return?.().catch(() => {});
      cursor.release();
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/** An AbortController whose signal takes any number of listeners (Node warns of a leak past 10). */
function unboundedAbortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
