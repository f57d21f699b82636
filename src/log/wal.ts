/**
 * Wal: one ordered, durable log in one folder.
 *
 * Appends encode their frame into the open write group at once, or copy
 * the record while they wait for room (so callers may reuse their buffers
 * as soon as the call returns), and await the group's promise. One flusher writes
 * a whole group with one write syscall; under `'always'` the segment is
 * opened O_DSYNC, so that single call also makes the group durable, which
 * costs one thread-pool round trip per group instead of two. While a group
 * is being written the next one fills. Under `'os'` and `batch` the write is
 * a blocking page-cache write on the calling thread (cheaper than a
 * thread-pool round trip), and a timer syncs at least every `intervalMs`.
 */
import { assert } from '../assert.js';
import { CorruptionError, InvalidArgumentError, OffsetOutOfRangeError, WalClosedError, WalIOError } from '../errors.js';
import type { FileHandle, FileSystem } from '../io/file-system.js';
import { writeFully, writeFullySync } from '../io/write-fully.js';
import { readWhole } from '../io/read-fully.js';
import { listOrCreateFolder } from '../io/list-or-create-folder.js';
import { writeCleanMarker } from './clean-marker.js';
import { FileCache } from './file-cache.js';
import { decodeSegmentHeader, newSegmentNonce, recordEntrySizeBytes } from './format.js';
import { acquireLock, releaseLock } from './lock.js';
import { asOpenError } from './open-error.js';
import { folderOwner, managerFolderAbove } from './folder-owner.js';
import { checkNonNegativeSafeInteger, checkOptionKeys, describe, resolveWalOptions } from './options.js';
import type { ResolvedWalOptions, WalOptions } from './options.js';
import { readBatches, readBlocksWith, readRange } from './reader.js';
import { SyncDeadline } from './sync-deadline.js';
import { RecordBlockCollector } from './record-block.js';
import type { RecordBlock } from './record-block.js';
import type { WalRecord } from './reader.js';
import { recoverLog } from './recovery.js';
import type { RecoveredLog, RecoverySummary } from './recovery.js';
import { Segment } from './segment.js';
import { encodeIndexTrailer, readIndexTrailer } from './segment-index.js';
import { SegmentPreparer } from './segment-preparer.js';
import { scanSegment } from './segment-scan.js';
import { BufferPool, WriteGroup, entryBytesWorstCase } from './write-group.js';
import { syncFilesAt } from './sync-files.js';
import { FolderSync } from './folder-sync.js';
import { keepRecord, toBatchPayloads, toPayload } from './record-input.js';
import { Wakeup } from './wakeup.js';
import { isWriteJournal } from './write-journal.js';
import { RoomQueueMark } from './room-queue-mark.js';
import type { WriteJournal } from './write-journal.js';
import { LoopTurnWatch } from './loop-turns.js';
import {
  LOOP_HELD_UP_MS_MAX,
  PREALLOCATE_GROUP_SIZE_BYTES_MAX,
  PREALLOCATE_STEP_BYTES_MAX,
  PREALLOCATE_STEP_BYTES_MIN,
  REJOIN_GROUP_SIZE_BYTES_MAX,
  SEALS_IN_FLIGHT_MAX,
  SEGMENT_HEADER_SIZE_BYTES,
} from '../constants.js';

export type { WalRecord } from './reader.js';
export type { RecordBlock } from './record-block.js';

/** Result of {@link Wal.append}. */
export interface AppendResult {
  readonly offset: number;
}

/** Options of {@link Wal.read}. */
export interface ReadOptions {
  /** First offset to read. @default wal.firstOffset */
  readonly from?: number;
  /**
   * Stop before this offset (exclusive), at least `from`. A `to` past the
   * log's end stops at the end as of the call; without `from`, a `to` at or
   * below `firstOffset` reads nothing.
   * @default wal.nextOffset when read() is called
   */
  readonly to?: number;
}

/** Options of {@link Wal.tail}. */
export interface TailOptions {
  /** First offset to yield. @default wal.nextOffset */
  readonly from?: number;
  /** Ends the iteration (cleanly, without an error) when aborted. */
  readonly signal?: AbortSignal;
}

/** One segment file, as {@link Wal.segments} describes it. */
export interface SegmentInfo {
  readonly baseOffset: number;
  /** One past the segment's last acknowledged offset. */
  readonly nextOffset: number;
  readonly sizeBytes: number;
  readonly path: string;
  /** Synced, trimmed and indexed; only the active segment (and one being sealed) is not. */
  readonly sealed: boolean;
  readonly createdAtMs: number;
  /** Timestamp of the segment's last record (0 when it has none). */
  readonly lastTimestampMs: number;
}

export type WalState = 'open' | 'failed' | 'closing' | 'closed';

interface SpaceWaiter {
  readonly frameBytes: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}


const WAL_OPTIONS_EXTRA = new Set(['fileCache', 'journal', 'closedRemedy', 'managerOwned']);

/** @internal The `managerOwned` value of a WalManager's own opens. */
export const MANAGER_OWNED: unique symbol = Symbol('tidewal.managerOwned');

/** @internal Options a WalManager gives the logs it opens. */
export interface InternalWalOptions {
  readonly fileCache?: FileCache;
  readonly journal?: WriteJournal;
  readonly closedRemedy?: string;
  readonly managerOwned?: typeof MANAGER_OWNED;
}

/**
 * A durable, segmented, group-committed write-ahead log in one folder.
 *
 * @example
 * const wal = await Wal.open({ dir: './data/log', fsync: 'always' });
 * const { offset } = await wal.append('hello');
 * for await (const record of wal.read({ from: offset })) console.log(record.data.toString());
 * await wal.close();
 */
// ReadableLog (reader.ts) is met structurally: its members are internal and left out of the shipped types.
export class Wal {
  /** The log's folder. */
  readonly dir: string;
  /** What open did: scans, cuts, repairs, time taken. */
  readonly recovery: RecoverySummary;
  /** @internal */
  readonly fileCache: FileCache;
  /** The largest record this log accepts, in bytes (option `maxRecordBytes`). */
  readonly maxRecordBytes: number;
  readonly #options: ResolvedWalOptions;
  readonly #fileSystem: FileSystem;
  readonly #journal: WriteJournal | null;
  readonly #ownsFileCache: boolean;
  readonly #segments: Segment[];
  readonly #preparer: SegmentPreparer;
  readonly #pool: BufferPool;
  readonly #groups: WriteGroup[];
  readonly #spaceWaiters: SpaceWaiter[];
  /** Bytes of waiters let in (#admitWaiters) whose appends have not reserved them yet. */
  #admittedBytes: number;
  /** Called when close() is first called (onClosing). */
  readonly #closingListeners = new Set<() => void>();
  /** close() is closing the read handles: readers borrow none any more. */
  #readsClosed = false;
  /** Which appends that waited for room have joined a group: sync() covers them too. */
  readonly #roomQueue = new RoomQueueMark();
  readonly #flushBound: () => void;
  readonly #loopTurns: LoopTurnWatch;
  /** The running flush loop, so close() can wait for I/O in flight. */
  #flushRun: Promise<void>;
  #state: WalState;
  #failure: WalIOError | null;
  /** Advice for calls after close, set by a WalManager for the logs it hands out; null: open it again with Wal.open(). */
  readonly #closedRemedy: string | null;
  #reservedOffset: number;
  #ackedOffset: number;
  /** End of the groups written so far (acknowledged or about to be): what a sync starting now covers. */
  #writtenOffset: number;
  #durableOffset: number;
  /** Under batch: the clock of the durability promise. */
  readonly #syncDeadline: SyncDeadline | null;
  #pendingBytes: number;
  #flushing: boolean;
  #flushScheduled: boolean;
  #writingSegment: Segment;
  #sealChain: Promise<void>;
  /** Tails wait here for the next acknowledgement. */
  readonly #acks: Wakeup;
  #syncTimer: NodeJS.Timeout | null;
  #syncing: Promise<void> | null;
  /** Set once close() starts its final sync: no other sync may run beside it (#shutDownCleanly). */
  #shuttingDown: boolean;
  #dirSyncPending: boolean;
  /** Folder syncs for the non-'always' policies, where creates and renames wait for the next sync. */
  readonly #folder: FolderSync;
  #closeRun: Promise<void> | null;
  /** Under a journal: one past the last record known durable in the log's own files (syncFiles). */
  #filesSyncedOffset: number;
  /** Under a journal: the file write of a group already journaled, which runs once the journal's write is under way. */
  #journaledFileWrite: Promise<void> | null = null;
  /** truncateBefore() calls in flight: close() waits for them before it releases the folder. */
  readonly #truncations: Set<Promise<void>>;
  /** Renames of rotated segments still in flight (Segment.named); syncs of the folder wait for them. */
  readonly #renamesInFlight: Set<Promise<void>>;
  /** Sealed segments whose data only the journal holds durably so far. */
  readonly #unsyncedSealedPaths: string[];
  /** Under batch: segments rotated away that no sync has covered yet; the next sync covers them. */
  #rotatedUnsynced: Segment[];
  /** Seals started and not finished, oldest first (each holds its segment's descriptor). */
  readonly #sealsInFlight: Promise<void>[];
  /** Woken when a sync of the log's data ends (or the log fails): seals waiting for a sync to cover their file. */
  readonly #syncWaiters: (() => void)[];

  private constructor(options: ResolvedWalOptions, fileCache: FileCache | null, journal: WriteJournal | null, closedRemedy: string | null, recovered: RecoveredLog) {
    const { segments, summary: recovery } = recovered;
    const active = segments[segments.length - 1];
    assert(active !== undefined, 'a log has an active segment');
    this.dir = options.dir;
    this.recovery = recovery;
    this.#options = options;
    this.#fileSystem = options.fileSystem;
    this.#journal = journal;
    this.#closedRemedy = closedRemedy;
    this.#ownsFileCache = fileCache === null;
    this.fileCache = fileCache ?? new FileCache(options.fileSystem, options.maxOpenFiles);
    this.maxRecordBytes = options.maxRecordBytes;
    this.#segments = segments;
    this.#preparer = new SegmentPreparer(
      options.fileSystem,
      options.dir,
      options.dsyncWrites,
      options.preallocate ? Math.min(options.segmentBytes, PREALLOCATE_STEP_BYTES_MIN) : 0,
      options.clock,
    );
    this.#pool = new BufferPool(options.maxPendingBytes);
    this.#groups = [];
    this.#spaceWaiters = [];
    this.#admittedBytes = 0;
    this.#flushBound = () => {
      this.#flushRun = this.#flush();
    };
    this.#flushRun = Promise.resolve();
    this.#loopTurns = new LoopTurnWatch(options.clock);
    this.#state = 'open';
    this.#failure = null;
    this.#reservedOffset = active.nextOffset;
    this.#ackedOffset = active.nextOffset;
    this.#writtenOffset = active.nextOffset;
    this.#durableOffset = active.nextOffset;
    this.#filesSyncedOffset = active.nextOffset;
    this.#syncDeadline = options.syncMode === 'batch' ? new SyncDeadline(options.batchIntervalMs) : null;
    this.#pendingBytes = 0;
    this.#flushing = false;
    this.#flushScheduled = false;
    this.#writingSegment = active;
    this.#sealChain = Promise.resolve();
    this.#acks = new Wakeup();
    this.#syncTimer = null;
    this.#syncing = null;
    this.#shuttingDown = false;
    // Open changed the folder (clean marker removed, temp files, cuts) without syncing it.
    this.#dirSyncPending = true;
    this.#folder = new FolderSync(this.#fileSystem, options.dir);
    this.#closeRun = null;
    this.#unsyncedSealedPaths = [];
    this.#rotatedUnsynced = [];
    this.#sealsInFlight = [];
    this.#syncWaiters = [];
    this.#renamesInFlight = new Set();
    this.#truncations = new Set();
  }

  /**
   * Opens (creating if needed) the log in `options.dir`, running recovery.
   * @param options see {@link WalOptions}
   * @returns the open log
   * @throws LockedError when another owner has the folder open; CorruptionError
   *   when data before the tail is damaged (unless `repair`); InvalidArgumentError on bad options
   * @example
   * const wal = await Wal.open({ dir: './data/log', fsync: { batch: { intervalMs: 5 } } });
   */
  static open(options: WalOptions & { readonly fileCache?: FileCache }): Promise<Wal>;
  /** @internal A WalManager's own opens: its journal, its remedy for a closed log, and leave to open inside its folder. */
  static open(options: WalOptions & InternalWalOptions): Promise<Wal>;
  static async open(options: WalOptions & InternalWalOptions): Promise<Wal> {
    let resolved = resolveWalOptions(options, { action: 'open log', internal: WAL_OPTIONS_EXTRA });
    const fileCache = (options as { fileCache?: unknown }).fileCache;
    if (fileCache !== undefined && !(fileCache instanceof FileCache)) {
      throw new InvalidArgumentError(`Cannot open log: option "fileCache" must be a FileCache, got ${describe(fileCache)}`);
    }
    if (fileCache !== undefined && options.maxOpenFiles !== undefined) {
      // The shared cache has its own bound; taking one silently over the other would hide a mistake.
      throw new InvalidArgumentError(
        `Cannot open log: options "fileCache" and "maxOpenFiles" exclude each other (the FileCache's bound, ${fileCache.maxOpenFiles}, applies to every log sharing it); give one of them`,
      );
    }
    const closedRemedy = (options as { closedRemedy?: unknown }).closedRemedy ?? null;
    if (closedRemedy !== null && typeof closedRemedy !== 'string') {
      throw new InvalidArgumentError(`Cannot open log: option "closedRemedy" must be a string, got ${describe(closedRemedy)}`);
    }
    const journalOption = (options as { journal?: unknown }).journal;
    if (journalOption !== undefined && !isWriteJournal(journalOption)) {
      throw new InvalidArgumentError(`Cannot open log: option "journal" must be a WriteJournal, got ${describe(journalOption)}`);
    }
    // Only 'always' waits for durability before acknowledging; the other
    // policies acknowledge after the write and need no journal.
    const journal = journalOption !== undefined && resolved.syncMode === 'always' ? journalOption : null;
    // Preallocation makes a log's own fdatasyncs cheaper; a journaled log
    // rarely syncs, and zeros written ahead would only double its writeback.
    if (journal !== null) resolved = { ...resolved, dsyncWrites: false, preallocate: false };
    // Set by a WalManager for its own logs and journal, which live under its
    // folder; a token no caller outside the package can name, not a flag.
    const managerOwned = (options as { managerOwned?: unknown }).managerOwned === MANAGER_OWNED;
    let folderCreated: boolean;
    try {
      const managerDir = managerOwned ? null : await managerFolderAbove(resolved.fileSystem, resolved.dir);
      if (managerDir !== null) {
        throw new InvalidArgumentError(
          `Cannot open log in ${resolved.dir}: it is inside the WalManager folder ${managerDir}, whose logs only the manager may open (a log of its own would miss the records that only the manager's journal holds); open the manager with WalManager.open() and use mgr.log(), or give the log a folder of its own`,
        );
      }
      const folder = await listOrCreateFolder(resolved.fileSystem, resolved.dir);
      folderCreated = folder.created;
      const owner = folderOwner(folder.names);
      if (owner?.kind === 'manager') {
        throw new InvalidArgumentError(
          `Cannot open log in ${resolved.dir}: it is a WalManager's folder (it holds ${owner.entry}); open it with WalManager.open(), or give the log a folder of its own`,
        );
      }
      await acquireLock(resolved.fileSystem, resolved.dir);
    } catch (error) {
      throw asOpenError(error, resolved.dir, 'log');
    }
    try {
      const recovered = await recoverLog(resolved, resolved.clock.wallMs(), folderCreated);
      const { summary } = recovered;
      const wal = new Wal(resolved, fileCache ?? null, journal, closedRemedy, recovered);
      if (!summary.clean) resolved.logger.info({ dir: resolved.dir, recovery: summary }, 'recovered log');
      wal.#preparer.start();
      return wal;
    } catch (error) {
      await releaseLock(resolved.fileSystem, resolved.dir).catch(() => {});
      throw asOpenError(error, resolved.dir, 'log');
    }
  }

  /** Offset of the oldest record still in the log. */
  get firstOffset(): number {
    return this.#segments[0]?.baseOffset ?? 0;
  }

  /** One past the last acknowledged record: the offset the next record would get if nothing is pending. */
  get nextOffset(): number {
    return this.#ackedOffset;
  }

  /** One past the last record known to be on stable storage. */
  get durableOffset(): number {
    // A sync may cover a group written but not yet acknowledged.
    return Math.min(this.#durableOffset, this.#ackedOffset);
  }

  /** Bytes appended but not yet acknowledged; appends wait while this would pass `maxPendingBytes`. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** `'open'`, `'failed'` (an I/O error stopped it), `'closing'` or `'closed'`. */
  get state(): WalState {
    return this.#state;
  }

  /**
   * The error that stopped the log, or null. Set by the first write or sync
   * that failed, and kept after close(): a log that failed, even while
   * closing, may lack records that were written but never synced.
   */
  get failure(): WalIOError | null {
    return this.#failure;
  }

  /**
   * Appends one record.
   * @param data the record's bytes; a string is stored as UTF-8
   * @returns its offset, once the record is acknowledged under the fsync policy
   * @example
   * const { offset } = await wal.append(Buffer.from('hello'));
   */
  async append(data: Uint8Array | string): Promise<AppendResult> {
    this.#checkWritable('append record');
    let payload = toPayload(data, this.#options.maxRecordBytes, 'append record');
    const entryBytes = recordEntrySizeBytes(payload.length);
    const budgetBytes = entryBytesWorstCase(entryBytes);
    let roomPlace = 0;
    if (this.#spaceWaiters.length > 0 || this.#pendingBytes + this.#admittedBytes + budgetBytes > this.#options.maxPendingBytes) {
      if (payload === data) payload = keepRecord(payload);
      roomPlace = this.#roomQueue.enter();
      await this.#admitAfterWait(budgetBytes, roomPlace);
    }
    const nowMs = this.#options.clock.wallMs();
    const group = this.#groupFor(budgetBytes, 1, nowMs);
    const usedBytesBefore = group.usedBytes;
    const offset = group.add(payload, entryBytes, nowMs, this.#pool);
    this.#reserved(group, group.usedBytes - usedBytesBefore, 1);
    this.#roomQueue.settled(roomPlace);
    await group.promise;
    return { offset };
  }

  /**
   * Appends records atomically: after a crash either all of them are in the
   * log or none. They get consecutive offsets and share one write.
   * @param datas the records; strings are stored as UTF-8
   * @returns their offsets
   * @example
   * const [first, second] = await wal.appendBatch(['a', 'b']);
   */
  async appendBatch(datas: ReadonlyArray<Uint8Array | string>): Promise<number[]> {
    this.#checkWritable('append batch');
    const { payloads, entryBytes } = toBatchPayloads(datas, this.#options);
    const budgetBytes = entryBytesWorstCase(entryBytes);
    let roomPlace = 0;
    if (this.#spaceWaiters.length > 0 || this.#pendingBytes + this.#admittedBytes + budgetBytes > this.#options.maxPendingBytes) {
      payloads.forEach((payload, index) => {
        if (payload === datas[index]) payloads[index] = keepRecord(payload);
      });
      roomPlace = this.#roomQueue.enter();
      await this.#admitAfterWait(budgetBytes, roomPlace);
    }
    const nowMs = this.#options.clock.wallMs();
    const group = this.#groupFor(budgetBytes, payloads.length, nowMs);
    const usedBytesBefore = group.usedBytes;
    const firstOffset = group.add(payloads, entryBytes, nowMs, this.#pool);
    this.#reserved(group, group.usedBytes - usedBytesBefore, payloads.length);
    this.#roomQueue.settled(roomPlace);
    await group.promise;
    const offsets: number[] = [];
    for (let recordIndex = 0; recordIndex < payloads.length; recordIndex++) offsets.push(firstOffset + recordIndex);
    return offsets;
  }

  /**
   * Reads acknowledged records in offset order.
   * @param options `from` (default firstOffset) and `to` (exclusive, default nextOffset now)
   * @returns an async iterable of `{ offset, timestamp, data }`
   * @throws OffsetOutOfRangeError when `from` is below firstOffset or at/after nextOffset
   * @example
   * for await (const record of wal.read({ from: 10, to: 20 })) handle(record);
   */
  read(options: ReadOptions = {}): AsyncIterable<WalRecord> {
    const { from, to } = this.#readRange(options);
    return readRange(this, from, to);
  }

  /**
   * Like {@link read}, but yields the records in blocks (one per disk read):
   * one await per block instead of one per record.
   * @example
   * for await (const records of wal.readBatches({ from: 0 })) for (const record of records) handle(record);
   */
  readBatches(options: ReadOptions = {}): AsyncIterable<WalRecord[]> {
    const { from, to } = this.#readRange(options);
    return readBatches(this, from, to);
  }

  /**
   * The fastest scan: yields each read as a {@link RecordBlock} with no
   * object per record, reusing its memory for a later block. A block is
   * valid until the loop's next step; after that every access throws, so
   * copy the data you keep (`Buffer.from(block.data(index))`).
   * @example
   * for await (const block of wal.readBlocks({ from: 0 }))
   *   for (let index = 0; index < block.count; index++) apply(block.firstOffset + index, block.data(index));
   */
  readBlocks(options: ReadOptions = {}): AsyncIterable<RecordBlock> {
    const { from, to } = this.#readRange(options);
    return readBlocksWith(this, from, to, new RecordBlockCollector());
  }

  /**
   * Follows the log: yields records from `from` on, waiting (without polling)
   * for new ones as they are acknowledged. Ends cleanly on abort or close.
   * @example
   * const controller = new AbortController();
   * for await (const record of wal.tail({ from: wal.nextOffset, signal: controller.signal })) handle(record);
   */
  tail(options: TailOptions = {}): AsyncIterable<WalRecord> {
    this.#checkReadable('tail records');
    checkTailOptions(options);
    const from = options.from === undefined ? this.#ackedOffset : options.from;
    if (from < this.firstOffset || from > this.#ackedOffset) {
      throw new OffsetOutOfRangeError('tail records', from, this.firstOffset, this.#ackedOffset, true);
    }
    return this.#tail(from, options.signal);
  }

  /**
   * Makes everything appended so far durable, appends still waiting for
   * room under `maxPendingBytes` included.
   * @example
   * await wal.sync(); // wal.durableOffset === wal.nextOffset
   */
  async sync(): Promise<void> {
    this.#checkWritable('sync log');
    const waitingAppendsJoined = this.#roomQueue.allEnteredSettled();
    if (waitingAppendsJoined !== null) await waitingAppendsJoined;
    if (this.#failure !== null) throw this.#failure;
    const lastGroup = this.#groups[this.#groups.length - 1];
    if (lastGroup !== undefined) await lastGroup.promise;
    await this.#syncData();
    // close() took over the sync (#shutDownCleanly): its outcome is this one's.
    if (this.#shuttingDown) {
      await this.#closeRun?.catch(() => {});
      if (this.#failure !== null) throw this.#failure;
    }
  }

  /**
   * Makes the log's own files hold every acknowledged record durably. Under
   * a shared journal (WalManager) acknowledgements rest on the journal; the
   * journal calls this before it forgets their writes. A no-op for a log
   * whose writes are durable when they return.
   * @internal
   */
  async syncFiles(): Promise<void> {
    if (this.#options.dsyncWrites) return;
    // A group journaled just before this call may not be in its file yet.
    const fileWrite = this.#journaledFileWrite;
    if (fileWrite !== null) await fileWrite.catch((error: unknown) => this.#fail(error, 'write records'));
    if (this.#closeRun === null) {
      this.#checkWritable('sync log files');
      // Started before any await: a seal that begins meanwhile waits for this
      // sync before it closes the file (Segment.filesSync).
      const active = this.#writingSegment;
      const handle = active.writeHandle;
      assert(handle !== null, 'the segment being written has a handle');
      // Everything written so far is in the files the sync covers.
      const target = this.#writtenOffset;
      const activeSynced = holdWhileSyncing(active, handle.datasync());
      try {
        await activeSynced;
        // Every seal started so far has listed its file by now, including
        // one of `active` if it rotated meanwhile (seals do not sync under a journal).
        await this.#sealChain;
        await this.#syncSealedFiles();
        await this.#renamesDone();
        if (this.#failure !== null) throw this.#failure;
        await this.#folder.sync();
        this.#filesSyncedOffset = Math.max(this.#filesSyncedOffset, target);
      } catch (error) {
        this.#fail(error, 'sync log files');
        throw this.#failure;
      }
    }
    // A close under way syncs the rest (it may have taken sealed files off
    // the list); a failed one leaves the journal needed.
    if (this.#closeRun !== null) {
      await this.#closeRun;
      if (this.#failure !== null) throw this.#failure;
    }
  }

  /**
   * Deletes whole segments whose records are all below `offset` (retention).
   * The active segment is never deleted, so `firstOffset` may stay below `offset`.
   * @param offset keep every record at or after this offset
   * @example
   * await wal.truncateBefore(checkpointOffset);
   */
  async truncateBefore(offset: number): Promise<void> {
    this.#checkWritable('truncate log');
    checkNonNegativeSafeInteger(offset, 'truncate log', 'offset');
    if (offset > this.#ackedOffset) {
      throw new OffsetOutOfRangeError('truncate log', offset, this.firstOffset, this.#ackedOffset, true);
    }
    const run = this.#truncate(offset);
    this.#truncations.add(run);
    try {
      await run;
    } finally {
      this.#truncations.delete(run);
    }
  }

  async #truncate(offset: number): Promise<void> {
    await this.#sealsDone();
    // The active segment's name must be in the folder before the names of
    // the segments below it leave: a folder fsync that made the unlinks
    // durable without that rename would leave a power cut a log with no
    // named segment, which recovery would take for a new, empty one.
    await this.#renamesDone();
    if (this.#failure !== null) throw this.#failure;
    let removed = 0;
    try {
      // Oldest first: a crash part way leaves a contiguous suffix of the log.
      while (this.#segments.length > 1) {
        const oldest = this.#segments[0];
        assert(oldest !== undefined, 'segments are not empty');
        if (oldest.nextOffset > offset || !oldest.sealed || oldest === this.#writingSegment) break;
        // Out of the log before the file goes, so that new readers stop at firstOffset.
        this.#segments.shift();
        oldest.deleted = true;
        this.fileCache.forget(oldest.path);
        await this.#fileSystem.unlink(oldest.path);
        // Shared with syncFiles: a journal checkpoint that finds the file gone
        // must not count it synced before the deletion is durable.
        this.#folder.markDirty();
        removed += 1;
      }
      if (removed > 0) await this.#folder.sync();
    } catch (error) {
      // A folder fsync is never retried, and a file that failed to go is
      // still on disk: stop, and let recovery see what is really there.
      this.#fail(error, 'truncate log');
      throw this.#failure;
    }
  }

  /**
   * Describes every segment (sizes of sealed segments load from their index).
   * @example
   * const bytes = (await wal.segments()).reduce((sum, s) => sum + s.sizeBytes, 0);
   */
  async segments(): Promise<SegmentInfo[]> {
    this.#checkReadable('list segments');
    // Paths name files: a rotated segment's rename must be done.
    await this.#renamesDone();
    const infos: SegmentInfo[] = [];
    for (const segment of [...this.#segments]) {
      if (segment.sizeBytes < 0) await this.ensureIndexed(segment);
      if (segment.recordCount === 0 && segment !== this.#segments[this.#segments.length - 1]) continue;
      infos.push({
        baseOffset: segment.baseOffset,
        nextOffset: segment.nextOffset,
        sizeBytes: segment.sizeBytes,
        path: segment.path,
        sealed: segment.sealed,
        createdAtMs: segment.createdAtMs,
        lastTimestampMs: segment.lastTimestampMs,
      });
    }
    return infos;
  }

  /**
   * Flushes and syncs every pending append (they resolve first), marks a
   * clean shutdown and releases the folder. Later appends, syncs,
   * truncations and `segments()` reject with WalClosedError (WalIOError if
   * the log had failed: its failure stays the answer), and `read()`,
   * `readBlocks()` and `tail()` throw it at once. Closing a failed log releases
   * it without the clean mark, so the next open runs recovery. Calling
   * close() again returns the same promise.
   */
  close(): Promise<void> {
    if (this.#closeRun === null) {
      this.#closeRun = this.#close();
      const listeners = [...this.#closingListeners];
      this.#closingListeners.clear();
      for (const listener of listeners) listener();
    }
    return this.#closeRun;
  }

  /**
   * Calls `listener` once, when close() is first called (at once if it was):
   * a SharedAppendChannel closes with its log, or its wait for the producer
   * would keep the process alive after the log is gone.
   * @returns a function that drops the listener (a channel closed first), so the log does not keep it
   * @internal
   */
  onClosing(listener: () => void): () => void {
    if (this.#closeRun !== null) {
      listener();
      return () => {};
    }
    // A distinct function per call: dropping one registration leaves another of the same listener.
    const call = (): void => listener();
    this.#closingListeners.add(call);
    return () => this.#closingListeners.delete(call);
  }

  async #close(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'closing') return;
    const failed = this.#state === 'failed';
    this.#state = 'closing';
    try {
      // Appends still waiting for room were called before close(): they go in first.
      await this.#drainSpaceWaiters();
      // A truncation still unlinking files must not outlive the lock.
      await Promise.allSettled([...this.#truncations]);
      const lastGroup = this.#groups[this.#groups.length - 1];
      if (lastGroup !== undefined) await lastGroup.promise.catch(() => {});
      await this.#sealsDone();
      if (this.#failure === null && !failed) {
        try {
          await this.#shutDownCleanly();
        } catch (error) {
          this.#fail(error, 'close log');
          throw this.#failure;
        }
      }
    } finally {
      await this.#release();
    }
  }

  // ---- ReadableLog ----

  /** @internal */
  assertReadable(action: string): void {
    if (this.#readsClosed) throw this.#closedError(action);
    this.#checkReadable(action);
  }

  /** @internal */
  segmentFor(offset: number, action: string): Segment {
    const segments = this.#segments;
    let low = 0;
    let high = segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((segments[middle]?.baseOffset ?? Infinity) <= offset) low = middle;
      else high = middle - 1;
    }
    const segment = segments[low];
    if (segment === undefined || offset < segment.baseOffset || offset >= segment.nextOffset) {
      throw new OffsetOutOfRangeError(action, offset, this.firstOffset, this.#ackedOffset);
    }
    return segment;
  }

  /** @internal */
  async ensureIndexed(segment: Segment): Promise<void> {
    if (segment.indexComplete && segment.sizeBytes >= 0) return;
    if (segment.sealed) {
      // A closing log lends no handle (#release): say so, not the cache's refusal.
      this.assertReadable('read segment index');
      const handle = await this.fileCache.acquire(segment.path);
      let index;
      try {
        index = await readIndexTrailer(handle, segment.baseOffset);
      } finally {
        this.fileCache.release(segment.path);
      }
      if (index !== null && index.recordCount === segment.recordCount) {
        segment.sizeBytes = index.sizeBytes;
        segment.reservedSizeBytes = index.sizeBytes;
        segment.firstTimestampMs = index.firstTimestampMs;
        segment.lastTimestampMs = index.lastTimestampMs;
        segment.setIndex(index.offsetDeltas, index.positions);
        return;
      }
    }
    await this.#indexByScan(segment);
  }

  async #indexByScan(segment: Segment): Promise<void> {
    this.assertReadable('read segment index');
    const handle = await this.fileCache.acquire(segment.path);
    try {
      // The active segment is read only up to what is acknowledged now;
      // appends acknowledged while the read runs are not in what it scans.
      const scannedSizeBytes = segment.sealed ? Infinity : segment.sizeBytes;
      const scannedRecordCount = segment.recordCount;
      const content = await readWhole(handle, scannedSizeBytes);
      const header = decodeSegmentHeader(content.subarray(0, SEGMENT_HEADER_SIZE_BYTES));
      if (header.kind !== 'ok') throw new CorruptionError(segment.path, 0, 'segment header is damaged');
      segment.nonce = header.nonce;
      const scan = scanSegment(content, segment.baseOffset, segment.nonce);
      if (scan.recordCount < scannedRecordCount) {
        throw new CorruptionError(segment.path, scan.damagePosition, `${scan.damageReason}; the segment holds ${scan.recordCount} of its ${scannedRecordCount} records`);
      }
      if (segment.sizeBytes < 0) {
        segment.sizeBytes = scan.validSizeBytes;
        segment.reservedSizeBytes = scan.validSizeBytes;
      }
      segment.firstTimestampMs = scan.firstTimestampMs;
      const acknowledgedDuringScan = segment.recordCount > scannedRecordCount;
      if (!acknowledgedDuringScan) segment.lastTimestampMs = scan.lastTimestampMs;
      // Index entries that acknowledgements added past the scanned bytes stay
      // (positions ascend: they are added as groups are acknowledged).
      const laterIndex = segment.indexPositions.findIndex((position) => position >= scannedSizeBytes);
      const keptFrom = laterIndex === -1 ? segment.indexPositions.length : laterIndex;
      segment.setIndex(
        [...scan.indexOffsetDeltas, ...segment.indexOffsetDeltas.slice(keptFrom)],
        [...scan.indexPositions, ...segment.indexPositions.slice(keptFrom)],
      );
    } finally {
      this.fileCache.release(segment.path);
    }
  }

  // ---- appending ----

  /** The open group that `recordCount` records of `frameBytes` join, rotating first when they do not fit. */
  #groupFor(frameBytes: number, recordCount: number, nowMs: number): WriteGroup {
    let segment = this.#segments[this.#segments.length - 1];
    assert(segment !== undefined, 'a log has an active segment');
    if (this.#mustRotate(segment, frameBytes, recordCount, nowMs)) segment = this.#rotate(nowMs);
    const last = this.#groups[this.#groups.length - 1];
    if (last !== undefined && !last.flushing && last.segment === segment) return last;
    // Under 'always' the flusher writes groups one after another, each durable
    // before the next starts; otherwise only what a sync covered is durable.
    // A journaled log's acknowledged records are durable in the journal, not
    // in its files: its frames may claim only what syncFiles covered, or
    // recovery would take a hole the journal fills for lost synced data.
    const syncedOffset =
      this.#journal !== null ? this.#filesSyncedOffset : this.#options.syncMode === 'always' ? this.#reservedOffset : this.#durableOffset;
    const group = new WriteGroup(segment, this.#reservedOffset, syncedOffset, this.#pool.take());
    this.#groups.push(group);
    return group;
  }

  #mustRotate(segment: Segment, frameBytes: number, recordCount: number, nowMs: number): boolean {
    if (segment.reservedRecordCount === 0) return false;
    const options = this.#options;
    if (segment.reservedSizeBytes + frameBytes > options.segmentBytes) return true;
    if (segment.reservedRecordCount + recordCount > options.segmentMaxRecords) return true;
    return segment.ageMs(nowMs) >= options.segmentMaxAgeMs;
  }

  #rotate(nowMs: number): Segment {
    const segment = new Segment(this.dir, this.#reservedOffset, nowMs);
    segment.nonce = newSegmentNonce();
    segment.headerPending = true;
    segment.ready = this.#install(segment);
    segment.ready.catch(() => {});
    this.#segments.push(segment);
    return segment;
  }

  /**
   * Gives a rotated segment its prepared file. Groups are written into it
   * at once, through the handle; the rename to the segment's own name runs
   * beside them, and acknowledgements wait for neither the rename nor the
   * folder sync after it: if a crash or a power cut loses the rename,
   * recovery finishes it, because the file holds the segment's header
   * (under 'always' the prepared file is durable under its temp name before
   * use; under a journal the replay recreates it; under batch and 'os' the
   * next sync waits for the rename). Measured: a rename waited for on the
   * append path cost 5 ms per rotation under load (S1, batch).
   */
  async #install(segment: Segment): Promise<void> {
    const { handle, allocatedBytes } = await this.#preparer.take();
    segment.writeHandle = handle;
    segment.allocatedBytes = allocatedBytes;
    segment.ready = null;
    const named = this.#name(segment, handle);
    segment.named = named;
    this.#renamesInFlight.add(named);
    named
      .catch((error: unknown) => this.#fail(error, 'rename rotated segment'))
      .finally(() => this.#renamesInFlight.delete(named));
  }

  async #name(segment: Segment, handle: FileHandle): Promise<void> {
    await this.#fileSystem.rename(handle.path, segment.path);
    handle.path = segment.path;
    segment.named = null;
    if (this.#options.dsyncWrites) {
      segment.nameSynced = this.#fileSystem.syncDir(this.dir);
      segment.nameSynced.catch((error: unknown) => this.#fail(error, 'sync folder after rotation'));
    } else {
      // Acknowledged before any sync anyway; the next sync covers the folder.
      this.#folder.markDirty();
    }
  }

  #reserved(group: WriteGroup, frameBytes: number, recordCount: number): void {
    const segment = group.segment;
    segment.reservedSizeBytes += frameBytes;
    segment.reservedRecordCount += recordCount;
    this.#reservedOffset += recordCount;
    this.#pendingBytes += frameBytes;
    if (!this.#flushScheduled && !this.#flushing) {
      this.#flushScheduled = true;
      // Flushes that do no thread-pool I/O must let the event loop turn now and then (LoopTurnWatch).
      // A journaled log's flush awaits the journal's write on the pool, so the loop turns anyway.
      const blockingFlush = this.#options.syncMode !== 'always' || (this.#options.dsyncWrites && this.#options.blockingWrites);
      if (blockingFlush && this.#loopTurns.heldUpMs(this.#options.clock.monotonicMs()) >= LOOP_HELD_UP_MS_MAX) {
        setImmediate(this.#flushBound);
      } else {
        // nextTick runs after the current microtasks drain: every producer
        // that is ready now joins this group before it is written.
        process.nextTick(this.#flushBound);
      }
    }
  }

  async #flush(): Promise<void> {
    this.#flushScheduled = false;
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      for (let group = this.#groups[0]; group !== undefined && this.#failure === null; group = this.#groups[0]) {
        group.flushing = true;
        const segment = group.segment;
        // Folder changes made at open must be durable before anything written
        // now is acknowledged; the sync overlaps this group's write.
        let openChangesSynced: Promise<void> | null = null;
        if (this.#dirSyncPending) {
          openChangesSynced = this.#fileSystem.syncDir(this.dir);
          openChangesSynced.catch(() => {});
          this.#dirSyncPending = false;
        }
        if (segment.ready !== null) await segment.ready;
        if (segment !== this.#writingSegment) {
          // Rotation outpacing sealing would hold a descriptor per segment behind: wait for the oldest seal.
          const oldestSeal = this.#sealsInFlight.length >= SEALS_IN_FLIGHT_MAX ? this.#sealsInFlight[0] : undefined;
          if (oldestSeal !== undefined) {
            void this.#syncRotatedNow();
            await oldestSeal;
          }
          if (this.#failure !== null) break;
          this.#startSeal(this.#writingSegment, segment);
        }
        const handle = segment.writeHandle;
        assert(handle !== null, 'the segment being written has a handle');
        assert(group.startFilePosition === segment.sizeBytes || group.startFilePosition === 0, 'groups are written back to back');
        group.seal();
        if (this.#options.preallocate) {
          const waitFor = this.#preallocate(segment, group);
          if (waitFor !== null) await waitFor;
        }
        if (this.#options.dsyncWrites && !this.#options.blockingWrites) {
          await writeFully(handle, group.buffer, 0, group.usedBytes, group.startFilePosition);
        } else {
          // Page-cache writes cost less than a pool round trip; so, on an idle
          // loop, does a device flush (blockingWrites, under 'always').
          if (this.#journal !== null) await this.#writeJournaled(this.#journal, handle, group);
          else writeFullySync(handle, group.buffer, 0, group.usedBytes, group.startFilePosition);
        }
        if (openChangesSynced !== null) await openChangesSynced;
        // Only now may a sync count this group durable: before the folder
        // changes made at open are, its file itself may not survive a cut.
        this.#writtenOffset = group.firstOffset + group.recordCount;
        // A sync runs late: acknowledging now would put more than intervalMs
        // of acknowledged records at risk. Wait until syncs catch up (the one
        // in flight, or one that covers this group too); later groups queue.
        while (this.#syncDeadline?.isLate(this.#options.clock.monotonicMs()) === true && this.#failure === null) await this.#syncLanded();
        // A failure elsewhere (sealing, preallocation) may have stopped the
        // log while this write was in flight; its group was rejected then.
        if (this.#failure !== null) break;
        const smallDurableGroup = (this.#options.dsyncWrites || this.#journal !== null) && group.usedBytes < REJOIN_GROUP_SIZE_BYTES_MAX;
        this.#acknowledge(group);
        if (smallDurableGroup && this.#groups.length > 0 && this.#failure === null) {
          // The producers just acknowledged append again in the promise
          // reactions that run next; one turn of the loop lets them join the
          // group that filled meanwhile, instead of waiting for the one after.
          // Closed-loop producers then share one flush instead of splitting
          // into two groups that alternate: 64 producers made groups of 33.
          // Large groups skip the wait (REJOIN_GROUP_SIZE_BYTES_MAX).
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } catch (error) {
      this.#fail(error, 'write records');
    } finally {
      this.#flushing = false;
    }
  }

  /**
   * Journals a group, then writes it into the segment file while the
   * journal's durable write is in flight: the journal's flush runs on the
   * next tick and hands its write to the pool, and this page-cache write
   * follows on the tick after, off the path the acknowledgement waits on
   * (docs/performance.md, S1). The records are acknowledged once both are
   * done. syncFiles waits for this write, so a journal checkpoint never
   * forgets an entry whose bytes are not yet in the file it syncs.
   */
  async #writeJournaled(journal: WriteJournal, handle: FileHandle, group: WriteGroup): Promise<void> {
    let finishFileWrite = (_error?: unknown): void => {};
    // Set before recordWrite, which may start a checkpoint (and so syncFiles) at once.
    const fileWritten = new Promise<void>((resolve, reject) => {
      finishFileWrite = (error) => (error === undefined ? resolve() : reject(error));
    });
    fileWritten.catch(() => {});
    this.#journaledFileWrite = fileWritten;
    let journaled: Promise<void>;
    try {
      journaled = journal.recordWrite(this.dir, group.segment.baseOffset, group.startFilePosition, group.buffer.subarray(0, group.usedBytes));
    } catch (error) {
      // Settled either way: syncFiles waits on it.
      finishFileWrite(error);
      this.#journaledFileWrite = null;
      throw error;
    }
    // The file write may fail first; the journal's outcome then no longer matters.
    journaled.catch(() => {});
    process.nextTick(() => {
      // Fail-stop: a failure since the group was journaled (a seal, a rename) writes nothing more.
      if (this.#failure !== null) {
        finishFileWrite(this.#failure);
        return;
      }
      try {
        writeFullySync(handle, group.buffer, 0, group.usedBytes, group.startFilePosition);
        finishFileWrite();
      } catch (error) {
        finishFileWrite(error);
      }
    });
    try {
      await fileWritten;
    } finally {
      this.#journaledFileWrite = null;
    }
    await journaled;
  }

  /**
   * Keeps zeros written ahead of the data, in the background: appends into
   * space that already exists do not change the file's size, so their sync
   * skips a journal commit. The zeros go beyond every reserved byte, so they
   * never race a group's write; a group that reaches into space still being
   * zeroed waits for it (returned promise). Each extension is as large as
   * the data so far (64 KiB to 1 MiB), so small segments stay small.
   */
  #preallocate(segment: Segment, group: WriteGroup): Promise<void> | null {
    const endPosition = group.startFilePosition + group.usedBytes;
    if (segment.allocating !== null) return endPosition > segment.allocatingFromPosition ? segment.allocating : null;
    const aheadBytes = segment.allocatedBytes - endPosition;
    const dataBytes = segment.reservedSizeBytes - SEGMENT_HEADER_SIZE_BYTES;
    const stepBytes = Math.min(PREALLOCATE_STEP_BYTES_MAX, Math.max(PREALLOCATE_STEP_BYTES_MIN, dataBytes));
    if (aheadBytes >= stepBytes / 2 || group.usedBytes >= PREALLOCATE_GROUP_SIZE_BYTES_MAX) return null;
    const handle = segment.writeHandle;
    assert(handle !== null, 'a segment being written has a handle');
    const fromPosition = Math.max(segment.allocatedBytes, segment.reservedSizeBytes);
    const toPosition = fromPosition + stepBytes;
    segment.allocatingFromPosition = fromPosition;
    segment.allocating = (async () => {
      const zeros = zeroBlock(toPosition - fromPosition);
      await writeFully(handle, zeros, 0, zeros.length, fromPosition);
      segment.allocatedBytes = Math.max(segment.allocatedBytes, toPosition);
      segment.allocating = null;
    })();
    segment.allocating.catch((error: unknown) => this.#fail(error, 'preallocate segment'));
    return null;
  }

  #acknowledge(group: WriteGroup): void {
    const shifted = this.#groups.shift();
    assert(shifted === group, 'groups are acknowledged in order');
    const segment = group.segment;
    segment.acknowledge(group.startFilePosition, group.recordCount, group.startFilePosition + group.usedBytes, group.timestampMs);
    segment.allocatedBytes = Math.max(segment.allocatedBytes, segment.sizeBytes);
    this.#ackedOffset = group.firstOffset + group.recordCount;
    if (this.#options.syncMode === 'always') this.#durableOffset = this.#ackedOffset;
    else if (this.#syncDeadline !== null && this.#durableOffset < this.#ackedOffset) {
      this.#syncDeadline.acknowledged(this.#options.clock.monotonicMs());
      this.#armSyncTimer();
    }
    this.#pendingBytes -= group.usedBytes - group.framesStartPosition;
    this.#pool.give(group.buffer);
    group.resolve();
    this.#admitWaiters();
    this.#acks.wake();
  }

  /** Waits for room for `budgetBytes`; an append that gives up (failure) settles its place in the room queue. */
  async #admitAfterWait(budgetBytes: number, roomPlace: number): Promise<void> {
    try {
      await this.#waitForSpace(budgetBytes);
      this.#admittedBytes -= budgetBytes;
      this.#checkAdmitted();
    } catch (error) {
      this.#roomQueue.settled(roomPlace);
      throw error;
    }
  }

  #waitForSpace(frameBytes: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#spaceWaiters.push({ frameBytes, resolve, reject });
    });
  }

  /** Lets waiting appends in, in arrival order, while they fit the pending budget. */
  #admitWaiters(): void {
    while (this.#spaceWaiters.length > 0) {
      const waiter = this.#spaceWaiters[0];
      assert(waiter !== undefined, 'waiter exists');
      // Waiters admitted earlier may not have reserved their bytes yet (under
      // 'os' and batch the flusher acknowledges queued groups back to back).
      const outstandingBytes = this.#pendingBytes + this.#admittedBytes;
      const fits = outstandingBytes + waiter.frameBytes <= this.#options.maxPendingBytes;
      // The first waiter always gets in once nothing is pending, or a batch
      // as large as the budget could wait forever.
      if (!fits && outstandingBytes > 0) break;
      this.#admittedBytes += waiter.frameBytes;
      this.#spaceWaiters.shift();
      waiter.resolve();
    }
  }

  /** Waits until every append that waited for room has joined a group (or the log failed, which rejects them). */
  async #drainSpaceWaiters(): Promise<void> {
    while (this.#spaceWaiters.length > 0 || this.#admittedBytes > 0) {
      const lastGroup = this.#groups[this.#groups.length - 1];
      // Waiters get in as groups are acknowledged; admitted ones join a group on their next turn.
      if (this.#spaceWaiters.length > 0 && lastGroup !== undefined) await lastGroup.promise.catch(() => {});
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** An append let in after waiting for room: it was called while the log was open, so only a failure stops it now. */
  #checkAdmitted(): void {
    if (this.#failure !== null) throw this.#failure;
    assert(this.#state === 'open' || this.#state === 'closing', 'close() waits for admitted appends');
  }

  #rejectSpaceWaiters(error: Error): void {
    for (const waiter of this.#spaceWaiters.splice(0)) waiter.reject(error);
  }

  // ---- syncing and sealing ----

  #armSyncTimer(): void {
    if (this.#syncTimer !== null) return;
    const delayMs = this.#syncDeadline?.timerDelayMs(this.#options.clock.monotonicMs()) ?? this.#options.batchIntervalMs;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = null;
      this.#syncData().catch(() => {});
    }, delayMs);
  }

  /**
   * Makes every acknowledged record durable: the segments rotated away since
   * the last sync and the active one are synced together, not waiting for
   * their seals (index writes), so durability never lags behind sealing.
   */
  async #syncData(): Promise<void> {
    while (this.#syncing !== null) await this.#syncing;
    if (this.#shuttingDown) return;
    if (this.#durableOffset >= this.#writtenOffset && this.#rotatedUnsynced.length === 0) return;
    // An fdatasync covers every byte written before it, acknowledged or not.
    const target = this.#writtenOffset;
    this.#syncDeadline?.syncStarted(this.#options.clock.monotonicMs());
    const segment = this.#writingSegment;
    // Their seals wait for this sync before closing their handles (Segment.syncPending).
    const rotated = this.#rotatedUnsynced;
    this.#rotatedUnsynced = [];
    this.#syncing = (async () => {
      try {
        // Under 'os' sealing syncs each segment; its chain must be done first.
        if (this.#options.syncMode !== 'batch') await this.#sealChain;
        await this.#renamesDone();
        if (this.#failure !== null) return;
        await this.#folder.sync();
        // Fail-stop: a failure meanwhile (a seal's write) ends the sync here.
        if (this.#failure !== null) return;
        const syncs = rotated.map((rotatedSegment) => {
          assert(rotatedSegment.writeHandle !== null, 'a segment waiting for its sync keeps its handle');
          return rotatedSegment.writeHandle.datasync();
        });
        // The active segment may rotate and be sealed meanwhile (under 'os'
        // nothing holds its seal back): the seal must not close the handle
        // under this fdatasync, or the call could hit a reused descriptor.
        if (segment.writeHandle !== null) syncs.push(holdWhileSyncing(segment, segment.writeHandle.datasync()));
        await Promise.all(syncs);
        for (const rotatedSegment of rotated) rotatedSegment.syncPending = false;
        // A seal's own fdatasync (under 'os') may have failed meanwhile: a stopped log's durableOffset stays.
        if (this.#failure !== null) return;
        this.#durableOffset = Math.max(this.#durableOffset, target);
        this.#syncDeadline?.syncEnded(this.#options.clock.monotonicMs(), this.#durableOffset >= this.#ackedOffset);
      } catch (error) {
        // The kernel may mark dirty pages clean after a failed fsync, so a
        // retry could report success for lost data. Stop; only recovery is safe.
        this.#fail(error, 'sync log');
      } finally {
        // A sync that did not end (failed, or the log stopped first) leaves nothing to track.
        this.#syncDeadline?.syncStopped();
        this.#syncing = null;
        for (const wake of this.#syncWaiters.splice(0)) wake();
      }
    })();
    await this.#syncing;
    if (this.#failure !== null) throw this.#failure;
  }

  /** Waits for the sync in flight, or runs one when none is. */
  async #syncLanded(): Promise<void> {
    if (this.#syncing !== null) await this.#syncing;
    else await this.#syncData().catch(() => {});
  }

  /** Waits for the seals started so far, syncing at once the files they wait for. */
  async #sealsDone(): Promise<void> {
    await this.#syncRotatedNow();
    await this.#sealChain;
  }

  /**
   * Under batch, seals wait for the timer's sync to cover their files; whoever
   * waits for seals calls this instead of waiting up to intervalMs. A failed
   * sync has failed the log, which every waiter checks.
   */
  async #syncRotatedNow(): Promise<void> {
    if (this.#rotatedUnsynced.length > 0) await this.#syncData().catch(() => {});
  }

  /** Waits for the renames of rotated segments in flight now (a failed one has failed the log). */
  async #renamesDone(): Promise<void> {
    if (this.#renamesInFlight.size === 0) return;
    await Promise.all([...this.#renamesInFlight].map((named) => named.catch(() => {})));
  }

  /** Syncs the segments sealed without a sync (journaled logs). */
  async #syncSealedFiles(): Promise<void> {
    const goneCount = await syncFilesAt(this.#fileSystem, this.#unsyncedSealedPaths.splice(0));
    // Deleted by a truncation whose folder fsync may not have run yet: the
    // folder sync that follows (syncFiles, close) must make the deletion durable.
    if (goneCount > 0) this.#folder.markDirty();
  }

  #startSeal(previous: Segment, next: Segment): void {
    this.#writingSegment = next;
    if (this.#options.syncMode === 'batch') {
      previous.syncPending = true;
      this.#rotatedUnsynced.push(previous);
    }
    if (this.#options.preallocate) {
      // Steady loads make segments of similar sizes: prepare the next one as large as this one.
      const estimateBytes = Math.max(PREALLOCATE_STEP_BYTES_MIN, previous.sizeBytes);
      this.#preparer.preallocateBytes = Math.min(this.#options.segmentBytes, PREALLOCATE_STEP_BYTES_MAX, estimateBytes);
    }
    const sealed = this.#sealChain.then(() => this.#seal(previous)).catch((error: unknown) => this.#fail(error, 'seal segment'));
    this.#sealChain = sealed;
    this.#sealsInFlight.push(sealed);
    void sealed.finally(() => {
      const finished = this.#sealsInFlight.shift();
      assert(finished === sealed, 'seals finish in order');
    });
  }

  /** Syncs a full segment, trims preallocated space, writes its index, closes it. */
  async #seal(segment: Segment): Promise<void> {
    const handle = segment.writeHandle;
    assert(handle !== null, 'a segment being sealed has its handle');
    // After a failure nothing more is written or synced (fail-stop); the
    // check follows every await because the failure can come meanwhile.
    if (this.#failure !== null) return;
    if (segment.allocating !== null) await segment.allocating;
    if (this.#failure !== null) return;
    // Under a journal the journal holds this segment's writes until its
    // checkpoint syncs the file (syncFiles): one sync per checkpoint, not per rotation.
    if (this.#journal !== null) this.#unsyncedSealedPaths.push(segment.path);
    else if (this.#options.syncMode === 'os') await handle.datasync();
    // Under batch the timer's next sync covers this file with the active one
    // (close() and truncateBefore() sync at once rather than wait for it).
    // It must be done before the index is written: an index that outlived
    // a power cut would vouch for data that did not. Waiting for the timer
    // rather than syncing now saves an fdatasync of the active segment per
    // rotation.
    while (segment.syncPending && this.#failure === null) {
      this.#armSyncTimer();
      await new Promise<void>((resolve) => this.#syncWaiters.push(resolve));
    }
    if (this.#failure !== null) return;
    if (segment.allocatedBytes > segment.sizeBytes) {
      // Not synced: the data before it is, and zeros that reappear after a
      // power cut read as the end of the segment.
      await handle.truncate(segment.sizeBytes);
      if (this.#failure !== null) return;
    }
    // Retention deletes sealed segments by name: the rename must have landed.
    if (segment.named !== null) await segment.named.catch(() => {});
    if (this.#failure !== null) return;
    if (this.#options.syncMode === 'os' && this.#journal === null) {
      // Recovery trusts every segment before the newest one with an index
      // trailer without reading them, so a trailer must never outlive the
      // name of an earlier segment. Under batch the sync before the trailer
      // covers the folder; under 'os' nothing else syncs it, and a power cut
      // lost a whole earlier segment (created, renamed, never synced) while
      // this one's trailer survived (simulated power cuts, seed 2613).
      await this.#folder.sync();
      if (this.#failure !== null) return;
    }
    // The index trailer is a cache verified by its checksum: it needs no
    // fsync of its own, and losing it to a power cut costs a scan, never data.
    const trailer = encodeIndexTrailer(segment);
    // A page-cache write costs less than a pool round trip (performance.md, choice 3).
    if (this.#options.dsyncWrites) await writeFully(handle, trailer, 0, trailer.length, segment.sizeBytes);
    else writeFullySync(handle, trailer, 0, trailer.length, segment.sizeBytes);
    segment.sealed = true;
    segment.writeHandle = null;
    // A journal checkpoint may be syncing this file: let it finish first.
    await segment.filesSync?.catch(() => {});
    await handle.close();
  }

  async #shutDownCleanly(): Promise<void> {
    const active = this.#writingSegment;
    const handle = active.writeHandle;
    assert(handle !== null, 'the active segment has a handle at close');
    // Nothing may still be syncing when close's own fdatasync runs: after a
    // failed fsync on a descriptor, the next one can report success for the
    // pages the failure dropped, and a clean marker would then skip the
    // recovery those lost records need. So no new sync starts, the ones in
    // flight settle, and any failure they hit is seen before the marker.
    // Every seal is done by now, so none waits for a sync that no longer comes.
    this.#shuttingDown = true;
    this.#stopSyncTimer();
    await this.#settleInFlight();
    if (this.#failure !== null) throw this.#failure;
    // The clean marker names the active segment: it must be under its name.
    await this.#renamesDone();
    if (this.#failure !== null) throw this.#failure;
    await this.#syncSealedFiles();
    if (!this.#options.dsyncWrites) await handle.datasync();
    if (active.allocatedBytes > active.sizeBytes || (await handle.sizeBytes()) !== active.sizeBytes) {
      await handle.truncate(active.sizeBytes);
      await handle.datasync();
    }
    if (this.#failure !== null) throw this.#failure;
    this.#durableOffset = this.#ackedOffset;
    await writeCleanMarker(this.#fileSystem, this.dir, {
      nextOffset: this.#ackedOffset,
      activeBaseOffset: active.baseOffset,
      activeSizeBytes: active.sizeBytes,
    });
  }

  /** Waits for every write, sync, rename and zero-fill in flight: no file may close under them. */
  async #settleInFlight(): Promise<void> {
    await this.#flushRun;
    await this.#sealChain;
    await this.#syncing?.catch(() => {});
    for (const segment of this.#segments) {
      await segment.allocating?.catch(() => {});
      await segment.ready?.catch(() => {});
      await segment.named?.catch(() => {});
      await segment.nameSynced?.catch(() => {});
      await segment.filesSync?.catch(() => {});
    }
  }

  #stopSyncTimer(): void {
    if (this.#syncTimer !== null) clearTimeout(this.#syncTimer);
    this.#syncTimer = null;
  }

  async #release(): Promise<void> {
    this.#stopSyncTimer();
    await this.#settleInFlight();
    const handles = this.#segments.map((segment) => segment.writeHandle).filter((handle) => handle !== null);
    for (const segment of this.#segments) segment.writeHandle = null;
    await Promise.all(handles.map((handle) => handle.close().catch(() => {})));
    await this.#preparer.close().catch(() => {});
    // From here no reader borrows a handle: one resuming now, while the
    // cache closes, would open a file nothing closes (a review's probe left
    // 21 descriptors open after close()).
    this.#readsClosed = true;
    if (this.#ownsFileCache) await this.fileCache.closeAll();
    this.#state = 'closed';
    this.#wakeTails();
    try {
      await releaseLock(this.#fileSystem, this.dir);
    } catch (error) {
      // A LOCK left behind names this live process: every later open here
      // would fail with LOCKED, so close() must not pretend it succeeded.
      throw new WalIOError(`Cannot close log in ${this.dir}: removing its LOCK failed; delete ${this.dir}/LOCK by hand`, error);
    }
  }

  /** Fail-stop: after a write or sync error nothing more is written; reopen runs recovery. */
  #fail(error: unknown, action: string): void {
    if (this.#failure !== null) return;
    const reason = error instanceof Error ? error.message : String(error);
    this.#failure = new WalIOError(`Cannot ${action} in ${this.dir}: ${reason}; the log stopped, reopen it to recover`, error);
    if (this.#state === 'open') this.#state = 'failed';
    for (const group of this.#groups.splice(0)) group.reject(this.#failure);
    this.#rejectSpaceWaiters(this.#failure);
    if (this.#syncTimer !== null) clearTimeout(this.#syncTimer);
    this.#syncTimer = null;
    for (const wake of this.#syncWaiters.splice(0)) wake();
    this.#wakeTails();
    // Last: whatever the logger does, every waiter above has its answer.
    this.#options.logger.error({ dir: this.dir, err: error }, 'log failed');
  }

  #checkWritable(action: string): void {
    if (this.#failure !== null) throw this.#failure;
    if (this.#state !== 'open') throw this.#closedError(action);
  }

  #checkReadable(action: string): void {
    if (this.#state === 'closed') throw this.#closedError(action);
  }

  /** What a call on the closed log gets: a managed log names the manager's way back (internal option closedRemedy). */
  #closedError(action: string): WalClosedError {
    return this.#closedRemedy === null ? new WalClosedError(action) : new WalClosedError(action, 'log', this.#closedRemedy);
  }

  /** The range `[from, to)` a read of `options` covers, checked now (see read()). */
  #readRange(options: ReadOptions): { from: number; to: number } {
    this.#checkReadable('read records');
    const { from, to } = readBounds(options);
    const end = Math.min(to ?? this.#ackedOffset, this.#ackedOffset);
    if (from === undefined) return { from: this.firstOffset, to: end };
    if (from < this.firstOffset || from >= this.#ackedOffset) {
      throw new OffsetOutOfRangeError('read records', from, this.firstOffset, this.#ackedOffset);
    }
    return { from, to: end };
  }

  // ---- tailing ----

  async *#tail(from: number, signal: AbortSignal | undefined): AsyncGenerator<WalRecord, void, undefined> {
    let offset = from;
    for (;;) {
      if (isAborted(signal) || this.#closingOrClosed()) return;
      // A failed log's acknowledged records stay readable: the tail hands them out, then fails.
      if (offset < this.#ackedOffset) {
        try {
          for await (const record of readRange(this, offset, this.#ackedOffset)) {
            yield record;
            offset = record.offset + 1;
            if (isAborted(signal)) return;
          }
        } catch (error) {
          // Closed while catching up: the reader opens no segment of a closed
          // log and says WAL_CLOSED, but a tail ends on close.
          if (error instanceof WalClosedError && this.#closingOrClosed()) return;
          throw error;
        }
        continue;
      }
      if (this.#failure !== null) throw this.#failure;
      await this.#acks.next(signal);
    }
  }

  #closingOrClosed(): boolean {
    return this.#state === 'closing' || this.#state === 'closed';
  }

  /** Resolves at the next acknowledgement, close, failure or abort. */
  #wakeTails(): void {
    this.#acks.wake();
  }
}

/**
 * What {@link Wal.read} answers on an empty log that does not exist yet:
 * nothing without `from`, OFFSET_OUT_OF_RANGE with one; bad options throw.
 */
export function checkEmptyRead(options: ReadOptions): void {
  const { from } = readBounds(options);
  if (from !== undefined) throw new OffsetOutOfRangeError('read records', from, 0, 0);
}

/**
 * Checks the options of a tail without the log (the offset's range needs it).
 * @throws InvalidArgumentError for options that are not an object, an unknown key, a bad `from` or a `signal` that is not an AbortSignal
 */
export function checkTailOptions(options: TailOptions): void {
  checkOptionKeys(options, ['from', 'signal'], 'tail records');
  if (options.from !== undefined) checkNonNegativeSafeInteger(options.from, 'tail records', 'from');
  const signal: unknown = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(`Cannot tail records: signal must be an AbortSignal, got ${describe(signal)}`);
  }
}

/** Checks read options: a bad one throws INVALID_ARGUMENT. */
export function readBounds(options: ReadOptions): { from: number | undefined; to: number | undefined } {
  checkOptionKeys(options, ['from', 'to'], 'read records');
  const { from, to } = options;
  if (from !== undefined) checkNonNegativeSafeInteger(from, 'read records', 'from');
  if (to !== undefined) checkNonNegativeSafeInteger(to, 'read records', 'to');
  if (from !== undefined && to !== undefined && to < from) {
    throw new InvalidArgumentError(`Cannot read records: to (${to}) is below from (${from}); give a to at or above from (it is exclusive)`);
  }
  return { from, to };
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

let zeros = Buffer.alloc(0);

/** A shared block of zeros (never written to) of at least `sizeBytes`. */
function zeroBlock(sizeBytes: number): Buffer {
  if (zeros.length < sizeBytes) zeros = Buffer.alloc(sizeBytes);
  return zeros.subarray(0, sizeBytes);
}

/**
 * Marks `segment`'s write handle as being synced until `sync` settles: its
 * seal waits for `filesSync` before it closes the handle. Chains with a
 * sync already marked (a journal checkpoint's).
 */
function holdWhileSyncing(segment: Segment, sync: Promise<void>): Promise<void> {
  const settled = sync.catch(() => {});
  // Marks set here never reject, so they chain as they are.
  const previous = segment.filesSync;
  const held = previous === null ? settled : Promise.all([previous, settled]).then(() => {});
  segment.filesSync = held;
  void held.then(() => {
    if (segment.filesSync === held) segment.filesSync = null;
  });
  return sync;
}
