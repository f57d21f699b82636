/**
 * The manager's open logs, bounded by an LRU. Every open Wal holds a few
 * descriptors (its active segment, the next segment prepared ahead of
 * time), so a manager with 10,000 partitions cannot keep them all open. The
 * pool keeps at most `maxOpenLogs` open and closes the least recently used
 * idle one when it must open another. A log in use (an append awaiting, a
 * read or tail iterating, a consumer attached) is never closed: the pool
 * may exceed its bound while more logs than that are in use at once, and
 * shrinks back as they are released (the same rule as FileCache).
 *
 * Short operations (an append, a read) that find every open log in use
 * first wait for one to become idle: a burst of appends to thousands of
 * partitions then opens about `maxOpenLogs` logs at a time instead of all of
 * them at once. They open beyond the bound only when no log has become idle
 * or closed for {@link ROOM_WAIT_MS_MAX}, so holders that never let go
 * (consumers, tails) cannot stall them for good.
 */
import { assert } from '../assert.js';
import { WalError, WalIOError } from '../errors.js';
import { managerClosedError } from './manager-closed.js';
import { RunLimit } from './run-limit.js';
import type { Wal } from '../log/wal.js';

/** One partition's slot. Created for every known partition; `wal` is set while it is open. */
export class LogEntry {
  readonly topic: string;
  readonly partition: number;
  /** The open log, or null while closed (or opening, or closing). */
  wal: Wal | null;
  opening: Promise<Wal> | null;
  closing: Promise<void> | null;
  /** Operations holding the log open right now; the pool closes only entries at 0. */
  useCount: number;
  /** Pool tick of the last use: the smallest idle one is evicted first. */
  lastUsedTick: number;
  /** True until the log's folder is known to exist durably (the first open creates it and syncs its parents). */
  isNew: boolean;
  /** Its appends are made durable by the shared journal (set by the opener). */
  journaled: boolean;
  /**
   * Why a journaled log stopped, once it failed: it stays failed for the
   * life of the pool. Its files may lack records the shared journal
   * acknowledged, and only the manager's open replays the journal;
   * reopening the log alone would reuse their offsets. (A log without a
   * journal reopens with its own recovery, which is all it needs.)
   */
  failure: Error | null;

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
    this.wal = null;
    this.opening = null;
    this.closing = null;
    this.useCount = 0;
    this.lastUsedTick = 0;
    this.isNew = false;
    this.journaled = false;
    this.failure = null;
  }
}

/** Opens the Wal of an entry (creating it when missing). */
export type WalOpener = (entry: LogEntry) => Promise<Wal>;

/** How long a short operation waits without any open log becoming idle before it opens one beyond the bound. */
export const ROOM_WAIT_MS_MAX = 250;

/**
 * Closes of logs running at once. Each needs a descriptor or two beyond the
 * log's own for a moment; without a bound, a consumer over 500 partitions
 * that ended closed 500 logs together and 239 failed with EMFILE (and, being
 * journaled, stayed failed until the manager reopened).
 */
export const LOG_CLOSES_IN_FLIGHT_MAX = 8;

/** LRU of open logs; see the file comment. */
export class LogPool {
  readonly maxOpenLogs: number;
  readonly #openWal: WalOpener;
  /** Entries whose Wal is open or opening (the bounded set). */
  readonly #open = new Set<LogEntry>();
  /** Closes in flight (evictions): a journal checkpoint waits for them. */
  readonly #closings = new Set<Promise<void>>();
  readonly #closeLimit = new RunLimit(LOG_CLOSES_IN_FLIGHT_MAX);
  /** Short operations waiting for room to open their log; all are woken when a log becomes idle or closes. */
  #roomWaiters: (() => void)[] = [];
  #tick = 0;
  /** Journaled logs that failed or failed to close since the pool opened: their files may lack writes only the journal holds. */
  #failedCloseCount = 0;
  #closed = false;

  readonly #onRoomTimeout: () => void;

  /** @param onRoomTimeout called when a short operation stopped waiting for room and opens its log beyond the bound */
  constructor(maxOpenLogs: number, openWal: WalOpener, onRoomTimeout: () => void = () => {}) {
    assert(Number.isInteger(maxOpenLogs) && maxOpenLogs >= 1, 'maxOpenLogs is a positive integer');
    this.maxOpenLogs = maxOpenLogs;
    this.#openWal = openWal;
    this.#onRoomTimeout = onRoomTimeout;
  }

  /** Logs open or opening now. */
  get openCount(): number {
    return this.#open.size;
  }

  /**
   * Pins `entry` and returns its open Wal; pair every call with {@link release}.
   * The fast path (already open) allocates nothing and does not await.
   * @param waitForRoom a short operation: when its log must open and every
   *   open log is in use, wait (a while) for one to become idle first
   */
  acquire(entry: LogEntry, waitForRoom = false): Wal | Promise<Wal> {
    entry.useCount += 1;
    this.#tick += 1;
    entry.lastUsedTick = this.#tick;
    if (entry.wal !== null && isHandedOutAsItIs(entry.wal)) return entry.wal;
    return this.#openPinned(entry, waitForRoom);
  }

  /** Unpins `entry` (it may now be evicted). */
  release(entry: LogEntry): void {
    assert(entry.useCount > 0, 'released entry was acquired');
    entry.useCount -= 1;
    if (entry.useCount > 0) return;
    // Not the log just let go: when every other log is pinned it would be the
    // only idle one, and mgr.log() would hand out a Wal already closing (and
    // every retry would reopen and close it again). It goes at the next
    // eviction that finds an older idle log or none pinned.
    if (this.#open.size > this.maxOpenLogs) this.#evict(entry);
    this.#wakeRoomWaiters();
  }

  /** Logs whose close failed (their files may lack writes a shared journal still holds). */
  get failedCloseCount(): number {
    return this.#failedCloseCount;
  }

  /**
   * Runs `sync` on every open log and waits for every close in flight, so
   * that every write acknowledged before the call is in a synced file.
   * @throws the first failure (of a sync, or of a close in flight)
   */
  async syncAll(sync: (wal: Wal) => Promise<void>): Promise<void> {
    const work: Promise<void>[] = [...this.#closings];
    for (const entry of this.#open) if (entry.wal !== null) work.push(sync(entry.wal));
    const results = await Promise.allSettled(work);
    for (const result of results) if (result.status === 'rejected') throw result.reason;
    if (this.#failedCloseCount > 0) throw this.#failedClosesError();
  }

  #failedClosesError(): WalError {
    return new WalError('WAL_FAILED', `${this.#failedCloseCount} log(s) failed to close cleanly; reopen the manager to recover them from its journal`);
  }

  /**
   * Closes every log and waits for every close in flight, evictions
   * included, before it returns: a shared journal may be removed only once
   * every log's files hold what it acknowledged. The pool opens nothing
   * afterwards.
   * @throws the first close's failure, once every close has settled
   */
  async closeAll(): Promise<void> {
    this.#closed = true;
    this.#wakeRoomWaiters();
    let firstError: unknown = null;
    while (this.#open.size > 0 || this.#closings.size > 0) {
      const closing: Promise<void>[] = [...this.#closings];
      for (const entry of [...this.#open]) closing.push(this.#close(entry));
      for (const result of await Promise.allSettled(closing)) {
        if (result.status === 'rejected') firstError ??= result.reason;
      }
    }
    if (firstError !== null) throw firstError;
    // A log that failed earlier (its eviction's close failed) counts too.
    if (this.#failedCloseCount > 0) throw this.#failedClosesError();
  }

  async #openPinned(entry: LogEntry, waitForRoom: boolean): Promise<Wal> {
    let mayWait = waitForRoom;
    try {
      // A log being evicted must finish closing (and drop its folder lock)
      // before it can be opened again.
      for (;;) {
        while (entry.closing !== null) await entry.closing;
        if (mayWait && entry.wal === null && entry.opening === null && !this.#hasRoom()) {
          // Woken: logs are coming free, so wait on; timed out: they are held for good.
          mayWait = await this.#roomOrTimeout(ROOM_WAIT_MS_MAX);
          if (!mayWait) this.#onRoomTimeout();
          continue;
        }
        if (entry.wal === null || isHandedOutAsItIs(entry.wal)) break;
        // Closed by its user (through mgr.log()): finish that close as an
        // eviction would, so that other callers wait for it too, then open again.
        await this.#close(entry);
      }
      if (entry.wal !== null) return entry.wal;
      if (entry.opening === null) entry.opening = this.#startOpen(entry);
      return await entry.opening;
    } catch (error) {
      entry.useCount -= 1;
      throw error;
    }
  }

  async #startOpen(entry: LogEntry): Promise<Wal> {
    // An iterator made before close() but started after it lands here.
    if (this.#closed) throw managerClosedError('open log');
    if (entry.failure !== null) {
      throw new WalIOError(
        `Cannot open log ${entry.topic}/${entry.partition}: it failed earlier (${entry.failure.message}); close and reopen the manager to recover it`,
        entry.failure,
      );
    }
    this.#open.add(entry);
    this.#evict();
    try {
      const wal = await this.#openWal(entry);
      entry.wal = wal;
      return wal;
    } catch (error) {
      this.#open.delete(entry);
      this.#wakeRoomWaiters();
      throw error;
    } finally {
      entry.opening = null;
    }
  }

  /** Another log can open within the bound: there is a free place, or an idle log to close for it. */
  #hasRoom(): boolean {
    if (this.#closed || this.#open.size < this.maxOpenLogs) return true;
    for (const entry of this.#open) if (entry.useCount === 0 && entry.wal !== null) return true;
    return false;
  }

  /** @returns true when woken by a log coming free, false when `waitMs` passed without one */
  #roomOrTimeout(waitMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), waitMs);
      this.#roomWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Every waiter checks again: room may have come, and whoever does not find it waits on. */
  #wakeRoomWaiters(): void {
    if (this.#roomWaiters.length === 0) return;
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Closes idle least-recently-used logs, except `spared`, until the pool is within its bound (or only pinned logs remain). */
  #evict(spared: LogEntry | null = null): void {
    while (this.#open.size > this.maxOpenLogs) {
      let victim: LogEntry | null = null;
      for (const entry of this.#open) {
        if (entry.useCount > 0 || entry.wal === null || entry === spared) continue;
        if (victim === null || entry.lastUsedTick < victim.lastUsedTick) victim = entry;
      }
      if (victim === null) return;
      void this.#close(victim).catch(() => {});
    }
  }

  /** Takes `entry` out of the open set at once and closes its Wal. */
  #close(entry: LogEntry): Promise<void> {
    this.#open.delete(entry);
    const opening = entry.opening;
    const wal = entry.wal;
    entry.wal = null;
    const closing = (async () => {
      // An open in flight finishes first; its Wal is then closed too.
      const opened = wal ?? (opening === null ? null : await opening.catch(() => null));
      if (opened !== null && entry.wal === opened) entry.wal = null;
      if (opened === null) return;
      let closeError: unknown = null;
      try {
        await this.#closeLimit.run(() => opened.close());
      } catch (error) {
        closeError = error;
      }
      // A log that failed before closing resolves close(); one that failed
      // while closing rejects it. Either way a journaled log's files may lack
      // what the journal acknowledged: the journal must stay, and the log
      // must not reopen without its replay.
      const failure = opened.failure ?? closeError;
      if (entry.journaled && failure !== null) {
        entry.failure ??= failure instanceof Error ? failure : new Error(String(failure));
        this.#failedCloseCount += 1;
        throw failure;
      }
      if (closeError !== null) throw closeError;
    })();
    entry.closing = closing;
    this.#closings.add(closing);
    return closing
      .finally(() => {
        this.#closings.delete(closing);
        if (entry.closing === closing) entry.closing = null;
        this.#wakeRoomWaiters();
      });
  }
}

/**
 * An open Wal, or a failed one (its calls reject with its failure), is
 * handed out as it is; one closed by its user (through mgr.log()) is
 * closed out and opened again.
 */
function isHandedOutAsItIs(wal: Wal): boolean {
  return wal.state === 'open' || wal.state === 'failed';
}
