/**
 * A journal that makes a log's file writes durable for it: the shared fsync
 * stream of a WalManager (docs/manager.md). A Wal given one writes its
 * segment files without O_DSYNC and acknowledges a group once the journal
 * holds the group's bytes durably; after a power cut the journal's owner
 * writes them again (a physical redo log) before the log is opened.
 *
 * The journal's owner must also make the log's own files durable before it
 * forgets their writes: {@link Wal.syncFiles} does that.
 */
export interface WriteJournal {
  /**
   * Records that `bytes` were written at `filePosition` of the segment that
   * starts at `segmentBaseOffset` in the log in `dir`.
   * @returns once the record is durable; rejects with the journal's failure
   */
  recordWrite(dir: string, segmentBaseOffset: number, filePosition: number, bytes: Uint8Array): Promise<void>;
}

/** True when `value` has the shape of a {@link WriteJournal}. */
export function isWriteJournal(value: unknown): value is WriteJournal {
  return typeof value === 'object' && value !== null && typeof (value as WriteJournal).recordWrite === 'function';
}
