/**
 * Replay of the manager's shared journal (see shared-journal.ts): before any
 * partition log opens, every write the journal holds is written again into
 * its segment file, the files are synced, and the journal is removed. A
 * write is the same bytes at the same position, so replaying it twice, or
 * replaying writes the file already holds, changes nothing.
 *
 * Three cases need care:
 * - A segment whose rename (or creation) a power cut lost: its journaled
 *   writes start at position 0 with the segment header, so the file is
 *   created again. A prepared temp file left behind is removed by the log's
 *   own recovery, which sees the segment exists.
 * - A segment that retention deleted: it lies below the log's oldest
 *   segment (retention deletes oldest first), and its writes are skipped.
 * - A log's first segment, created at open, whose name a power cut lost:
 *   the folder is synced before anything in it is acknowledged, so its
 *   journaled writes were never acknowledged and are skipped.
 */
import { join } from 'node:path';
import { CorruptionError, WalError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import type { FileHandle, FileSystem } from '../io/file-system.js';
import { listFolderOrNull } from '../io/list-or-create-folder.js';
import { writeFully } from '../io/write-fully.js';
import { parseSegmentFileName, segmentFileName } from '../log/segment-name.js';
import { MANAGER_OWNED, Wal } from '../log/wal.js';
import type { Logger } from '../logger.js';
import { decodeJournalEntry } from './journal-entry.js';
import { parseLogKey, PARTITIONS_LIMIT } from './topic-name.js';

/** What a replay did (logged; returned for tests). */
export interface JournalReplaySummary {
  /** Journal records read. */
  readonly entryCount: number;
  /** Bytes written into segment files. */
  readonly replayedBytes: number;
  /** Segment files created because a power cut lost them. */
  readonly createdFileCount: number;
  /** Entries of segments that retention had deleted, or whose file a power cut lost before anything in it was acknowledged. */
  readonly skippedEntryCount: number;
  readonly logCount: number;
  readonly durationMs: number;
}

interface LogFolder {
  readonly dir: string;
  readonly segmentNames: Set<string>;
  /** Base offset of the oldest segment on disk; null when there is none. */
  readonly oldestBase: number | null;
  created: boolean;
}

/**
 * Replays and removes the journal in `journalDir`, if there is one.
 * @returns what it did, or null when there was no journal
 */
export async function replayJournal(
  fileSystem: FileSystem,
  managerDir: string,
  journalDir: string,
  logger: Logger,
  clock: Clock,
): Promise<JournalReplaySummary | null> {
  try {
    return await replayEntries(fileSystem, managerDir, journalDir, logger, clock);
  } catch (error) {
    // The journal's own damage: a Wal's remedy (open with repair) is no
    // manager option, so name the one the manager has.
    if (!(error instanceof CorruptionError)) throw error;
    throw new CorruptionError(error.file, error.filePosition, error.reason, {
      action: "replay the manager's journal",
      remedy: `move the journal folder (${journalDir}) aside to open the manager without it; records acknowledged only through it since the partitions' last sync are then lost`,
    });
  }
}

async function replayEntries(
  fileSystem: FileSystem,
  managerDir: string,
  journalDir: string,
  logger: Logger,
  clock: Clock,
): Promise<JournalReplaySummary | null> {
  const startedMs = performance.now();
  const names = (await listFolderOrNull(fileSystem, journalDir)) ?? [];
  if (!names.some((name) => parseSegmentFileName(name) !== null)) {
    if (names.length > 0) await removeJournal(fileSystem, journalDir);
    return null;
  }
  const journal = await Wal.open({ dir: journalDir, fsync: 'always', fileSystem, logger, clock, preallocate: false, managerOwned: MANAGER_OWNED });
  const folders = new Map<string, LogFolder>();
  const handles = new Map<string, FileHandle>();
  let entryCount = 0;
  let replayedBytes = 0;
  let createdFileCount = 0;
  let skippedEntryCount = 0;
  try {
    if (journal.nextOffset > journal.firstOffset) {
      for await (const record of journal.read()) {
        entryCount += 1;
        const entry = decodeJournalEntry(record.data, `record ${record.offset} in ${journalDir}`);
        let folder = folders.get(entry.logKey);
        if (folder === undefined) {
          folder = await readLogFolder(fileSystem, logDirOf(managerDir, entry.logKey, `record ${record.offset} in ${journalDir}`));
          folders.set(entry.logKey, folder);
        }
        const name = segmentFileName(entry.segmentBaseOffset);
        const path = join(folder.dir, name);
        let handle = handles.get(path);
        if (handle === undefined) {
          if (!folder.segmentNames.has(name)) {
            const deletedByRetention = folder.oldestBase !== null && entry.segmentBaseOffset < folder.oldestBase;
            // A log's first segment is created at open; its name is synced
            // before the first write in it is acknowledged. Missing, it held
            // nothing acknowledged.
            const neverAcknowledged = entry.filePosition !== 0;
            if (deletedByRetention || neverAcknowledged) {
              skippedEntryCount += 1;
              continue;
            }
            folder.segmentNames.add(name);
            folder.created = true;
            createdFileCount += 1;
          }
          handle = await fileSystem.open(path, { write: true, create: true });
          handles.set(path, handle);
        }
        await writeFully(handle, entry.bytes, 0, entry.bytes.length, entry.filePosition);
        replayedBytes += entry.bytes.length;
      }
    }
    for (const handle of handles.values()) await handle.datasync();
    for (const folder of folders.values()) if (folder.created) await fileSystem.syncDir(folder.dir);
  } finally {
    await Promise.all([...handles.values()].map((handle) => handle.close().catch(() => {})));
    await journal.close();
  }
  // Every journaled write is durable in its own file now.
  await removeJournal(fileSystem, journalDir);
  const summary: JournalReplaySummary = {
    entryCount,
    replayedBytes,
    createdFileCount,
    skippedEntryCount,
    logCount: folders.size,
    durationMs: performance.now() - startedMs,
  };
  logger.info({ journal: journalDir, replay: summary }, 'replayed the shared journal');
  return summary;
}

/** Deletes the journal's files (oldest segment first) and syncs its folder. */
export async function removeJournal(fileSystem: FileSystem, journalDir: string): Promise<void> {
  const names = ((await listFolderOrNull(fileSystem, journalDir)) ?? []).sort();
  for (const name of names) await fileSystem.unlink(join(journalDir, name));
  if (names.length > 0) await fileSystem.syncDir(journalDir);
}

/** The folder a journal entry's key names; a key that is no log's is damage, not a bad argument. */
function logDirOf(managerDir: string, key: string, where: string): string {
  try {
    const { topic, partition } = parseLogKey(key, PARTITIONS_LIMIT, 'replay the journal');
    return join(managerDir, topic, String(partition));
  } catch {
    throw new WalError(
      'LOG_CORRUPT',
      `Cannot replay the manager's journal: ${where} names ${JSON.stringify(key)}, which is not a log; move the journal folder aside to open without it`,
    );
  }
}

async function readLogFolder(fileSystem: FileSystem, dir: string): Promise<LogFolder> {
  const names = await listFolderOrNull(fileSystem, dir);
  if (names === null) {
    // The folder is synced into its parent before the log's first write, so it cannot be missing.
    throw new WalError(
      'LOG_CORRUPT',
      `Cannot replay the manager's journal: the log folder ${dir} is missing; restore it, or move the journal folder aside to open without it`,
    );
  }
  const segmentNames = new Set<string>();
  let oldestBase: number | null = null;
  for (const name of names) {
    const base = parseSegmentFileName(name);
    if (base === null) continue;
    segmentNames.add(name);
    if (oldestBase === null || base < oldestBase) oldestBase = base;
  }
  return { dir, segmentNames, oldestBase, created: false };
}
