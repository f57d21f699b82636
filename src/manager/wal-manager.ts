/**
 * WalManager: many logs keyed by topic and partition (the Kafka model), in
 * `dir/<topic>/<partition>/`, each its own {@link Wal}. Under 'always' the
 * logs share one fsync stream by default, a journal whose group commit
 * covers all of them ({@link SharedJournal}; docs/manager.md has the
 * measurements). Logs open lazily on first use, with recovery, and an LRU
 * ({@link LogPool}) bounds how many are open at once; one {@link FileCache}
 * bounds the read handles of all of them together.
 *
 * The manager's own files live in `dir/~manager/` (its LOCK, the
 * checkpoints and the journal); `~` cannot appear in a topic name, so no topic collides.
 */
import { join, dirname } from 'node:path';
import { assert } from '../assert.js';
import { OPEN_FILES_MAX } from '../constants.js';
import { InvalidArgumentError, OffsetOutOfRangeError, WalClosedError } from '../errors.js';
import { managerClosedError } from './manager-closed.js';
import type { Clock } from '../io/clock.js';
import type { FileSystem } from '../io/file-system.js';
import { listOrCreateFolder } from '../io/list-or-create-folder.js';
import { FileCache } from '../log/file-cache.js';
import { acquireLock, releaseLock } from '../log/lock.js';
import { asOpenError } from '../log/open-error.js';
import { descriptorsNeeded, openFilesSoftLimit } from './descriptor-budget.js';
import { folderOwner, managerFolderAbove, MANAGER_FOLDER_NAME } from '../log/folder-owner.js';
import { checkOptionKeys, describe, KNOWN_OPTIONS, resolveWalOptions } from '../log/options.js';
import type { ResolvedWalOptions, WalOptions } from '../log/options.js';
import { keepRecord, toBatchPayloads, toPayload } from '../log/record-input.js';
import { MANAGER_OWNED, Wal, checkEmptyRead, checkTailOptions, readBounds } from '../log/wal.js';
import type { ReadOptions, RecordBlock, TailOptions, WalRecord } from '../log/wal.js';
import type { Logger } from '../logger.js';
import { CheckpointStore } from './checkpoint-store.js';
import { replayJournal } from './journal-replay.js';
import { JOURNAL_CHECKPOINT_BYTES_DEFAULT, SharedJournal } from './shared-journal.js';
import { Consumer } from './consumer.js';
import type { ConsumeOptions, ConsumerHost } from './consumer.js';
import { LogEntry, LogPool, ROOM_WAIT_MS_MAX } from './log-pool.js';
import { resumableRead, resumableScan, resumableTail } from './resumable-reads.js';
import { SharedAppendChannel, ringBytesOf } from '../worker/shared-append-channel.js';
import type { SharedAppendChannelOptions } from '../worker/shared-append-channel.js';
import type { Resumable } from './resumable-reads.js';
import { SharedExclusiveLock } from './shared-exclusive-lock.js';
import { checkRetentionPolicy, enforceLogRetention, guardOffsetFor, topicsOf } from './retention.js';
import type { RetentionPolicy } from './retention.js';
import {
  PARTITIONS_DEFAULT_MAX,
  PARTITIONS_LIMIT,
  checkPartition,
  checkTopicName,
  isValidName,
  logKey,
  parsePartitionFolder,
} from './topic-name.js';

export { MANAGER_FOLDER_NAME };

/**
 * Default bound on open logs. Each open log holds two or three descriptors
 * in steady use (active segment, one or two prepared next segments) and up
 * to seven while rotation outpaces sealing (docs/manager.md counts them and
 * says which `ulimit -n` to set).
 */
export const OPEN_LOGS_DEFAULT_MAX = 256;
/** The largest `maxOpenLogs` accepted. */
export const OPEN_LOGS_LIMIT = 1_000_000;
/** Default size of the read-handle cache shared by every log. */
export const SHARED_OPEN_FILES_DEFAULT_MAX = 128;
/** Default period of the background retention task. */
export const RETENTION_INTERVAL_MS_DEFAULT = 60_000;

/** Options of one managed log: Wal options without `dir`, plus retention. */
export interface ManagedLogOptions extends Omit<WalOptions, 'dir' | 'maxOpenFiles'> {
  /** Which sealed segments the retention task deletes. @default none: keep everything */
  readonly retention?: RetentionPolicy;
}

/**
 * How the logs under `fsync: 'always'` make their writes durable:
 * `'shared'`, one journal whose group commit covers all partitions (one
 * flush for many partitions' records); `'per-log'`, each log's own O_DSYNC
 * writes. docs/manager.md has the measurements behind the default.
 */
export type SyncStream = 'shared' | 'per-log';

/** Options of {@link WalManager.open}; every {@link ManagedLogOptions} is a default for all logs. */
export interface WalManagerOptions extends ManagedLogOptions {
  /** The manager's folder; created if missing. */
  readonly dir: string;
  /** Partitions are integers in `[0, maxPartitions)`. @default 65536 */
  readonly maxPartitions?: number;
  /** Logs kept open at once (LRU of idle logs beyond it is closed). @default 256 */
  readonly maxOpenLogs?: number;
  /** Read handles kept open across all logs (one shared LRU). @default 128 */
  readonly maxOpenFiles?: number;
  /**
   * Per-log overrides of the defaults. Asked whenever the manager needs a
   * log's options: when it opens, before its first records are checked,
   * and at each retention pass; so it may run several times for one log
   * and must give the same answer each time.
   */
  readonly logOptions?: (topic: string, partition: number) => ManagedLogOptions;
  /** Period of the background retention task; 0 turns it off (call enforceRetention()). @default 60000 */
  readonly retentionIntervalMs?: number;
  /** Shared journal or per-log durability for logs under `fsync: 'always'`. @default 'shared' */
  readonly syncStream?: SyncStream;
  /** Bytes the shared journal takes between checkpoints (syncs of every open log's files). @default 128 MiB */
  readonly journalCheckpointBytes?: number;
}

/** What {@link WalManager.enforceRetention} did. */
export interface RetentionReport {
  /** Logs whose policy was applied. */
  readonly logCount: number;
  /** Segments deleted across all logs. */
  readonly deletedSegmentCount: number;
  /**
   * Logs whose policy could not be applied (a log stopped by an I/O error, or
   * one that fails to open); every other log was still checked. Each is also
   * logged as a warning.
   */
  readonly failures: readonly RetentionFailure[];
}

/** A log that retention skipped, and why. */
export interface RetentionFailure {
  readonly topic: string;
  readonly partition: number;
  readonly error: Error;
}

type Record_ = Uint8Array | string;

const MANAGER_ONLY_OPTIONS = new Set([
  'dir',
  'maxPartitions',
  'maxOpenLogs',
  'maxOpenFiles',
  'logOptions',
  'retentionIntervalMs',
  'retention',
  'syncStream',
  'journalCheckpointBytes',
]);

/** What logOptions may set: a log's own options (ManagedLogOptions). */
const MANAGED_LOG_OPTION_KEYS: readonly string[] = [...[...KNOWN_OPTIONS].filter((key) => key !== 'dir' && key !== 'maxOpenFiles'), 'retention'];

/** The shared journal's folder inside `~manager`. */
export const JOURNAL_FOLDER_NAME = 'journal';

/**
 * Many logs keyed by topic and partition, with checkpoints, retention and consumers.
 *
 * @example
 * const mgr = await WalManager.open({ dir: './data', fsync: 'always' });
 * const [first] = await mgr.append('orders', 3, ['a', 'b']);
 * await mgr.checkpoints.commit('indexer', { 'orders/3': first + 2 });
 * for await (const record of mgr.read('orders', 3)) console.log(record.offset);
 * await mgr.close();
 */
export class WalManager {
  /** The manager's folder. */
  readonly dir: string;
  /** Partitions are integers in `[0, maxPartitions)`. */
  readonly maxPartitions: number;
  /** Durable named checkpoints. */
  readonly checkpoints: CheckpointStore;
  readonly #fileSystem: FileSystem;
  readonly #clock: Clock;
  /** Per log: checkpoint commits naming it share its lock; retention of it, when guarded by checkpoints, holds it alone. */
  readonly #guardLocks = new Map<string, SharedExclusiveLock>();
  readonly #logger: Logger;
  #poolFullWarned = false;
  readonly #metaDir: string;
  readonly #walDefaults: Omit<WalOptions, 'dir'>;
  readonly #retentionDefault: RetentionPolicy | undefined;
  readonly #logOptions: ((topic: string, partition: number) => ManagedLogOptions) | undefined;
  readonly #topics: Map<string, Map<number, LogEntry>>;
  readonly #pool: LogPool;
  readonly #fileCache: FileCache;
  readonly #consumers = new Set<Consumer>();
  readonly #partitionListeners = new Set<(topic: string, partition: number) => void>();
  readonly #syncStream: SyncStream;
  readonly #journalCheckpointBytes: number;
  /** The shared journal, opened with the first log under 'always' (null: none yet, or per-log). */
  #journal: Promise<SharedJournal> | null = null;
  #retentionTimer: NodeJS.Timeout | null = null;
  #retentionRun: Promise<RetentionReport> | null = null;
  #closing: Promise<void> | null = null;

  private constructor(init: {
    dir: string;
    maxPartitions: number;
    maxOpenLogs: number;
    fileCache: FileCache;
    fileSystem: FileSystem;
    logger: Logger;
    clock: Clock;
    walDefaults: Omit<WalOptions, 'dir'>;
    retentionDefault: RetentionPolicy | undefined;
    logOptions: ((topic: string, partition: number) => ManagedLogOptions) | undefined;
    syncStream: SyncStream;
    journalCheckpointBytes: number;
    topics: Map<string, Map<number, LogEntry>>;
    checkpoints: (host: WalManager) => CheckpointStore;
  }) {
    this.dir = init.dir;
    this.maxPartitions = init.maxPartitions;
    this.#fileSystem = init.fileSystem;
    this.#logger = init.logger;
    this.#clock = init.clock;
    this.#metaDir = join(init.dir, MANAGER_FOLDER_NAME);
    this.#walDefaults = init.walDefaults;
    this.#retentionDefault = init.retentionDefault;
    this.#logOptions = init.logOptions;
    this.#topics = init.topics;
    this.#fileCache = init.fileCache;
    this.#syncStream = init.syncStream;
    this.#journalCheckpointBytes = init.journalCheckpointBytes;
    this.#pool = new LogPool(init.maxOpenLogs, (entry) => this.#openWal(entry), () => this.#warnPoolFull());
    this.checkpoints = init.checkpoints(this);
  }

  /**
   * Opens (creating if needed) the manager in `options.dir`: takes its lock,
   * finds the topics and partitions on disk, loads the checkpoints. Logs
   * themselves open lazily, with recovery, on first use.
   * @param options see {@link WalManagerOptions}
   * @throws InvalidArgumentError on bad options (before anything touches the disk); LockedError when another owner has the folder
   * @example
   * const mgr = await WalManager.open({ dir: './data', fsync: { batch: { intervalMs: 5 } }, maxOpenLogs: 1000 });
   */
  static async open(options: WalManagerOptions): Promise<WalManager> {
    const resolved = resolveManagerOptions(options);
    try {
      return await WalManager.#open(resolved);
    } catch (error) {
      throw asOpenError(error, resolved.dir, 'manager');
    }
  }

  static async #open(resolved: ResolvedManagerOptions): Promise<WalManager> {
    const { fileSystem, dir } = resolved;
    warnIfDescriptorsShort(resolved);
    const outerManagerDir = await managerFolderAbove(fileSystem, dir);
    if (outerManagerDir !== null) {
      throw new InvalidArgumentError(
        `Cannot open manager in ${dir}: it is inside the WalManager folder ${outerManagerDir}, whose topic and partition folders only that manager may write; use that manager's topics, or give this manager a folder of its own`,
      );
    }
    const names = (await listOrCreateFolder(fileSystem, dir)).names;
    const owner = folderOwner(names);
    if (owner?.kind === 'log') {
      throw new InvalidArgumentError(
        `Cannot open manager in ${dir}: it is a log's folder (it holds ${owner.entry}); open it with Wal.open(), or give the manager a folder of its own`,
      );
    }
    // Before ~manager exists: a log found here afterwards would be refused by
    // Wal.open (it would lie inside a manager's folder) and never seen by
    // the manager, which reads topic folders of partition folders. Once it
    // exists, Wal.open refuses to make a log below it, so only the first
    // open pays for this look.
    if (owner === null) await refuseLogsAsTopics(fileSystem, dir, names);
    const metaDir = join(dir, MANAGER_FOLDER_NAME);
    await fileSystem.mkdir(metaDir);
    // New folders live in their parents: sync them so a power cut keeps them.
    await fileSystem.syncDir(dir);
    await fileSystem.syncDir(dirname(dir));
    await acquireLock(fileSystem, metaDir, { subject: 'manager', dir });
    try {
      const journalDir = join(metaDir, JOURNAL_FOLDER_NAME);
      // Whatever the stream now, a journal left by a crash holds acknowledged writes.
      await replayJournal(fileSystem, dir, journalDir, resolved.logger, resolved.clock);
      const topics = await scanTopics(fileSystem, dir, resolved.maxPartitions, resolved.logger);
      return await WalManager.#finishOpen(resolved, topics, join(metaDir, 'checkpoints'), fileSystem);
    } catch (error) {
      await releaseLock(fileSystem, metaDir).catch(() => {});
      throw error;
    }
  }

  /** Every topic with at least one partition, sorted. */
  topics(): string[] {
    this.#checkOpen('list topics');
    const names: string[] = [];
    for (const [topic, partitions] of this.#topics) if (partitions.size > 0) names.push(topic);
    return names.sort();
  }

  /** The partitions of `topic` that exist, ascending (empty for an unknown topic). */
  partitions(topic: string): number[] {
    this.#checkOpen('list partitions');
    checkTopicName(topic, 'list partitions');
    const partitions = this.#topics.get(topic);
    return partitions === undefined ? [] : [...partitions.keys()].sort((left, right) => left - right);
  }

  /**
   * Appends to `topic`/`partition` (created on first use). An array is
   * appended atomically with {@link Wal.appendBatch}.
   * @returns the offset of a single record, or the offsets of an array
   * @example
   * const offset = await mgr.append('orders', 0, 'one');
   * const offsets = await mgr.append('orders', 0, ['two', 'three']);
   */
  append(topic: string, partition: number, data: Record_): Promise<number>;
  append(topic: string, partition: number, data: readonly Record_[]): Promise<number[]>;
  async append(topic: string, partition: number, data: Record_ | readonly Record_[]): Promise<number | number[]> {
    this.#checkOpen('append records');
    let records = data;
    let entry = this.#topics.get(topic)?.get(partition);
    if (entry === undefined) {
      // A partition is created only for records it can take: a bad record
      // must not leave an empty log behind.
      records = this.#checkFirstRecords(topic, partition, data);
      entry = this.#entry(topic, partition, 'append records');
    }
    const pool = this.#pool;
    const acquired = pool.acquire(entry, true);
    if (!(acquired instanceof Wal)) {
      // The log is opening: the caller may reuse its buffers once this call returns.
      records = Array.isArray(records) ? (records as readonly unknown[]).map(keepRecord) as Record_[] : keepRecord(records);
    }
    // A failed open already gave its pin back: only a Wal we got is released.
    const wal = acquired instanceof Wal ? acquired : await acquired;
    try {
      if (Array.isArray(records)) return await wal.appendBatch(records);
      return (await wal.append(records as Record_)).offset;
    } finally {
      pool.release(entry);
    }
  }

  /**
   * The Wal of `topic`/`partition`, opened (or created) if needed. The log
   * stays open while it is among the `maxOpenLogs` most recently used; an
   * idle log beyond that is closed, and a later call returns a new Wal. To
   * keep one open across awaits, use {@link withLog}.
   * @example
   * const wal = await mgr.log('orders', 3);
   * console.log(wal.nextOffset);
   */
  async log(topic: string, partition: number): Promise<Wal> {
    return this.withLog(topic, partition, (wal) => wal);
  }

  /**
   * Runs `use` with the open Wal of `topic`/`partition`, which is not closed
   * by the LRU until `use` settles.
   * @example
   * const segments = await mgr.withLog('orders', 3, (wal) => wal.segments());
   */
  async withLog<T>(topic: string, partition: number, use: (wal: Wal) => T | Promise<T>): Promise<T> {
    this.#checkOpen('open log');
    if (typeof use !== 'function') throw new InvalidArgumentError(`Cannot open log: use must be a function of the Wal, got ${describe(use)}`);
    const entry = this.#entry(topic, partition, 'open log');
    const wal = await this.#pool.acquire(entry);
    try {
      return await use(wal);
    } finally {
      this.#pool.release(entry);
    }
  }

  /**
   * A channel into one log for a producer in a worker thread (see
   * {@link SharedAppendChannel}). The log stays pinned, never closed as idle
   * by the pool, until the channel ends: its own close(), its producer's,
   * or the log's (mgr.close() closes every log, and their channels with
   * them). A channel opened on a Wal from mgr.log() pins nothing: the pool
   * may close that Wal, and the channel with it.
   * @example
   * const channel = await mgr.openChannel('orders', 3);
   * new Worker('./producer.js', { workerData: channel.handle });
   */
  async openChannel(topic: string, partition: number, options: SharedAppendChannelOptions = {}): Promise<SharedAppendChannel> {
    const action = 'open shared append channel';
    this.#checkOpen(action);
    ringBytesOf(options); // before the log is looked up: a refused call must not create its partition
    const entry = this.#entry(topic, partition, action);
    const wal = await this.#pool.acquire(entry);
    let channel: SharedAppendChannel;
    try {
      channel = SharedAppendChannel.open(wal, options);
    } catch (error) {
      this.#pool.release(entry);
      throw error;
    }
    void channel.ended.then(() => this.#pool.release(entry));
    return channel;
  }

  /**
   * Reads acknowledged records of one log (see {@link Wal.read}); the log stays open while iterating.
   * @example
   * for await (const record of mgr.read('orders', 3, { from: 100 })) handle(record);
   */
  read(topic: string, partition: number, options: ReadOptions = {}): AsyncIterable<WalRecord> {
    this.#checkOpen('read records');
    // Now, as Wal.read does; the range itself is checked when the log is open, at the first next().
    readBounds(options);
    return this.#leased(topic, partition, 'read records', resumableRead(options), { read: options });
  }

  /**
   * Scans one log in blocks with reused memory (see {@link Wal.readBlocks}):
   * a block is valid until the loop's next step.
   * @example
   * for await (const block of mgr.readBlocks('orders', 3)) for (let i = 0; i < block.count; i++) apply(block.data(i));
   */
  readBlocks(topic: string, partition: number, options: ReadOptions = {}): AsyncIterable<RecordBlock> {
    this.#checkOpen('read records');
    readBounds(options);
    return this.#leased(topic, partition, 'read records', resumableScan(options), { read: options });
  }

  /**
   * Follows one log (see {@link Wal.tail}); ends on abort or when the manager closes.
   * @example
   * for await (const record of mgr.tail('orders', 3, { from: 0, signal })) handle(record);
   */
  tail(topic: string, partition: number, options: TailOptions = {}): AsyncIterable<WalRecord> {
    this.#checkOpen('tail records');
    // Before the log is looked up: a tail creates its partition, a bad one must not.
    checkTailOptions(options);
    return this.#leased(topic, partition, 'tail records', resumableTail(options), { tailFrom: options.from, signal: options.signal });
  }

  /**
   * A consumer over every partition of `topics`; see {@link Consumer}.
   * @example
   * const consumer = mgr.consume({ group: 'indexer', topics: ['orders'], from: 'checkpoint' });
   * for await (const record of consumer) { handle(record); await consumer.commit(); }
   */
  consume(options: ConsumeOptions): Consumer {
    this.#checkOpen('consume');
    // Known to the manager once its iteration begins (ConsumerHost.started):
    // one never iterated holds nothing to close.
    return new Consumer(this.#consumerHost(), options);
  }

  /**
   * Applies every log's retention policy now (the background task does the same every `retentionIntervalMs`).
   * @returns how many logs were checked and segments deleted
   * @example
   * const { deletedSegmentCount } = await mgr.enforceRetention();
   */
  async enforceRetention(): Promise<RetentionReport> {
    this.#checkOpen('enforce retention');
    while (this.#retentionRun !== null) await this.#retentionRun.catch(() => {});
    // Closed while it waited for the pass before it: a pass now would check nothing.
    this.#checkOpen('enforce retention');
    this.#retentionRun = this.#runRetention();
    try {
      return await this.#retentionRun;
    } finally {
      this.#retentionRun = null;
    }
  }

  /**
   * Stops consumers and the retention task, waits for commits in flight,
   * closes every log (each flushes, syncs and marks a clean shutdown) and
   * releases the folder. Later calls reject with WalClosedError.
   */
  close(): Promise<void> {
    if (this.#closing === null) this.#closing = this.#close();
    return this.#closing;
  }

  /** Number of logs open now (bounded by maxOpenLogs while no more than that are in use). */
  get openLogCount(): number {
    return this.#pool.openCount;
  }

  // ---- internals ----

  static async #finishOpen(
    resolved: ResolvedManagerOptions,
    topics: Map<string, Map<number, LogEntry>>,
    storeDir: string,
    fileSystem: FileSystem,
  ): Promise<WalManager> {
    let manager: WalManager | null = null;
    const host = {
      maxPartitions: resolved.maxPartitions,
      nextOffsetOf: (topic: string, partition: number) => {
        assert(manager !== null, 'the manager exists before any commit');
        return manager.#nextOffsetOf(topic, partition);
      },
      guardCommit: (logKeys: readonly string[], commit: () => Promise<void>) => {
        assert(manager !== null, 'the manager exists before any commit');
        return manager.#sharingGuards(logKeys, commit);
      },
    };
    const store = await CheckpointStore.open(fileSystem, storeDir, host);
    manager = new WalManager({
      ...resolved,
      fileCache: new FileCache(fileSystem, resolved.maxOpenFiles),
      topics,
      checkpoints: () => store,
    });
    manager.#startRetentionTimer(resolved.retentionIntervalMs);
    return manager;
  }

  #checkOpen(action: string): void {
    if (this.#closing !== null) throw managerClosedError(action);
  }

  /** The records of an append to a partition that does not exist yet, checked against that log's limits. */
  #checkFirstRecords(topic: string, partition: number, data: unknown): Uint8Array | Uint8Array[] {
    checkTopicName(topic, 'append records');
    checkPartition(partition, this.maxPartitions, 'append records');
    const limits = this.#checkedWalOptionsFor(topic, partition);
    if (Array.isArray(data)) return toBatchPayloads(data, limits).payloads;
    return toPayload(data, limits.maxRecordBytes, 'append record');
  }

  /** A log's Wal options checked as Wal.open checks them, with messages that name the log. */
  #checkedWalOptionsFor(topic: string, partition: number): ResolvedWalOptions {
    const dir = join(this.dir, topic, String(partition));
    return resolveWalOptions({ ...this.#walOptionsFor(topic, partition), dir }, { action: `open log ${logKey(topic, partition)}` });
  }

  /** The Wal options of a log (defaults, then its overrides), without the manager's own wiring. */
  #walOptionsFor(topic: string, partition: number): Omit<WalOptions, 'dir'> {
    const walOverrides: Record<string, unknown> = { ...this.#overridesFor(topic, partition) };
    delete walOverrides['retention'];
    return { ...this.#walDefaults, ...walOverrides };
  }

  /** The entry of a checked topic and partition, created (as a new, not yet existing log) when missing. */
  #entry(topic: string, partition: number, action: string): LogEntry {
    let partitions = this.#topics.get(topic);
    if (partitions === undefined) {
      // Only checked names are ever keys, so a hit needs no check.
      checkTopicName(topic, action);
      checkPartition(partition, this.maxPartitions, action);
      partitions = new Map();
      this.#topics.set(topic, partitions);
    }
    checkPartition(partition, this.maxPartitions, action);
    let entry = partitions.get(partition);
    if (entry === undefined) {
      // Consumers hear of it once its log exists (#openWal); an open that
      // fails takes it out again, so a refused log leaves no partition behind.
      entry = new LogEntry(topic, partition);
      entry.isNew = true;
      partitions.set(partition, entry);
    }
    return entry;
  }

  /** A new partition whose log could not be created: as if it had never been named. */
  #dropNewEntry(entry: LogEntry): void {
    const partitions = this.#topics.get(entry.topic);
    if (partitions?.get(entry.partition) !== entry) return;
    partitions.delete(entry.partition);
    if (partitions.size === 0) this.#topics.delete(entry.topic);
  }

  async #openWal(entry: LogEntry): Promise<Wal> {
    try {
      const wal = await this.#openWalOf(entry);
      if (entry.isNew) {
        entry.isNew = false;
        for (const listener of this.#partitionListeners) listener(entry.topic, entry.partition);
      }
      return wal;
    } catch (error) {
      if (entry.isNew) this.#dropNewEntry(entry);
      throw error;
    }
  }

  async #openWalOf(entry: LogEntry): Promise<Wal> {
    const walOptions = this.#walOptionsFor(entry.topic, entry.partition);
    // Before Wal.open, whose messages do not name the log (as an append's, #checkFirstRecords).
    this.#checkedWalOptionsFor(entry.topic, entry.partition);
    const fsync = walOptions.fsync;
    const journaled = this.#syncStream === 'shared' && (fsync === undefined || fsync === 'always');
    entry.journaled = journaled;
    const wal = await Wal.open({
      ...walOptions,
      dir: join(this.dir, entry.topic, String(entry.partition)),
      fileCache: this.#fileCache,
      // A Wal from mgr.log() may be closed by the LRU of open logs; the way back is the manager's.
      closedRemedy: 'get it again with mgr.log() or mgr.withLog() (the manager closes idle logs beyond maxOpenLogs, and all of them on close)',
      managerOwned: MANAGER_OWNED,
      ...(journaled ? { journal: await this.#sharedJournal() } : {}),
    });
    if (wal.recovery.created || !wal.recovery.clean) {
      // A log created or recovered by its open has synced its own folder's
      // name into the topic folder; the topic folder's name lives in the
      // manager folder, and a process killed after creating it may have
      // left it unsynced (Wal.open only syncs the folders it creates itself).
      try {
        await this.#fileSystem.syncDir(this.dir);
      } catch (error) {
        await wal.close().catch(() => {});
        throw error;
      }
    }
    return wal;
  }

  /** Opens the shared journal once, when the first log under 'always' opens (a failed open is retried by the next). */
  #sharedJournal(): Promise<SharedJournal> {
    if (this.#journal === null) {
      const pool = this.#pool;
      const journalDir = join(this.dir, MANAGER_FOLDER_NAME, JOURNAL_FOLDER_NAME);
      const opening = (async () => {
        await this.#fileSystem.mkdir(journalDir);
        return SharedJournal.open({
          fileSystem: this.#fileSystem,
          managerDir: this.dir,
          journalDir,
          logger: this.#logger,
          clock: this.#clock,
          checkpointBytes: this.#journalCheckpointBytes,
          host: { syncLogFiles: () => pool.syncAll((wal) => wal.syncFiles()) },
        });
      })();
      this.#journal = opening;
      opening.catch(() => {
        if (this.#journal === opening) this.#journal = null;
      });
    }
    return this.#journal;
  }

  /** The caller's per-log overrides, checked (they may not move the log or replace the shared cache). */
  #overridesFor(topic: string, partition: number): ManagedLogOptions {
    if (this.#logOptions === undefined) return {};
    const overrides: unknown = this.#logOptions(topic, partition);
    if (overrides === undefined) return {};
    // An async logOptions would be read as "no overrides": the log would open with the defaults.
    if (typeof overrides === 'object' && overrides !== null && typeof (overrides as { then?: unknown }).then === 'function') {
      throw new InvalidArgumentError(`Cannot open log ${logKey(topic, partition)}: logOptions returned a Promise; it must return the options synchronously`);
    }
    if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
      throw new InvalidArgumentError(`Cannot open log ${logKey(topic, partition)}: logOptions returned ${describe(overrides)}, not an object`);
    }
    // The manager's own wiring of its logs is not the user's to set.
    for (const key of ['dir', 'fileCache', 'maxOpenFiles', 'journal', 'closedRemedy', 'managerOwned']) {
      if (key in overrides) {
        throw new InvalidArgumentError(`Cannot open log ${logKey(topic, partition)}: logOptions may not set "${key}"`);
      }
    }
    // A misspelt key names the options logOptions may set, not those of Wal.open.
    checkOptionKeys(overrides, MANAGED_LOG_OPTION_KEYS, `open log ${logKey(topic, partition)} (logOptions)`);
    checkRetentionPolicy((overrides as ManagedLogOptions).retention, `open log ${logKey(topic, partition)}`);
    return overrides as ManagedLogOptions;
  }

  #retentionFor(topic: string, partition: number): RetentionPolicy | undefined {
    return this.#overridesFor(topic, partition).retention ?? this.#retentionDefault;
  }

  /**
   * Iterates one log, pinned in the pool. Names are checked now, the log is
   * looked up when iteration starts. A read (`readOptions` given) of a
   * partition that does not exist creates nothing: it answers as an empty
   * log does. A tail creates the log, like an append, so that it can wait
   * for records; a tail from an offset an empty log cannot have creates
   * nothing and fails as a tail of an empty log would.
   */
  #leased<T>(
    topic: string,
    partition: number,
    action: string,
    resumable: Resumable<T>,
    missing: WhenMissing,
  ): AsyncGenerator<T, void, undefined> {
    checkTopicName(topic, action);
    checkPartition(partition, this.maxPartitions, action);
    return this.#iterateLeased(topic, partition, action, resumable, missing);
  }

  async *#iterateLeased<T>(
    topic: string,
    partition: number,
    action: string,
    resumable: Resumable<T>,
    missing: WhenMissing,
  ): AsyncGenerator<T, void, undefined> {
    this.#checkOpen(action);
    if (this.#topics.get(topic)?.get(partition) === undefined) {
      if ('read' in missing) {
        checkEmptyRead(missing.read);
        return;
      }
      if (missing.tailFrom !== undefined && missing.tailFrom > 0) throw new OffsetOutOfRangeError(action, missing.tailFrom, 0, 0, true);
      // A tail aborted before it began yields nothing, so it need not create its partition.
      if (missing.signal?.aborted === true) return;
    }
    const entry = this.#entry(topic, partition, action);
    // A read ends by itself and may wait for room; a tail follows the log until it is stopped.
    const mayWait = 'read' in missing;
    const signal = 'read' in missing ? undefined : missing.signal;
    let resumeFrom: number | null = null;
    for (;;) {
      const wal = await this.#pool.acquire(entry, mayWait);
      try {
        for await (const item of resumable.start(wal, resumeFrom)) {
          const next = resumable.nextAfter(item); // before the yield: a block is not valid after it
          yield item;
          resumeFrom = next;
        }
        if (!this.#closedUnder(wal, signal)) return;
      } catch (error) {
        if (!(error instanceof WalClosedError) || !this.#closedUnder(wal, signal)) throw error;
      } finally {
        this.#pool.release(entry);
      }
      // Closed by a caller of mgr.log(): go on, on the log opened again (resumable-reads.ts).
    }
  }

  /** Once per manager: a wait for room that timed out is a bound set too low for the logs held at once, and costs every such operation the wait. */
  #warnPoolFull(): void {
    if (this.#poolFullWarned) return;
    this.#poolFullWarned = true;
    this.#logger.warn(
      { dir: this.dir, maxOpenLogs: this.#pool.maxOpenLogs, openLogs: this.#pool.openCount, waitedMs: ROOM_WAIT_MS_MAX },
      'every open log was in use: an operation waited and then opened its log beyond maxOpenLogs; raise maxOpenLogs above the number of logs held at once (consumers, tails, withLog, reads)',
    );
  }

  /** `wal` closed while the manager stays open and the caller did not stop: the pool never closes a log in use, so its user did. */
  #closedUnder(wal: Wal, signal: AbortSignal | undefined): boolean {
    return this.#closing === null && (wal.state === 'closing' || wal.state === 'closed') && signal?.aborted !== true;
  }

  async #nextOffsetOf(topic: string, partition: number): Promise<number> {
    const entry = this.#topics.get(topic)?.get(partition);
    if (entry === undefined) return 0;
    const wal = await this.#pool.acquire(entry, true);
    try {
      return wal.nextOffset;
    } finally {
      this.#pool.release(entry);
    }
  }

  #consumerHost(): ConsumerHost {
    return {
      checkpoints: this.checkpoints,
      logger: this.#logger,
      maxPartitions: this.maxPartitions,
      partitions: (topic) => this.partitions(topic),
      acquire: async (topic, partition) => {
        this.#checkOpen('consume');
        const entry = this.#entry(topic, partition, 'consume');
        const wal = await this.#pool.acquire(entry);
        return { wal, release: () => this.#pool.release(entry) };
      },
      onNewPartition: (listener) => {
        this.#partitionListeners.add(listener);
        return () => this.#partitionListeners.delete(listener);
      },
      started: (consumer) => this.#consumers.add(consumer),
      closed: (consumer) => this.#consumers.delete(consumer),
      checkOpen: (action) => this.#checkOpen(action),
    };
  }

  #startRetentionTimer(intervalMs: number): void {
    if (intervalMs === 0) return;
    this.#retentionTimer = setInterval(() => {
      if (this.#retentionRun !== null || this.#closing !== null) return;
      this.enforceRetention().catch((error: unknown) => {
        // A pass cut short by close() is no failure.
        if (this.#closing === null) this.#logger.error({ dir: this.dir, err: error }, 'retention failed');
      });
    }, intervalMs);
    // Retention alone must not keep a process alive.
    this.#retentionTimer.unref();
  }

  async #runRetention(): Promise<RetentionReport> {
    let logCount = 0;
    let deletedSegmentCount = 0;
    const failures: RetentionFailure[] = [];
    for (const [topic, partitions] of this.#topics) {
      for (const [partition, entry] of partitions) {
        // A report of the logs before the close would read as a whole pass.
        if (this.#closing !== null) throw managerClosedError('enforce retention');
        const policy = this.#retentionFor(topic, partition);
        if (policy === undefined || entry.isNew) continue;
        // One log that cannot be trimmed (failed, or damaged so it cannot
        // open) must not keep every log after it from being trimmed.
        let wal: Wal;
        try {
          wal = await this.#pool.acquire(entry, true);
        } catch (error) {
          this.#retentionFailed(failures, topic, partition, error);
          continue;
        }
        try {
          const enforce = (): Promise<number> => {
            // Read when the lock is held: a commit that lowered the checkpoint has landed, and none lands until the segments are gone.
            const guardOffset = guardOffsetFor(policy.checkpoint, this.#checkpointOffsets(topic, partition));
            return enforceLogRetention(wal, policy, guardOffset, this.#clock.wallMs());
          };
          deletedSegmentCount += policy.checkpoint === undefined ? await enforce() : await this.#guardLockFor(logKey(topic, partition)).exclusive(enforce);
          logCount += 1;
        } catch (error) {
          this.#retentionFailed(failures, topic, partition, error);
        } finally {
          this.#pool.release(entry);
        }
      }
    }
    return { logCount, deletedSegmentCount, failures };
  }

  #retentionFailed(failures: RetentionFailure[], topic: string, partition: number, error: unknown): void {
    const failure = { topic, partition, error: error instanceof Error ? error : new Error(String(error)) };
    failures.push(failure);
    this.#logger.warn({ dir: this.dir, topic, partition, err: failure.error }, 'retention skipped a log');
  }

  #guardLockFor(key: string): SharedExclusiveLock {
    let lock = this.#guardLocks.get(key);
    if (lock === undefined) {
      lock = new SharedExclusiveLock();
      this.#guardLocks.set(key, lock);
    }
    return lock;
  }

  /**
   * Runs `commit` holding the guard locks of the logs it names, taken in
   * key order. Only one retention pass runs at a time and it holds one lock,
   * so commits waiting for each other's keys cannot form a cycle.
   */
  #sharingGuards(logKeys: readonly string[], commit: () => Promise<void>): Promise<void> {
    const keys = [...new Set(logKeys)].sort();
    const hold = (index: number): Promise<void> => {
      const key = keys[index];
      return key === undefined ? commit() : this.#guardLockFor(key).shared(() => hold(index + 1));
    };
    return hold(0);
  }

  /**
   * What each checkpoint that follows `topic` needs of one of its logs: its
   * offset for the log, or 0 when it names other partitions of the topic but
   * not this one (a consumer resuming from it starts this partition at its
   * earliest record). Checkpoints that name nothing of the topic are left out.
   */
  #checkpointOffsets(topic: string, partition: number): Map<string, number> {
    const key = logKey(topic, partition);
    const offsets = new Map<string, number>();
    for (const name of this.checkpoints.list()) {
      const checkpoint = this.checkpoints.get(name);
      if (checkpoint === undefined) continue;
      const offset = checkpoint[key];
      if (offset !== undefined) offsets.set(name, offset);
      else if (topicsOf(checkpoint).has(topic)) offsets.set(name, 0);
    }
    return offsets;
  }

  async #close(): Promise<void> {
    if (this.#retentionTimer !== null) clearInterval(this.#retentionTimer);
    this.#retentionTimer = null;
    for (const consumer of [...this.#consumers]) await consumer.close().catch(() => {});
    await this.#retentionRun?.catch(() => {});
    try {
      await this.checkpoints.close();
      let logsClosed = false;
      try {
        await this.#pool.closeAll();
        logsClosed = this.#pool.failedCloseCount === 0;
      } finally {
        // Only when every log closed cleanly do their files hold everything the journal does.
        const journal = await this.#journal?.catch(() => null);
        await journal?.close(logsClosed);
      }
    } finally {
      await this.#fileCache.closeAll();
      await releaseLock(this.#fileSystem, this.#metaDir).catch(() => {});
    }
  }
}

interface ResolvedManagerOptions {
  readonly dir: string;
  readonly maxPartitions: number;
  readonly maxOpenLogs: number;
  readonly maxOpenFiles: number;
  readonly retentionIntervalMs: number;
  readonly syncStream: SyncStream;
  readonly journalCheckpointBytes: number;
  readonly fileSystem: FileSystem;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly walDefaults: Omit<WalOptions, 'dir'>;
  readonly retentionDefault: RetentionPolicy | undefined;
  readonly logOptions: ((topic: string, partition: number) => ManagedLogOptions) | undefined;
}

/** How an iteration of a partition that does not exist answers: a read as an empty log; a tail from `tailFrom`. */
type WhenMissing = { readonly read: ReadOptions } | { readonly tailFrom: number | undefined; readonly signal: AbortSignal | undefined };

/** Logs a warning when the bounds on open logs and files can take more descriptors than the process may open. */
function warnIfDescriptorsShort(resolved: ResolvedManagerOptions): void {
  const limit = openFilesSoftLimit();
  const needed = descriptorsNeeded(resolved.maxOpenLogs, resolved.maxOpenFiles);
  if (limit === null || needed <= limit) return;
  resolved.logger.warn(
    { dir: resolved.dir, maxOpenLogs: resolved.maxOpenLogs, maxOpenFiles: resolved.maxOpenFiles, descriptorsNeeded: needed, openFilesLimit: limit },
    `the open-files limit (${limit}) is below the ${needed} descriptors this manager may hold at once; raise ulimit -n or lower maxOpenLogs, or a log that cannot open a file will stop`,
  );
}

/** Checks every option before anything touches the disk. */
function resolveManagerOptions(options: unknown): ResolvedManagerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`Cannot open manager: options must be an object, got ${describe(options)}`);
  }
  const raw = options as Record<string, unknown>;
  const walDefaults: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) if (!MANAGER_ONLY_OPTIONS.has(key)) walDefaults[key] = value;
  // The Wal's own validation names unknown or bad options, and checks `dir`.
  const walResolved = resolveWalOptions({ ...walDefaults, dir: raw['dir'] }, { action: 'open manager', alsoKnown: MANAGER_ONLY_OPTIONS });
  const syncStream = raw['syncStream'] ?? 'shared';
  if (syncStream !== 'shared' && syncStream !== 'per-log') {
    throw new InvalidArgumentError(`Cannot open manager: option "syncStream" must be 'shared' or 'per-log', got ${describe(syncStream)}`);
  }
  const logOptions = raw['logOptions'];
  if (logOptions !== undefined && typeof logOptions !== 'function') {
    throw new InvalidArgumentError(`Cannot open manager: option "logOptions" must be a function, got ${describe(logOptions)}`);
  }
  return {
    dir: walResolved.dir,
    maxPartitions: integerOption(raw, 'maxPartitions', PARTITIONS_DEFAULT_MAX, 1, PARTITIONS_LIMIT),
    maxOpenLogs: integerOption(raw, 'maxOpenLogs', OPEN_LOGS_DEFAULT_MAX, 1, OPEN_LOGS_LIMIT),
    maxOpenFiles: integerOption(raw, 'maxOpenFiles', SHARED_OPEN_FILES_DEFAULT_MAX, 1, OPEN_FILES_MAX),
    retentionIntervalMs: integerOption(raw, 'retentionIntervalMs', RETENTION_INTERVAL_MS_DEFAULT, 0, 2 ** 31 - 1),
    syncStream,
    journalCheckpointBytes: integerOption(raw, 'journalCheckpointBytes', JOURNAL_CHECKPOINT_BYTES_DEFAULT, 1, Number.MAX_SAFE_INTEGER),
    fileSystem: walResolved.fileSystem,
    logger: walResolved.logger,
    clock: walResolved.clock,
    walDefaults: { ...walDefaults, fileSystem: walResolved.fileSystem } as Omit<WalOptions, 'dir'>,
    retentionDefault: checkRetentionPolicy(raw['retention'], 'open manager'),
    logOptions: logOptions as ResolvedManagerOptions['logOptions'],
  };
}

function integerOption(raw: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const value = raw[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`Cannot open manager: option "${name}" must be an integer in [${min}, ${max}], got ${describe(value)}`);
  }
  return value;
}

/**
 * Refuses a folder where a topic folder should be that is a log's own (a
 * Wal opened on its own in `dir/<name>`): opening the manager would strand
 * it, visible to neither API, and an append to that topic would make
 * partition folders among its segments.
 */
async function refuseLogsAsTopics(fileSystem: FileSystem, dir: string, names: readonly string[]): Promise<void> {
  const topics = names.filter((name) => name !== MANAGER_FOLDER_NAME && isValidName(name));
  const listings = await Promise.all(
    topics.map(async (topic) => {
      try {
        return await fileSystem.readdir(join(dir, topic));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return []; // a file, not a topic folder
        throw error;
      }
    }),
  );
  topics.forEach((topic, index) => {
    const owner = folderOwner(listings[index] ?? []);
    if (owner?.kind !== 'log') return;
    throw new InvalidArgumentError(
      `Cannot open manager in ${dir}: ${join(dir, topic)} is a log's own folder (it holds ${owner.entry}), not a topic folder of partition folders; open that log with Wal.open(), or move it out of ${dir}`,
    );
  });
}

/** Finds `dir/<topic>/<partition>/` folders; anything else in `dir` is left alone. */
async function scanTopics(
  fileSystem: FileSystem,
  dir: string,
  maxPartitions: number,
  logger: Logger,
): Promise<Map<string, Map<number, LogEntry>>> {
  const topics = new Map<string, Map<number, LogEntry>>();
  for (const topic of await fileSystem.readdir(dir)) {
    if (!isValidName(topic)) continue;
    let names: string[];
    try {
      names = await fileSystem.readdir(join(dir, topic));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') continue; // a file, not a topic folder
      throw error;
    }
    const partitions = new Map<number, LogEntry>();
    for (const name of names) {
      const partition = parsePartitionFolder(name);
      if (partition === null) {
        // A number not written the canonical way ('007', '-1'): most likely a
        // partition folder renamed by hand, whose records the manager cannot reach.
        if (/^[-+]?\d+$/.test(name)) logger.warn({ dir, topic, folder: name }, 'folder named like a partition ignored: partitions are folders named 0, 1, 2, ... (no sign, no leading zero)');
        continue;
      }
      if (partition >= maxPartitions) {
        logger.warn({ dir, topic, partition, maxPartitions }, 'partition folder beyond maxPartitions ignored');
        continue;
      }
      partitions.set(partition, new LogEntry(topic, partition));
    }
    if (partitions.size > 0) topics.set(topic, partitions);
  }
  return topics;
}
