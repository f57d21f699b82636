/**
 * The scripts of the WalManager race test (manager-race.test.ts): the
 * options of one manager (2 topics of up to 4 partitions, tiny segments,
 * an LRU of 2 or 3 open logs, a retention policy per log) and a list of
 * operations, each started after a short delay without awaiting the ones
 * before it. Positions in a log are fractions, resolved against what the
 * run knows of the log when the operation starts (its acknowledged
 * records), so every script stays valid whatever the earlier operations did.
 */
import fc from 'fast-check';
import type { FsyncPolicy } from '../../src/log/options.js';
import type { RetentionPolicy } from '../../src/manager/retention.js';
import type { SyncStream } from '../../src/manager/wal-manager.js';
import { startDelayArbitrary } from './start-delays.js';
import type { StartDelay } from './start-delays.js';
import { ioOrderArbitrary } from './io-order.js';
import type { IoOrder } from './io-order.js';

/** The topics every script writes. */
export const RACE_TOPICS = ['ta', 'tb'] as const;
/** Partitions per topic at most. */
export const RACE_PARTITIONS_MAX = 4;
/** Checkpoints the scripts commit and delete; the groups are also consumer groups. */
export const RACE_CHECKPOINT_NAMES = ['ck', 'g1', 'g2'] as const;
/** Consumer groups (their checkpoints are among RACE_CHECKPOINT_NAMES, so explicit commits race consumers' commits). */
export const RACE_GROUPS = ['g1', 'g2'] as const;

/** One log: a topic index into RACE_TOPICS and a partition, taken modulo the script's partitionCount. */
export interface LogPick {
  readonly topicIndex: number;
  readonly partition: number;
}

/** One offset of a checkpoint commit: `at` in [0, 1] of the acknowledged records, or `past` records beyond every record appended. */
export interface CommitEntry {
  readonly log: LogPick;
  readonly at: number;
  readonly past: number | null;
}

export type ManagerRaceOp =
  | { readonly kind: 'append'; readonly log: LogPick; readonly sizeBytes: number }
  | { readonly kind: 'appendArray'; readonly log: LogPick; readonly sizesBytes: readonly number[] }
  /** `from` in [0, 1) of the acknowledged records (null: no `from`); `span`: records to `to` (null: no `to`); `take`: records before a break. */
  | { readonly kind: 'read'; readonly log: LogPick; readonly from: number | null; readonly span: number | null; readonly take: number | null }
  /** `from` in [0, 1] of the acknowledged records (null: the log's end); aborted after a record count or a time. */
  | { readonly kind: 'tail'; readonly log: LogPick; readonly from: number | null; readonly abortAfterRecords: number; readonly abortAfterMs: number; readonly abortedBeforeStart: boolean }
  /** mgr.log(), then its user closes that Wal after a delay. */
  | { readonly kind: 'logThenClose'; readonly log: LogPick; readonly closeAfter: StartDelay }
  /** mgr.withLog() holding the log for `holdMs` while sampling its offsets. */
  | { readonly kind: 'withLog'; readonly log: LogPick; readonly holdMs: number }
  | { readonly kind: 'commit'; readonly nameIndex: number; readonly entries: readonly CommitEntry[]; readonly replace: boolean }
  | { readonly kind: 'getCheckpoint'; readonly nameIndex: number }
  | { readonly kind: 'deleteCheckpoint'; readonly nameIndex: number }
  | { readonly kind: 'enforceRetention' }
  /**
   * A consumer of some topics that takes `take` records (or stops after
   * `abortAfterMs`), committing every `commitEvery` records (awaited or not);
   * it starts `laterMs` after its step (on the manager open then), so that
   * some consumers start from checkpoints that earlier ones committed.
   */
  | {
      readonly kind: 'consume';
      readonly laterMs: number;
      readonly groupIndex: number;
      readonly topicMask: 1 | 2 | 3;
      readonly from: 'checkpoint' | 'earliest';
      readonly batchSize: number;
      readonly take: number;
      readonly commitEvery: number;
      readonly awaitCommit: boolean;
      readonly abortAfterMs: number;
    }
  /** mgr.close(), then WalManager.open() on the same folder; later operations go to the new manager. */
  | { readonly kind: 'reopen' };

export interface ManagerRaceStep {
  readonly startDelay: StartDelay;
  readonly op: ManagerRaceOp;
}

/** A log's retention policy, by kind: what the script draws per log. */
export type RetentionChoice = 'none' | 'maxBytes' | 'maxAge' | 'guarded' | 'guardOnly' | 'min';

export interface ManagerRaceScript {
  readonly fsync: FsyncPolicy;
  /** Only meaningful under 'always'. */
  readonly syncStream: SyncStream;
  readonly partitionCount: number;
  readonly maxOpenLogs: number;
  readonly segmentMaxRecords: number;
  readonly journalCheckpointBytes: number;
  /** One per log, index `topicIndex * RACE_PARTITIONS_MAX + partition`. */
  readonly retention: readonly RetentionChoice[];
  /** The checkpoint guarding the 'guarded' and 'guardOnly' policies. */
  readonly guardNameIndex: number;
  readonly ioOrder: IoOrder;
  readonly steps: readonly ManagerRaceStep[];
}

/** The retention policy of one log under `script`. */
export function retentionPolicyOf(script: ManagerRaceScript, topicIndex: number, partition: number): RetentionPolicy | undefined {
  const guard = RACE_CHECKPOINT_NAMES[script.guardNameIndex] ?? 'ck';
  switch (script.retention[topicIndex * RACE_PARTITIONS_MAX + partition] ?? 'none') {
    case 'none':
      return undefined;
    case 'maxBytes':
      return { maxBytes: 1 };
    case 'maxAge':
      return { maxAgeMs: 0 };
    case 'guarded':
      return { maxBytes: 1, checkpoint: guard };
    case 'guardOnly':
      return { checkpoint: guard };
    case 'min':
      return { maxAgeMs: 0, checkpoint: 'min' };
  }
}

const fraction = fc.double({ min: 0, max: 1, noNaN: true });
const logPick: fc.Arbitrary<LogPick> = fc.record({
  topicIndex: fc.integer({ min: 0, max: RACE_TOPICS.length - 1 }),
  partition: fc.integer({ min: 0, max: RACE_PARTITIONS_MAX - 1 }),
});
const nameIndex = fc.integer({ min: 0, max: RACE_CHECKPOINT_NAMES.length - 1 });

const commitEntry: fc.Arbitrary<CommitEntry> = fc.record({
  log: logPick,
  at: fraction,
  // Mostly within the log; sometimes beyond it, which must be refused.
  past: fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 5 }) }),
});

const opArbitrary: fc.Arbitrary<ManagerRaceOp> = fc.oneof(
  { weight: 30, arbitrary: fc.record({ kind: fc.constant('append' as const), log: logPick, sizeBytes: fc.integer({ min: 1, max: 600 }) }) },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('appendArray' as const),
      log: logPick,
      sizesBytes: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 6 }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      log: logPick,
      from: fc.option(fraction, { freq: 3 }),
      span: fc.option(fc.integer({ min: 0, max: 12 })),
      take: fc.option(fc.integer({ min: 0, max: 15 })),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('tail' as const),
      log: logPick,
      from: fc.option(fraction, { freq: 4 }),
      abortAfterRecords: fc.integer({ min: 0, max: 20 }),
      abortAfterMs: fc.integer({ min: 0, max: 60 }),
      abortedBeforeStart: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('logThenClose' as const), log: logPick, closeAfter: startDelayArbitrary }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('withLog' as const), log: logPick, holdMs: fc.integer({ min: 0, max: 20 }) }) },
  {
    weight: 7,
    arbitrary: fc.record({
      kind: fc.constant('commit' as const),
      nameIndex,
      entries: fc.array(commitEntry, { minLength: 1, maxLength: 3 }),
      replace: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('getCheckpoint' as const), nameIndex }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteCheckpoint' as const), nameIndex }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('enforceRetention' as const) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('consume' as const),
      laterMs: fc.oneof(fc.constant(0), fc.integer({ min: 20, max: 200 })),
      groupIndex: fc.integer({ min: 0, max: RACE_GROUPS.length - 1 }),
      topicMask: fc.constantFrom(1 as const, 2 as const, 3 as const),
      from: fc.constantFrom('checkpoint' as const, 'earliest' as const),
      batchSize: fc.integer({ min: 1, max: 8 }),
      take: fc.integer({ min: 0, max: 30 }),
      commitEvery: fc.integer({ min: 1, max: 8 }),
      awaitCommit: fc.boolean(),
      abortAfterMs: fc.integer({ min: 5, max: 120 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
);

const fsyncArbitrary: fc.Arbitrary<FsyncPolicy> = fc.oneof(
  { weight: 2, arbitrary: fc.constant('always' as const) },
  { weight: 1, arbitrary: fc.constant('os' as const) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5 }).map((intervalMs) => ({ batch: { intervalMs } })) },
);

const retentionChoice: fc.Arbitrary<RetentionChoice> = fc.constantFrom('none', 'maxBytes', 'maxAge', 'guarded', 'guardOnly', 'min');

/**
 * @param ioOrder 'scheduled' draws a fast-check scheduler; otherwise half the
 *   scripts run on the bare disk and half with seeded jitter
 * @param stepCountMax operations per script at most
 */
export function managerRaceScriptArbitrary(ioOrder: 'scheduled' | 'unscheduled', stepCountMax: number): fc.Arbitrary<ManagerRaceScript> {
  return fc.record({
    fsync: fsyncArbitrary,
    syncStream: fc.constantFrom<SyncStream>('shared', 'shared', 'per-log'),
    partitionCount: fc.integer({ min: 1, max: RACE_PARTITIONS_MAX }),
    maxOpenLogs: fc.integer({ min: 2, max: 3 }),
    segmentMaxRecords: fc.integer({ min: 1, max: 4 }),
    // Small: journal checkpoints (syncs of every open log, waits for the LRU's closes) run during the script.
    journalCheckpointBytes: fc.integer({ min: 2000, max: 30_000 }),
    retention: fc.array(retentionChoice, { minLength: RACE_TOPICS.length * RACE_PARTITIONS_MAX, maxLength: RACE_TOPICS.length * RACE_PARTITIONS_MAX }),
    guardNameIndex: nameIndex,
    ioOrder: ioOrderArbitrary(ioOrder),
    steps: fc.array(fc.record({ startDelay: startDelayArbitrary, op: opArbitrary }), { minLength: 5, maxLength: stepCountMax, size: 'max' }),
  });
}
