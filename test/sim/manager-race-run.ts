/**
 * Runs one WalManager race script (manager-race-script.ts) on a real
 * folder: starts each operation after its delay without awaiting the
 * earlier ones, checks what can be checked as results arrive, then waits
 * for everything (bounded: a hang is a problem), closes, reopens the
 * manager on the bare disk and checks every log (race-log-books.ts), every
 * checkpoint (checkpoint-model.ts) and every firstOffset seen against what
 * retention may have deleted (retention-bound.ts). Returns the problems
 * found, each naming its operation as `#<step> <kind> <log> gen<opens so far>`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { WalError } from '../../src/errors.js';
import type { WalErrorCode } from '../../src/errors.js';
import type { FileSystem } from '../../src/io/file-system.js';
import type { Wal, WalRecord } from '../../src/log/wal.js';
import { WalManager } from '../../src/manager/wal-manager.js';
import type { WalManagerOptions } from '../../src/manager/wal-manager.js';
import type { RetentionPolicy } from '../../src/manager/retention.js';
import type { Consumer } from '../../src/manager/consumer.js';
import { CheckpointModel } from './checkpoint-model.js';
import type { CheckpointCall, CheckpointChange } from './checkpoint-model.js';
import { EventClock } from './event-clock.js';
import { deadline } from './hang-deadline.js';
import { ioOrderFileSystem } from './io-order.js';
import { RACE_CHECKPOINT_NAMES, RACE_GROUPS, RACE_TOPICS, retentionPolicyOf } from './manager-race-script.js';
import type { LogPick, ManagerRaceOp, ManagerRaceScript } from './manager-race-script.js';
import { LogBooks } from './race-log-books.js';
import type { LogBook } from './race-log-books.js';
import { RetentionBound } from './retention-bound.js';
import { releaseScheduled } from './scheduled-completions.js';
import { waitFor } from './start-delays.js';
import { recordId } from './tagged-records.js';

/** Tiny segments: the smallest the Wal takes, and rotation every few records besides. */
const SEGMENT_BYTES = 4096;

/** Counts of what a run did, so a summary can show the runs exercised something. */
export interface ManagerRaceTally {
  acknowledgedRecords: number;
  recordsObserved: number;
  recordsConsumed: number;
  commitsResolved: number;
  commitsRefused: number;
  segmentsDeleted: number;
  /** Commits that resolved while a Wal of their log was open at hand: retention must then leave what they protect. */
  protectedCommits: number;
  userCloses: number;
  reopens: number;
}

export function emptyManagerRaceTally(): ManagerRaceTally {
  return {
    acknowledgedRecords: 0,
    recordsObserved: 0,
    recordsConsumed: 0,
    commitsResolved: 0,
    commitsRefused: 0,
    segmentsDeleted: 0,
    protectedCommits: 0,
    userCloses: 0,
    reopens: 0,
  };
}

export interface ManagerRaceOutcome {
  readonly problems: readonly string[];
  readonly tally: ManagerRaceTally;
}

/**
 * A record a consumer handed out where `due` was next (its checkpoint, or
 * the record after the one before): only retention, deleting records
 * before it, may have moved it further; checked at the end.
 */
interface Resume {
  readonly label: string;
  readonly book: LogBook;
  /** An offset, or the group whose checkpoint a consumer started at `startedAt` read. */
  readonly due: number | { readonly group: string; readonly startedAt: number };
  readonly offset: number;
  readonly at: number;
  readonly what: string;
}

/** A firstOffset seen, checked at the end against what retention may have deleted by then. */
interface FirstOffsetSample {
  readonly label: string;
  readonly book: LogBook;
  readonly at: number;
  readonly firstOffset: number;
}

const CLOSED: readonly WalErrorCode[] = ['WAL_CLOSED'];
const CLOSED_OR_RANGE: readonly WalErrorCode[] = ['WAL_CLOSED', 'OFFSET_OUT_OF_RANGE'];

function managerOptions(script: ManagerRaceScript, dir: string, fileSystem: FileSystem | undefined): WalManagerOptions {
  return {
    dir,
    fsync: script.fsync,
    syncStream: script.syncStream,
    segmentBytes: SEGMENT_BYTES,
    segmentMaxRecords: script.segmentMaxRecords,
    maxOpenLogs: script.maxOpenLogs,
    journalCheckpointBytes: script.journalCheckpointBytes,
    // Retention runs only when a script calls it, so the model knows every pass.
    retentionIntervalMs: 0,
    logOptions: (topic, partition) => {
      const policy = retentionPolicyOf(script, RACE_TOPICS.indexOf(topic as (typeof RACE_TOPICS)[number]), partition);
      return policy === undefined ? {} : { retention: policy };
    },
    ...(fileSystem === undefined ? {} : { fileSystem }),
  };
}

/** `fraction` of the way into `count` (0 when empty), below `count` unless `endIncluded`. */
function offsetAt(count: number, fraction: number, endIncluded: boolean): number {
  const span = count + (endIncluded ? 1 : 0);
  return span <= 0 ? 0 : Math.min(span - 1, Math.floor(fraction * span));
}

/**
 * @param dir a folder that does not exist yet
 * @param hangMs how long any one operation (and the final close) may take before it counts as hung
 */
export async function runManagerRace(script: ManagerRaceScript, dir: string, hangMs: number): Promise<ManagerRaceOutcome> {
  const race = new ManagerRace(script, dir, hangMs);
  const driver = script.ioOrder.kind === 'scheduled' ? releaseScheduled(script.ioOrder.scheduler) : null;
  try {
    await race.drive();
  } finally {
    await driver?.stop();
  }
  if (race.problems().length === 0) await race.checkReopened();
  return { problems: race.problems(), tally: race.tally() };
}

class ManagerRace {
  readonly #script: ManagerRaceScript;
  readonly #dir: string;
  readonly #hangMs: number;
  readonly #fileSystem: FileSystem | undefined;
  readonly #clock = new EventClock();
  readonly #books = new LogBooks();
  readonly #checkpoints = new CheckpointModel();
  readonly #retention = new RetentionBound();
  readonly #samples: FirstOffsetSample[] = [];
  readonly #resumes: Resume[] = [];
  /** The last Wal seen of each log: while it is open, its firstOffset can be read at any moment. */
  readonly #walsSeen = new Map<string, Wal>();
  /** Problems that belong to no log. */
  readonly #problems: string[] = [];
  readonly #hung: string[] = [];
  readonly #running: Promise<void>[] = [];
  readonly #tally = emptyManagerRaceTally();
  #manager: WalManager | null = null;
  #generation = 0;

  constructor(script: ManagerRaceScript, dir: string, hangMs: number) {
    this.#script = script;
    this.#dir = dir;
    this.#hangMs = hangMs;
    this.#fileSystem = ioOrderFileSystem(script.ioOrder);
  }

  problems(): string[] {
    return [...this.#problems, ...this.#books.all().flatMap((book) => book.ledger.problems)];
  }

  tally(): ManagerRaceTally {
    const acknowledgedRecords = this.#books.all().reduce((sum, book) => sum + book.ledger.acknowledgedCount, 0);
    return { ...this.#tally, acknowledgedRecords };
  }

  #problem(label: string, message: string): void {
    this.#problems.push(`${label}: ${message}`);
  }

  #open(): Promise<WalManager> {
    return WalManager.open(managerOptions(this.#script, this.#dir, this.#fileSystem));
  }

  #pick(log: LogPick): LogBook {
    const topic = RACE_TOPICS[log.topicIndex] ?? RACE_TOPICS[0];
    return this.#books.of(topic, log.partition % this.#script.partitionCount);
  }

  async drive(): Promise<void> {
    this.#manager = await this.#open();
    for (const [step, { startDelay, op }] of this.#script.steps.entries()) {
      await waitFor(startDelay);
      const target = 'log' in op ? ` ${this.#pick(op.log).key}` : '';
      const label = `#${step} ${op.kind}${target} gen${this.#generation}`;
      try {
        const awaited = this.#start(label, op, this.#manager);
        if (awaited !== null && (await deadline(awaited, this.#hangMs)) === 'hung') this.#hung.push(label);
      } catch (error) {
        this.#problem(label, `threw synchronously: ${error instanceof Error ? error.stack : String(error)}`);
      }
      if (this.#hung.length > 0) break;
    }
    // Every operation started, each bounded by its own deadline; late ones (samples after a pass) join the list.
    for (let index = 0; index < this.#running.length; index += 1) await this.#running[index];
    if (this.#hung.length === 0) {
      const closed = await deadline(this.#manager.close().then(() => null, (error: unknown) => error), this.#hangMs);
      if (closed === 'hung') this.#hung.push('final close');
      else if (closed !== null) this.#problem('final close', `rejected: ${closed instanceof Error ? closed.stack : String(closed)}`);
    }
    if (this.#hung.length > 0) this.#problem('hang', `not settled within ${this.#hangMs} ms: ${this.#hung.join(', ')}`);
  }

  /** Waits for `work` in the background; a rejection must be a WalError with one of the `allowed` codes. */
  #track(label: string, work: Promise<unknown>, allowed: readonly WalErrorCode[]): void {
    const settled = work.then(
      () => undefined,
      (error: unknown) => this.#checkRejection(label, error, allowed),
    );
    this.#running.push(
      deadline(settled, this.#hangMs).then((outcome) => {
        if (outcome === 'hung') this.#hung.push(label);
      }),
    );
  }

  #checkRejection(label: string, error: unknown, allowed: readonly WalErrorCode[]): void {
    if (!(error instanceof WalError)) this.#problem(label, `rejected with an untyped error: ${error instanceof Error ? error.stack : String(error)}`);
    else if (!allowed.includes(error.code)) this.#problem(label, `rejected with ${error.code}: ${error.stack ?? error.message}`);
  }

  /** A record a read, tail or consumer yielded: below what was appended, and (checked at the end) acknowledged with these bytes. */
  #yielded(label: string, book: LogBook, offset: number, data: Uint8Array): void {
    if (offset >= book.nextOffsetMax) {
      book.ledger.problem(label, `${book.key}: yielded offset ${offset} (record ${recordId(data)}) while only ${book.nextOffsetMax} record(s) were appended`);
    }
    book.ledger.observed(label, offset, data);
    this.#tally.recordsObserved += 1;
  }

  /** Checks a Wal's offsets against the books, and keeps its firstOffset for the retention check. */
  #sampleLog(label: string, book: LogBook, wal: Wal): void {
    if (wal.state !== 'open') return;
    const first = wal.firstOffset;
    const next = wal.nextOffset;
    if (first > next) book.ledger.problem(label, `${book.key}: firstOffset ${first} > nextOffset ${next}`);
    if (next < book.nextOffsetMin) book.ledger.problem(label, `${book.key}: nextOffset ${next} below the acknowledged ${book.nextOffsetMin}`);
    if (next > book.nextOffsetMax) book.ledger.problem(label, `${book.key}: nextOffset ${next}, but only ${book.nextOffsetMax} record(s) were appended`);
    this.#samples.push({ label, book, at: this.#clock.tick(), firstOffset: first });
    this.#walsSeen.set(book.key, wal);
  }

  #start(label: string, op: ManagerRaceOp, manager: WalManager): Promise<void> | null {
    switch (op.kind) {
      case 'append':
      case 'appendArray':
        this.#append(label, op.kind === 'append' ? [op.sizeBytes] : op.sizesBytes, op.kind === 'appendArray', this.#pick(op.log), manager);
        return null;
      case 'read':
        this.#read(label, op, this.#pick(op.log), manager);
        return null;
      case 'tail':
        this.#tail(label, op, this.#pick(op.log), manager);
        return null;
      case 'logThenClose': {
        const book = this.#pick(op.log);
        const work = (async () => {
          const wal = await manager.log(book.topic, book.partition);
          this.#sampleLog(label, book, wal);
          await waitFor(op.closeAfter);
          await wal.close();
          this.#tally.userCloses += 1;
        })();
        this.#track(label, work, CLOSED);
        return null;
      }
      case 'withLog': {
        const book = this.#pick(op.log);
        const work = manager.withLog(book.topic, book.partition, async (wal) => {
          this.#sampleLog(label, book, wal);
          await sleep(op.holdMs);
          this.#sampleLog(`${label}(after ${op.holdMs} ms)`, book, wal);
        });
        this.#track(label, work, CLOSED);
        return null;
      }
      case 'commit':
        this.#commit(label, op, manager);
        return null;
      case 'getCheckpoint':
        this.#getCheckpoint(label, RACE_CHECKPOINT_NAMES[op.nameIndex] ?? 'ck', manager);
        return null;
      case 'deleteCheckpoint': {
        const name = RACE_CHECKPOINT_NAMES[op.nameIndex] ?? 'ck';
        this.#checkpointCall(label, name, { kind: 'delete' }, () => manager.checkpoints.delete(name), CLOSED);
        return null;
      }
      case 'enforceRetention':
        this.#enforceRetention(label, manager);
        return null;
      case 'consume':
        if (op.laterMs === 0) this.#consume(label, op, manager);
        else {
          const later = sleep(op.laterMs).then(() => {
            if (this.#manager !== null) this.#consume(label, op, this.#manager);
          });
          this.#track(label, later, []);
        }
        return null;
      case 'reopen': {
        const work = (async () => {
          await manager.close();
          this.#manager = await this.#open();
          this.#generation += 1;
          this.#tally.reopens += 1;
        })();
        this.#track(label, work, []);
        // Later operations go to the new manager: wait for it.
        return work.catch(() => {});
      }
    }
  }

  #append(label: string, sizesBytes: readonly number[], asArray: boolean, book: LogBook, manager: WalManager): void {
    const records = book.newRecords(sizesBytes, this.#generation);
    const ids = records.map((record) => record.id);
    const call = asArray
      ? manager.append(book.topic, book.partition, records.map((record) => record.data))
      : manager.append(book.topic, book.partition, records[0]?.data ?? Buffer.alloc(0)).then((offset) => [offset]);
    const work = call.then(
      (offsets) => {
        if (offsets.length !== ids.length) book.ledger.problem(label, `${offsets.length} offsets for ${ids.length} records`);
        offsets.forEach((offset, index) => {
          if (index > 0 && offset !== (offsets[index - 1] ?? NaN) + 1) book.ledger.problem(label, `offsets ${offsets.join(', ')} are not consecutive`);
          book.acknowledged(label, ids[index] ?? -1, offset);
        });
        if (asArray) book.ledger.batchAcknowledged(ids);
      },
      (error: unknown) => {
        book.rejected(ids);
        throw error;
      },
    );
    this.#track(label, work, CLOSED);
  }

  #read(label: string, op: Extract<ManagerRaceOp, { kind: 'read' }>, book: LogBook, manager: WalManager): void {
    const acknowledgedAtCall = book.nextOffsetMin;
    const from = op.from === null || acknowledgedAtCall === 0 ? undefined : offsetAt(acknowledgedAtCall, op.from, false);
    const to = op.span === null ? undefined : (from ?? 0) + op.span;
    let records: AsyncIterable<WalRecord>;
    try {
      records = manager.read(book.topic, book.partition, { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) });
    } catch (error) {
      this.#checkRejection(label, error, CLOSED);
      return;
    }
    const work = (async () => {
      let previous: number | undefined;
      let count = 0;
      for await (const record of records) {
        const expected = previous === undefined ? from : previous + 1;
        if (expected !== undefined && record.offset !== expected) book.ledger.problem(label, `${book.key}: yielded offset ${record.offset} where ${expected} was due`);
        if (to !== undefined && record.offset >= to) book.ledger.problem(label, `${book.key}: yielded offset ${record.offset}, past to ${to}`);
        this.#yielded(label, book, record.offset, record.data);
        previous = record.offset;
        count += 1;
        if (op.take !== null && count >= op.take) break;
      }
      // Whatever was acknowledged before the call is there to read, up to `to`.
      const end = Math.min(to ?? Infinity, acknowledgedAtCall);
      if (op.take === null && previous !== undefined && previous < end - 1) {
        book.ledger.problem(label, `${book.key}: read ended at offset ${previous}, but ${end - 1} was acknowledged before the call`);
      }
    })();
    this.#track(label, work, CLOSED_OR_RANGE);
  }

  #tail(label: string, op: Extract<ManagerRaceOp, { kind: 'tail' }>, book: LogBook, manager: WalManager): void {
    const from = op.from === null ? undefined : offsetAt(book.nextOffsetMin, op.from, true);
    const controller = new AbortController();
    if (op.abortedBeforeStart) controller.abort();
    let records: AsyncIterable<WalRecord>;
    try {
      records = manager.tail(book.topic, book.partition, { ...(from === undefined ? {} : { from }), signal: controller.signal });
    } catch (error) {
      this.#checkRejection(label, error, CLOSED);
      return;
    }
    const timer = setTimeout(() => controller.abort(), op.abortAfterMs);
    const work = (async () => {
      let previous: number | undefined;
      let count = 0;
      try {
        for await (const record of records) {
          const expected = previous === undefined ? from : previous + 1;
          if (expected !== undefined && record.offset !== expected) book.ledger.problem(label, `${book.key}: yielded offset ${record.offset} where ${expected} was due`);
          this.#yielded(label, book, record.offset, record.data);
          previous = record.offset;
          count += 1;
          if (count >= op.abortAfterRecords) controller.abort();
        }
      } finally {
        clearTimeout(timer);
      }
    })();
    this.#track(label, work, CLOSED_OR_RANGE);
  }

  /** Calls `run`, a commit or delete of `name`, keeping it in the checkpoint model. */
  #checkpointCall(label: string, name: string, change: CheckpointChange, run: () => Promise<unknown>, allowed: readonly WalErrorCode[], onSettled?: (error: unknown) => void): void {
    const call = this.#checkpoints.called(name, change, this.#clock.tick());
    const work = run().then(
      () => {
        const settledAt = this.#clock.tick();
        this.#checkpoints.settled(call, true, settledAt);
        if (change.kind === 'commit') this.#protect(name, call, change.offsets, settledAt);
        onSettled?.(null);
        this.#checkSettledCheckpoint(label, name, this.#manager);
      },
      (error: unknown) => {
        this.#checkpoints.settled(call, false, this.#clock.tick());
        onSettled?.(error);
        throw error;
      },
    );
    this.#track(label, work, allowed);
  }

  /** Keeps, for the logs of a commit that resolved whose Wal is open at hand, what retention may no longer delete. */
  #protect(name: string, call: CheckpointCall, offsets: Readonly<Record<string, number>>, at: number): void {
    for (const [key, offset] of Object.entries(offsets)) {
      const wal = this.#walsSeen.get(key);
      if (wal?.state !== 'open') continue;
      this.#retention.protect(name, call, key, offset, wal.firstOffset, at);
      this.#tally.protectedCommits += 1;
    }
  }

  #commit(label: string, op: Extract<ManagerRaceOp, { kind: 'commit' }>, manager: WalManager): void {
    const name = RACE_CHECKPOINT_NAMES[op.nameIndex] ?? 'ck';
    const offsets: Record<string, number> = {};
    const books = new Map<string, LogBook>();
    for (const entry of op.entries) {
      const book = this.#pick(entry.log);
      books.set(book.key, book);
      offsets[book.key] = entry.past === null ? offsetAt(book.nextOffsetMin, entry.at, true) : book.nextOffsetMax + entry.past;
    }
    // Below or at what was acknowledged at the call, every offset must be taken.
    const mustTake = Object.entries(offsets).every(([key, offset]) => offset <= (books.get(key)?.nextOffsetMin ?? 0));
    this.#checkpointCall(
      label,
      name,
      { kind: 'commit', offsets, replace: op.replace },
      () => manager.checkpoints.commit(name, offsets, { replace: op.replace }),
      mustTake ? CLOSED : ['WAL_CLOSED', 'INVALID_ARGUMENT'],
      (error) => {
        if (error === null) {
          this.#tally.commitsResolved += 1;
          for (const [key, offset] of Object.entries(offsets)) {
            const book = books.get(key);
            if (book !== undefined && offset > book.nextOffsetMax) {
              this.#problem(label, `commit of ${name} took ${key} = ${offset}, beyond the ${book.nextOffsetMax} record(s) appended to the log`);
            }
          }
        } else if (error instanceof WalError && error.code === 'INVALID_ARGUMENT') {
          this.#tally.commitsRefused += 1;
        }
      },
    );
  }

  /** Once every call of `name` settled, get() must return what the model holds. */
  #checkSettledCheckpoint(label: string, name: string, manager: WalManager | null): void {
    const expected = this.#checkpoints.settledState(name);
    if (expected === 'unsettled' || manager === null) return;
    let actual;
    try {
      actual = manager.checkpoints.get(name);
    } catch (error) {
      this.#checkRejection(`${label}(get ${name})`, error, CLOSED);
      return;
    }
    if (!isDeepStrictEqual(actual === undefined ? undefined : { ...actual }, expected === undefined ? undefined : { ...expected })) {
      this.#problem(label, `get(${name}) returned ${JSON.stringify(actual)}, but the calls that resolved leave ${JSON.stringify(expected)}`);
    }
  }

  #getCheckpoint(label: string, name: string, manager: WalManager): void {
    this.#checkSettledCheckpoint(label, name, manager);
  }

  #enforceRetention(label: string, manager: WalManager): void {
    const settle = this.#retention.passCalled(this.#clock.tick());
    const work = manager.enforceRetention().then(
      (report) => {
        settle(this.#clock.tick());
        this.#tally.segmentsDeleted += report.deletedSegmentCount;
        for (const failure of report.failures) {
          // A log its user closed under the pass is skipped; anything else is a failure to explain.
          const closed = failure.error instanceof WalError && failure.error.code === 'WAL_CLOSED';
          if (!closed) this.#problem(label, `retention failed on ${failure.topic}/${failure.partition}: ${failure.error.stack ?? failure.error.message}`);
        }
        this.#sampleAll(`${label}(after)`, manager);
      },
      (error: unknown) => {
        settle(this.#clock.tick());
        throw error;
      },
    );
    this.#track(label, work, CLOSED);
  }

  /** Samples the offsets of every log of the manager (opening them through its LRU). */
  #sampleAll(label: string, manager: WalManager): void {
    for (const book of this.#books.all()) {
      let exists: boolean;
      try {
        exists = manager.partitions(book.topic).includes(book.partition);
      } catch (error) {
        this.#checkRejection(label, error, CLOSED);
        return;
      }
      if (!exists) continue;
      this.#track(`${label} ${book.key}`, manager.withLog(book.topic, book.partition, (wal) => this.#sampleLog(`${label} ${book.key}`, book, wal)), CLOSED);
    }
  }

  #consume(label: string, op: Extract<ManagerRaceOp, { kind: 'consume' }>, manager: WalManager): void {
    const group = RACE_GROUPS[op.groupIndex] ?? 'g1';
    const topics = RACE_TOPICS.filter((_, index) => (op.topicMask & (1 << index)) !== 0);
    const controller = new AbortController();
    let consumer: Consumer;
    try {
      consumer = manager.consume({ group, topics, from: op.from, batchSize: op.batchSize, signal: controller.signal });
    } catch (error) {
      this.#checkRejection(label, error, CLOSED);
      return;
    }
    const startedAt = this.#clock.tick();
    const timer = setTimeout(() => controller.abort(), op.abortAfterMs);
    const last = new Map<string, number>();
    const commit = async (): Promise<void> => {
      const positions = consumer.positions();
      // What commit() writes for a partition it handed records of: the offset after the last one.
      // (Or, when retention deleted records the consumer had not reached, the log's first offset.)
      for (const [key, offset] of last) {
        const position = positions[key] ?? -1;
        if (position < offset + 1) this.#problem(label, `positions() has ${key} = ${positions[key]} after handing out offset ${offset}`);
        else if (position > offset + 1) {
          const book = this.#books.of(key.slice(0, key.lastIndexOf('/')), Number(key.slice(key.lastIndexOf('/') + 1)));
          this.#resumes.push({ label, book, due: offset + 1, offset: position, at: this.#clock.tick(), what: `in positions() after handing out ${offset}` });
        }
      }
      // A consumer with no positions writes nothing.
      if (Object.keys(positions).length === 0) return;
      const settled = new Promise<void>((resolve) => {
        this.#checkpointCall(`${label}(commit)`, group, { kind: 'commit', offsets: positions, replace: false }, () => consumer.commit(), CLOSED, () => resolve());
      });
      if (op.awaitCommit) await settled;
    };
    const work = (async () => {
      let count = 0;
      try {
        for await (const record of consumer) {
          this.#consumed(label, group, op.from, startedAt, last, record);
          count += 1;
          if (count % op.commitEvery === 0) await commit();
          if (count >= op.take) break;
        }
      } finally {
        clearTimeout(timer);
      }
      // After the consumer's own close, commit() still works.
      await commit();
    })();
    this.#track(label, work, CLOSED);
  }

  /** A record a consumer handed out: of its topics, in order per log, resuming where its group's checkpoint said. */
  #consumed(label: string, group: string, from: 'checkpoint' | 'earliest', startedAt: number, last: Map<string, number>, record: { topic: string; partition: number; offset: number; data: Uint8Array }): void {
    const now = this.#clock.tick();
    if (!(RACE_TOPICS as readonly string[]).includes(record.topic) || record.partition >= this.#script.partitionCount) {
      this.#problem(label, `handed out a record of ${record.topic}/${record.partition}, which nothing wrote`);
      return;
    }
    const book = this.#books.of(record.topic, record.partition);
    this.#yielded(label, book, record.offset, record.data);
    this.#tally.recordsConsumed += 1;
    const previous = last.get(book.key);
    last.set(book.key, record.offset);
    if (previous !== undefined) {
      if (record.offset <= previous) book.ledger.problem(label, `${book.key}: handed out offset ${record.offset} after ${previous}`);
      // Only retention deleting records under it moves a consumer on.
      else this.#resumes.push({ label, book, due: previous + 1, offset: record.offset, at: now, what: `handed out after offset ${previous}` });
      return;
    }
    if (from === 'earliest') {
      this.#resumes.push({ label, book, due: 0, offset: record.offset, at: now, what: "handed out from 'earliest'" });
      return;
    }
    // The consumer reads its group's checkpoint somewhere between its start and now.
    this.#resumes.push({ label, book, due: { group, startedAt }, offset: record.offset, at: now, what: `handed out from group ${group}'s checkpoint` });
  }

  /**
   * On the manager reopened on the bare disk: every checkpoint as the
   * model leaves it, every log's records against its ledger, and every
   * firstOffset seen against what retention could delete.
   */
  async checkReopened(): Promise<void> {
    const manager = await WalManager.open(managerOptions(this.#script, this.#dir, undefined));
    try {
      const names = this.#checkpoints.names().filter((name) => this.#checkpoints.settledState(name) !== undefined);
      const listed = manager.checkpoints.list();
      if (!isDeepStrictEqual(listed, names)) this.#problem('reopened manager', `checkpoints ${JSON.stringify(listed)}, expected ${JSON.stringify(names)}`);
      for (const name of this.#checkpoints.names()) this.#checkSettledCheckpoint('reopened manager', name, manager);
      const reopenedAt = this.#clock.tick();
      for (const book of this.#books.all()) {
        if (!manager.partitions(book.topic).includes(book.partition)) {
          if (book.nextOffsetMin > 0) this.#problem('reopened manager', `${book.key} is missing, with ${book.nextOffsetMin} record(s) acknowledged`);
          continue;
        }
        const label = `reopened ${book.key}`;
        await manager.withLog(book.topic, book.partition, async (wal) => {
          this.#samples.push({ label, book, at: reopenedAt, firstOffset: wal.firstOffset });
          // The retention samples check firstOffset; the ledger checks the records from there.
          book.ledger.truncationIssued(Number.MAX_SAFE_INTEGER);
          await book.ledger.checkReopened(wal, label);
        });
      }
    } finally {
      await manager.close();
    }
    this.#checkFirstOffsets();
  }

  #firstOffsetMax(book: LogBook, at: number): { policy: RetentionPolicy | undefined; bound: number } {
    const policy = retentionPolicyOf(this.#script, RACE_TOPICS.indexOf(book.topic as (typeof RACE_TOPICS)[number]), book.partition);
    return { policy, bound: this.#retention.firstOffsetMax(policy, this.#checkpoints, book.topic, book.key, at) };
  }

  #checkFirstOffsets(): void {
    for (const resume of this.#resumes) {
      const { book, due } = resume;
      const { policy, bound } = this.#firstOffsetMax(book, resume.at);
      const dueOffsets = typeof due === 'number' ? [due] : this.#checkpoints.offsetsBetween(due.group, book.key, due.startedAt, resume.at);
      const [dueMin, dueMax] = [Math.min(...dueOffsets), Math.max(...dueOffsets)];
      const dueText = dueMin === dueMax ? `${dueMin} was due` : `${dueMin} to ${dueMax} were due`;
      if (resume.offset < dueMin) book.ledger.problem(resume.label, `${book.key}: offset ${resume.offset} ${resume.what}, where ${dueText}`);
      else if (resume.offset > Math.max(dueMax, bound)) {
        book.ledger.problem(resume.label, `${book.key}: offset ${resume.offset} ${resume.what}, where ${dueText} and retention (${JSON.stringify(policy ?? null)}) may delete only below ${bound}`);
      }
    }
    for (const sample of this.#samples) {
      const { book } = sample;
      const { policy, bound } = this.#firstOffsetMax(book, sample.at);
      if (sample.firstOffset > bound) {
        book.ledger.problem(sample.label, `${book.key}: firstOffset ${sample.firstOffset}, but retention (${JSON.stringify(policy ?? null)}) may delete only below ${bound}`);
      }
      const protectedBound = this.#retention.protectedFirstOffsetMax(policy, this.#checkpoints, book.key, sample.at);
      if (sample.firstOffset > protectedBound.bound) {
        book.ledger.problem(sample.label, `${book.key}: firstOffset ${sample.firstOffset}, but ${protectedBound.by} (policy ${JSON.stringify(policy ?? null)}) protects from ${protectedBound.bound} on`);
      }
    }
  }
}
