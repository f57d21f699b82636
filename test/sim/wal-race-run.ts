/**
 * Runs one Wal race script (wal-race-script.ts) on a real folder: starts
 * each operation after its delay without awaiting the earlier ones,
 * checks what can be checked as results arrive, then waits for everything
 * (bounded: a hang is a problem), closes, reopens and checks the log
 * against the ledger (race-ledger.ts). Returns the problems found, each
 * naming its operation as `#<step> <kind> gen<opens so far>`.
 */
import { Wal } from '../../src/log/wal.js';
import type { WalRecord } from '../../src/log/wal.js';
import type { RecordBlock } from '../../src/log/record-block.js';
import type { WalOptions } from '../../src/log/options.js';
import type { FileSystem } from '../../src/io/file-system.js';
import { WalError } from '../../src/errors.js';
import type { WalErrorCode } from '../../src/errors.js';
import { deadline } from './hang-deadline.js';
import { ioOrderFileSystem } from './io-order.js';
import { RaceLedger } from './race-ledger.js';
import { recordId } from './tagged-records.js';
import { releaseScheduled } from './scheduled-completions.js';
import { waitFor } from './start-delays.js';
import { RACE_RECORD_BYTES_MAX } from './wal-race-script.js';
import type { WalRaceOp, WalRaceScript } from './wal-race-script.js';


/** Counts of what a run did, so a summary can show the runs exercised something. */
export interface WalRaceTally {
  acknowledgedRecords: number;
  syncsResolved: number;
  recordsObserved: number;
  reopens: number;
}

export function emptyWalRaceTally(): WalRaceTally {
  return { acknowledgedRecords: 0, syncsResolved: 0, recordsObserved: 0, reopens: 0 };
}

export interface WalRaceOutcome {
  readonly problems: readonly string[];
  readonly tally: WalRaceTally;
}

/** Offsets of one log as sampled last, to check they only move forward. */
interface OffsetSample {
  readonly wal: Wal;
  readonly first: number;
  readonly next: number;
  readonly durable: number;
}

const CLOSED: readonly WalErrorCode[] = ['WAL_CLOSED'];
const CLOSED_OR_RANGE: readonly WalErrorCode[] = ['WAL_CLOSED', 'OFFSET_OUT_OF_RANGE'];

/**
 * @param dir a folder that does not exist yet
 * @param hangMs how long any one operation (and the final close) may take before it counts as hung
 */
export async function runWalRace(script: WalRaceScript, dir: string, hangMs: number): Promise<WalRaceOutcome> {
  const ledger = new RaceLedger();
  const tally = emptyWalRaceTally();
  const driver = script.ioOrder.kind === 'scheduled' ? releaseScheduled(script.ioOrder.scheduler) : null;
  try {
    await drive(script, dir, hangMs, ledger, tally);
  } finally {
    await driver?.stop();
  }
  if (ledger.problems.length === 0) {
    // Reopened on the bare disk: what any later process would find.
    const wal = await Wal.open(walOptions(script, dir, undefined));
    try {
      await ledger.checkReopened(wal);
    } finally {
      await wal.close();
    }
  }
  tally.acknowledgedRecords = ledger.acknowledgedCount;
  return { problems: ledger.problems, tally };
}

function walOptions(script: WalRaceScript, dir: string, fileSystem: FileSystem | undefined): WalOptions {
  return {
    dir,
    fsync: script.fsync,
    segmentBytes: script.segmentBytes,
    maxRecordBytes: RACE_RECORD_BYTES_MAX,
    ...(script.segmentMaxRecords === undefined ? {} : { segmentMaxRecords: script.segmentMaxRecords }),
    ...(script.maxPendingBytes === undefined ? {} : { maxPendingBytes: script.maxPendingBytes }),
    ...(script.preallocate === undefined ? {} : { preallocate: script.preallocate }),
    ...(script.blockingWrites === undefined ? {} : { blockingWrites: script.blockingWrites }),
    ...(fileSystem === undefined ? {} : { fileSystem }),
  };
}

/** `fraction` of the way from firstOffset to the last record (or to nextOffset when `endIncluded`); undefined when that range is empty. */
function offsetAt(wal: Wal, fraction: number, endIncluded: boolean): number | undefined {
  const span = wal.nextOffset - wal.firstOffset + (endIncluded ? 1 : 0);
  if (span <= 0) return undefined;
  return wal.firstOffset + Math.min(span - 1, Math.floor(fraction * span));
}

async function drive(script: WalRaceScript, dir: string, hangMs: number, ledger: RaceLedger, tally: WalRaceTally): Promise<void> {
  const fileSystem = ioOrderFileSystem(script.ioOrder);
  const open = (): Promise<Wal> => Wal.open(walOptions(script, dir, fileSystem));
  let wal = await open();
  let generation = 0;
  let lastSample: OffsetSample | null = null;
  const hung: string[] = [];
  const running: Array<Promise<unknown>> = [];

  /** Checks offsets against each other and, on the same log, against the last sample. */
  const sample = (label: string, of: Wal): OffsetSample => {
    const now = { wal: of, first: of.firstOffset, next: of.nextOffset, durable: of.durableOffset };
    if (now.durable > now.next) ledger.problem(label, `durableOffset ${now.durable} > nextOffset ${now.next}`);
    if (now.first > now.next) ledger.problem(label, `firstOffset ${now.first} > nextOffset ${now.next}`);
    if (lastSample !== null && lastSample.wal === of) {
      for (const name of ['first', 'next', 'durable'] as const) {
        if (now[name] < lastSample[name]) ledger.problem(label, `${name}Offset went back from ${lastSample[name]} to ${now[name]}`);
      }
    }
    lastSample = now;
    return now;
  };

  /** Waits for `work` in the background; a rejection must be a WalError with one of the `allowed` codes. */
  const track = (label: string, work: Promise<unknown>, allowed: readonly WalErrorCode[]): void => {
    const settled = work.then(
      () => undefined,
      (error: unknown) => {
        if (!(error instanceof WalError)) ledger.problem(label, `rejected with an untyped error: ${error instanceof Error ? error.stack : String(error)}`);
        else if (!allowed.includes(error.code)) ledger.problem(label, `rejected with ${error.code}: ${error.message}`);
      },
    );
    running.push(
      deadline(settled, hangMs).then((outcome) => {
        if (outcome === 'hung') hung.push(label);
      }),
    );
  };

  /** A read or tail call that throws at once: allowed only with a typed, listed code. */
  const refused = (label: string, error: unknown): void => {
    if (!(error instanceof WalError)) ledger.problem(label, `threw an untyped error: ${String(error)}`);
    else if (!CLOSED_OR_RANGE.includes(error.code)) ledger.problem(label, `threw ${error.code}: ${error.message}`);
  };

  /**
   * Yielded offsets must rise by one from `from`, be acknowledged when
   * yielded, and (for a read) lie below the nextOffset of its call.
   */
  const checkYielded = (label: string, of: Wal, offsets: number[], offset: number, data: Uint8Array, from: number | undefined, end: number | null): void => {
    const previous = offsets[offsets.length - 1];
    const expected = previous === undefined ? from : previous + 1;
    if (expected !== undefined && offset !== expected) ledger.problem(label, `yielded offset ${offset} where ${expected} was due`);
    if (offset >= of.nextOffset) ledger.problem(label, `yielded offset ${offset} (record ${recordId(data)}) while nextOffset was ${of.nextOffset}`);
    if (end !== null && offset >= end) ledger.problem(label, `yielded offset ${offset}, past the end ${end} (nextOffset at the call)`);
    offsets.push(offset);
    ledger.observed(label, offset, data);
    tally.recordsObserved += 1;
  };

  const start = (label: string, op: WalRaceOp, of: Wal): Promise<void> | null => {
    switch (op.kind) {
      case 'append': {
        const { id, data } = ledger.newRecord(op.sizeBytes, generation);
        const work = of.append(data).then(
          ({ offset }) => {
            ledger.acknowledged(label, id, offset);
            if (script.fsync === 'always' && of.durableOffset <= offset) ledger.problem(label, `acknowledged ${offset} under 'always' with durableOffset ${of.durableOffset}`);
            if (of.nextOffset <= offset) ledger.problem(label, `acknowledged ${offset} with nextOffset ${of.nextOffset}`);
            sample(label, of);
          },
          (error: unknown) => {
            ledger.rejected(id);
            throw error;
          },
        );
        track(label, work, CLOSED);
        return null;
      }
      case 'appendBatch': {
        const records = op.sizesBytes.map((sizeBytes) => ledger.newRecord(sizeBytes, generation));
        const ids = records.map((record) => record.id);
        const work = of.appendBatch(records.map((record) => record.data)).then(
          (offsets) => {
            if (offsets.length !== ids.length) ledger.problem(label, `${offsets.length} offsets for ${ids.length} records`);
            offsets.forEach((offset, index) => {
              if (index > 0 && offset !== (offsets[index - 1] ?? NaN) + 1) ledger.problem(label, `offsets ${offsets.join(', ')} are not consecutive`);
              ledger.acknowledged(label, ids[index] ?? -1, offset);
            });
            const last = offsets[offsets.length - 1] ?? -1;
            if (script.fsync === 'always' && of.durableOffset <= last) ledger.problem(label, `acknowledged up to ${last} under 'always' with durableOffset ${of.durableOffset}`);
            ledger.batchAcknowledged(ids);
            sample(label, of);
          },
          (error: unknown) => {
            ids.forEach((id) => ledger.rejected(id));
            throw error;
          },
        );
        track(label, work, CLOSED);
        return null;
      }
      case 'sync': {
        const nextAtCall = of.nextOffset;
        const idsCalledBefore = ledger.idsCalled;
        const syncGeneration = generation;
        const work = of.sync().then(() => {
          const durable = of.durableOffset;
          if (durable < nextAtCall) ledger.problem(label, `resolved with durableOffset ${durable} below the nextOffset ${nextAtCall} of its call`);
          ledger.syncResolved(label, syncGeneration, idsCalledBefore, durable);
          tally.syncsResolved += 1;
        });
        track(label, work, CLOSED);
        return null;
      }
      case 'truncateBefore': {
        const offset = offsetAt(of, op.at, true) ?? of.nextOffset;
        ledger.truncationIssued(offset);
        const work = of.truncateBefore(offset).then(() => {
          if (of.state === 'open') ledger.checkFirstOffset(`${label}(${offset})`, of.firstOffset);
        });
        track(`${label}(${offset})`, work, CLOSED);
        return null;
      }
      case 'read':
      case 'readBlocks': {
        const from = offsetAt(of, op.from, false);
        const toAtCall = of.nextOffset;
        const options = from === undefined ? {} : { from };
        // Both throw at once (closed log, offset out of range) rather than on the first step.
        let records: { readonly blocks: false; readonly of: AsyncIterable<WalRecord> } | { readonly blocks: true; readonly of: AsyncIterable<RecordBlock> };
        try {
          records = op.kind === 'read' ? { blocks: false, of: of.read(options) } : { blocks: true, of: of.readBlocks(options) };
        } catch (error) {
          refused(label, error);
          return null;
        }
        const work = (async () => {
          const offsets: number[] = [];
          let steps = 0;
          if (!records.blocks) {
            for await (const record of records.of) {
              checkYielded(label, of, offsets, record.offset, record.data, from, toAtCall);
              steps += 1;
              if (op.kind === 'read' && op.slowConsumer) await new Promise((resolve) => setImmediate(resolve));
              if (op.take !== null && steps >= op.take) break;
            }
          } else {
            for await (const block of records.of) {
              for (let index = 0; index < block.count; index++) checkYielded(label, of, offsets, block.firstOffset + index, block.data(index), from, toAtCall);
              steps += 1;
              if (op.take !== null && steps >= op.take) break;
            }
          }
          const last = offsets[offsets.length - 1];
          if (op.take === null && last !== undefined && last !== toAtCall - 1) ledger.problem(label, `read without a limit ended at offset ${last}, but the nextOffset ${toAtCall} of its call made ${toAtCall - 1} the last`);
        })();
        track(label, work, CLOSED_OR_RANGE);
        return null;
      }
      case 'tail': {
        const from = offsetAt(of, op.from, true);
        const controller = new AbortController();
        if (op.abortedBeforeStart) controller.abort();
        let records: AsyncIterable<WalRecord>;
        try {
          records = of.tail(from === undefined ? { signal: controller.signal } : { from, signal: controller.signal });
        } catch (error) {
          refused(label, error);
          return null;
        }
        const timer = setTimeout(() => controller.abort(), op.abortAfterMs);
        const work = (async () => {
          const offsets: number[] = [];
          try {
            for await (const record of records) {
              checkYielded(label, of, offsets, record.offset, record.data, from, null);
              if (offsets.length >= op.abortAfterRecords) controller.abort();
            }
          } finally {
            clearTimeout(timer);
          }
        })();
        track(label, work, CLOSED_OR_RANGE);
        return null;
      }
      case 'sampleOffsets':
        sample(label, of);
        return null;
      case 'close':
        track(label, of.close(), []);
        if (op.twice) track(`${label}(again)`, of.close(), []);
        return null;
      case 'reopen': {
        const work = (async () => {
          const before = sample(`${label}(before close)`, of);
          await of.close();
          const reopened = await open();
          if (reopened.nextOffset < before.next) ledger.problem(label, `reopened with nextOffset ${reopened.nextOffset} below ${before.next}`);
          wal = reopened;
          generation += 1;
          lastSample = null;
          tally.reopens += 1;
        })();
        track(label, work, []);
        // Later operations go to the new log: wait for it.
        return work.catch(() => {});
      }
    }
  };

  for (const [step, { startDelay, op }] of script.steps.entries()) {
    await waitFor(startDelay);
    const label = `#${step} ${op.kind} gen${generation}`;
    try {
      const awaited = start(label, op, wal);
      if (awaited !== null && (await deadline(awaited, hangMs)) === 'hung') hung.push(label);
    } catch (error) {
      ledger.problem(label, `threw synchronously: ${error instanceof Error ? error.stack : String(error)}`);
    }
    if (hung.length > 0) break;
  }
  // Every operation started, each bounded by its own deadline.
  for (const settled of running) await settled;
  if (hung.length === 0) {
    sample('end', wal);
    const closed = await deadline(wal.close().then(() => null, (error: unknown) => error), hangMs);
    if (closed === 'hung') hung.push('final close');
    else if (closed !== null) ledger.problem('final close', `rejected: ${String(closed)}`);
  }
  if (hung.length > 0) ledger.problem('hang', `not settled within ${hangMs} ms: ${hung.join(', ')}`);
}
