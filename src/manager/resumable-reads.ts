/**
 * How a manager's read, scan or tail goes on when the Wal under it closes
 * while the manager stays open. The pool never closes a log in use, so that
 * is a caller of `mgr.log()` closing its Wal; the pool opens the log again on
 * the next use. The iteration then starts over on the new Wal from the offset
 * after the last item it handed out, within the bounds it fixed when it
 * began (a read's end, a tail's start), so the caller sees one unbroken
 * sequence. A tail used to end as if the manager had closed, and a read to
 * fail with a remedy (`mgr.log()`) that was not the reader's.
 */
import type { ReadOptions, RecordBlock, TailOptions, WalRecord } from '../log/wal.js';
import type { Wal } from '../log/wal.js';

export interface Resumable<T> {
  /**
   * The iteration on `wal`: the caller's own the first time; after a reopen,
   * from `resumeFrom` (the offset after the last item handed out), or from
   * where the first one began if it handed out nothing.
   */
  start(wal: Wal, resumeFrom: number | null): AsyncIterable<T>;
  /** The offset after `item`, where a resumed iteration starts. */
  nextAfter(item: T): number;
}

async function* nothing<T>(): AsyncGenerator<T, void, undefined> {}

/** A bounded read: its range is fixed when it begins (a `to` past the end stops at the end as of then), on every Wal it runs on. */
function bounded<T>(options: ReadOptions, read: (wal: Wal, options: ReadOptions) => AsyncIterable<T>, nextAfter: (item: T) => number): Resumable<T> {
  let range: { from: number; to: number } | null = null;
  return {
    start(wal, resumeFrom) {
      if (range === null) {
        // In the same turn as read() fixes them.
        range = { from: options.from ?? wal.firstOffset, to: Math.min(options.to ?? Number.POSITIVE_INFINITY, wal.nextOffset) };
        return read(wal, options);
      }
      const from = resumeFrom ?? range.from;
      return from >= range.to ? nothing() : read(wal, { from, to: range.to });
    },
    nextAfter,
  };
}

export function resumableRead(options: ReadOptions): Resumable<WalRecord> {
  return bounded(options, (wal, range) => wal.read(range), (record) => record.offset + 1);
}

export function resumableScan(options: ReadOptions): Resumable<RecordBlock> {
  return bounded(options, (wal, range) => wal.readBlocks(range), (block) => block.firstOffset + block.count);
}

/** A tail: its start is fixed when it begins (the log's end then, without `from`), so a reopen skips nothing. */
export function resumableTail(options: TailOptions): Resumable<WalRecord> {
  let begin: number | null = null;
  return {
    start(wal, resumeFrom) {
      if (begin === null) {
        begin = options.from ?? wal.nextOffset;
        return wal.tail(options);
      }
      return wal.tail({ ...options, from: resumeFrom ?? begin });
    },
    nextAfter: (record) => record.offset + 1,
  };
}
