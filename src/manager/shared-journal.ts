/**
 * The shared fsync stream of a WalManager under 'always' (docs/manager.md):
 * every partition log writes its groups into its own segment files without
 * syncing them and records the same bytes here; one group commit of this
 * journal (one O_DSYNC write) makes the groups of all partitions durable
 * together. After a power cut, {@link replayJournal} writes the journaled
 * bytes into the partition files again before any of them opens.
 *
 * The journal is itself a {@link Wal} (`~manager/journal/`). It only grows
 * until a checkpoint: once it holds `checkpointBytes` since the last one,
 * the manager syncs every open log's own files, and the journal segments
 * wholly before that moment are deleted.
 */
import { relative, sep } from 'node:path';
import { assert } from '../assert.js';
import { SEGMENT_SIZE_BYTES_MIN } from '../constants.js';
import type { Clock } from '../io/clock.js';
import type { FileSystem } from '../io/file-system.js';
import { MANAGER_OWNED, Wal } from '../log/wal.js';
import type { WriteJournal } from '../log/write-journal.js';
import type { Logger } from '../logger.js';
import { encodeJournalEntry } from './journal-entry.js';
import { removeJournal } from './journal-replay.js';

/** Journal bytes between checkpoints (syncs of every open log's files). */
export const JOURNAL_CHECKPOINT_BYTES_DEFAULT = 128 * 1024 * 1024;
/**
 * Largest journal segment. Checkpoints delete whole segments, so a segment
 * is at most a quarter of the checkpoint interval: the journal then holds
 * little more than `checkpointBytes`, plus what arrives while a checkpoint
 * runs (appends do not wait for it), between checkpoints.
 */
const JOURNAL_SEGMENT_BYTES_MAX = 32 * 1024 * 1024;
/** Journal records hold at most this many bytes of a write; larger writes go as an atomic batch of pieces. */
const JOURNAL_PIECE_BYTES_MAX = 4 * 1024 * 1024;
/** The partitions bound what is pending (each its own maxPendingBytes); the journal adds no second bound. */
const JOURNAL_PENDING_BYTES_MAX = 2 ** 31;

/** What the journal needs from its manager. */
export interface JournalHost {
  /** Makes every write acknowledged so far durable in the logs' own files (open logs synced, closing ones waited for). */
  syncLogFiles(): Promise<void>;
}

export interface SharedJournalInit {
  readonly fileSystem: FileSystem;
  /** The manager's folder: log keys are paths relative to it. */
  readonly managerDir: string;
  readonly journalDir: string;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly host: JournalHost;
  readonly checkpointBytes?: number;
}

export class SharedJournal implements WriteJournal {
  readonly #wal: Wal;
  readonly #init: SharedJournalInit;
  readonly #checkpointBytes: number;
  #bytesSinceCheckpoint = 0;
  #checkpointRun: Promise<void> | null = null;
  #checkpointCount = 0;
  readonly #keys = new Map<string, string>();

  private constructor(wal: Wal, init: SharedJournalInit) {
    this.#wal = wal;
    this.#init = init;
    this.#checkpointBytes = init.checkpointBytes ?? JOURNAL_CHECKPOINT_BYTES_DEFAULT;
  }

  /** Opens an empty journal (replay removed any earlier one). */
  static async open(init: SharedJournalInit): Promise<SharedJournal> {
    const wal = await Wal.open({
      dir: init.journalDir,
      fsync: 'always',
      fileSystem: init.fileSystem,
      logger: init.logger,
      clock: init.clock,
      segmentBytes: journalSegmentBytes(init.checkpointBytes ?? JOURNAL_CHECKPOINT_BYTES_DEFAULT),
      maxPendingBytes: JOURNAL_PENDING_BYTES_MAX,
      managerOwned: MANAGER_OWNED,
    });
    assert(wal.nextOffset === wal.firstOffset || wal.recovery.clean, 'the journal opens empty or clean');
    return new SharedJournal(wal, init);
  }

  /** Checkpoints completed so far. */
  get checkpointCount(): number {
    return this.#checkpointCount;
  }

  recordWrite(dir: string, segmentBaseOffset: number, filePosition: number, bytes: Uint8Array): Promise<void> {
    const key = this.#keyFor(dir);
    this.#bytesSinceCheckpoint += bytes.length;
    if (this.#bytesSinceCheckpoint >= this.#checkpointBytes && this.#checkpointRun === null) this.#startCheckpoint();
    if (bytes.length <= JOURNAL_PIECE_BYTES_MAX) {
      return this.#wal.append(encodeJournalEntry(key, segmentBaseOffset, filePosition, bytes)).then(ignore);
    }
    const pieces: Buffer[] = [];
    for (let start = 0; start < bytes.length; start += JOURNAL_PIECE_BYTES_MAX) {
      const end = Math.min(bytes.length, start + JOURNAL_PIECE_BYTES_MAX);
      pieces.push(encodeJournalEntry(key, segmentBaseOffset, filePosition + start, bytes.subarray(start, end)));
    }
    // One batch: after a crash the whole write is journaled or none of it.
    return this.#wal.appendBatch(pieces).then(ignore);
  }

  /** A log's key in journal entries: its folder relative to the manager's, worked out once per log (it showed in S1's profile). */
  #keyFor(dir: string): string {
    let key = this.#keys.get(dir);
    if (key === undefined) {
      key = relative(this.#init.managerDir, dir).split(sep).join('/');
      assert(!key.startsWith('..') && key.length > 0, 'journaled logs live in the manager folder');
      this.#keys.set(dir, key);
    }
    return key;
  }

  /** Runs a checkpoint now (tests; the journal starts its own as it grows). */
  async checkpoint(): Promise<void> {
    while (this.#checkpointRun !== null) await this.#checkpointRun;
    this.#startCheckpoint();
    await this.#checkpointRun;
  }

  /**
   * Closes the journal. With `logsSynced` (every log closed cleanly, so
   * their files hold everything) the journal is removed; otherwise it stays
   * for the next open to replay.
   */
  async close(logsSynced: boolean): Promise<void> {
    await this.#checkpointRun;
    await this.#wal.close();
    if (logsSynced) await removeJournal(this.#init.fileSystem, this.#init.journalDir);
  }

  #startCheckpoint(): void {
    this.#bytesSinceCheckpoint = 0;
    const run = this.#checkpoint()
      .catch((error: unknown) => {
        // The journal keeps every entry since the last good checkpoint, so a
        // failed one loses nothing; a failed log stays failed on its own.
        this.#init.logger.warn({ err: error }, 'journal checkpoint failed; the journal keeps its entries');
      })
      .finally(() => {
        this.#checkpointRun = null;
      });
    this.#checkpointRun = run;
  }

  async #checkpoint(): Promise<void> {
    // Acknowledged entries only: a log writes each group into its file on the
    // tick after journaling it, long before the journal's write completes
    // (and syncFiles waits for such a write anyway). Every entry below this
    // offset is in a file that the sync below covers.
    const coveredOffset = this.#wal.nextOffset;
    await this.#init.host.syncLogFiles();
    await this.#wal.truncateBefore(coveredOffset);
    this.#checkpointCount += 1;
    this.#init.logger.debug({ journal: this.#init.journalDir, coveredOffset, checkpointCount: this.#checkpointCount }, 'journal checkpoint');
  }
}

function ignore(): void {}

/** The journal's segment size for a checkpoint interval. */
function journalSegmentBytes(checkpointBytes: number): number {
  return Math.min(JOURNAL_SEGMENT_BYTES_MAX, Math.max(SEGMENT_SIZE_BYTES_MIN, Math.floor(checkpointBytes / 4)));
}
