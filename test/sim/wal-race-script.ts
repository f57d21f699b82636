/**
 * The scripts of the Wal race test (race.test.ts): options of one log and
 * a list of operations, each started after a short delay without awaiting
 * the ones before it. Positions in the log are fractions, resolved against
 * the log's offsets when the operation starts, so every script stays valid
 * whatever the earlier operations did.
 */
import fc from 'fast-check';
import type { FsyncPolicy } from '../../src/log/options.js';
import { startDelayArbitrary } from './start-delays.js';
import type { StartDelay } from './start-delays.js';
import { ioOrderArbitrary } from './io-order.js';
import type { IoOrder } from './io-order.js';

/** Records up to this size; sizes drawn below stay under it, so no append is refused for its size. */
export const RACE_RECORD_BYTES_MAX = 2048;

export type WalRaceOp =
  | { readonly kind: 'append'; readonly sizeBytes: number }
  | { readonly kind: 'appendBatch'; readonly sizesBytes: readonly number[] }
  | { readonly kind: 'sync' }
  /** `at` in [0, 1]: from firstOffset to nextOffset included. */
  | { readonly kind: 'truncateBefore'; readonly at: number }
  /** `from` in [0, 1): from firstOffset to the last record; `take`: records (blocks) read before a break, null: all. */
  | { readonly kind: 'read'; readonly from: number; readonly take: number | null; readonly slowConsumer: boolean }
  | { readonly kind: 'readBlocks'; readonly from: number; readonly take: number | null }
  /** `from` in [0, 1]: from firstOffset to nextOffset included; aborted after a record count or a time, whichever comes first. */
  | { readonly kind: 'tail'; readonly from: number; readonly abortAfterRecords: number; readonly abortAfterMs: number; readonly abortedBeforeStart: boolean }
  /** Samples firstOffset, nextOffset and durableOffset. */
  | { readonly kind: 'sampleOffsets' }
  | { readonly kind: 'close'; readonly twice: boolean }
  /** close(), then Wal.open() on the same folder; later operations go to the new log. */
  | { readonly kind: 'reopen' };

export interface WalRaceStep {
  readonly startDelay: StartDelay;
  readonly op: WalRaceOp;
}


export interface WalRaceScript {
  readonly fsync: FsyncPolicy;
  readonly segmentBytes: number;
  readonly segmentMaxRecords: number | undefined;
  readonly maxPendingBytes: number | undefined;
  readonly preallocate: boolean | undefined;
  readonly blockingWrites: boolean | undefined;
  readonly ioOrder: IoOrder;
  readonly steps: readonly WalRaceStep[];
}

const fraction = fc.double({ min: 0, max: 1, noNaN: true });

const opArbitrary: fc.Arbitrary<WalRaceOp> = fc.oneof(
  { weight: 30, arbitrary: fc.record({ kind: fc.constant('append' as const), sizeBytes: fc.integer({ min: 1, max: 1200 }) }) },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('appendBatch' as const),
      sizesBytes: fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 8 }),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('sync' as const) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('truncateBefore' as const), at: fraction }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      from: fraction,
      take: fc.option(fc.integer({ min: 0, max: 20 })),
      slowConsumer: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('readBlocks' as const), from: fraction, take: fc.option(fc.integer({ min: 0, max: 4 })) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('tail' as const),
      from: fraction,
      abortAfterRecords: fc.integer({ min: 0, max: 30 }),
      abortAfterMs: fc.integer({ min: 0, max: 40 }),
      abortedBeforeStart: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sampleOffsets' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const), twice: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
);

const fsyncArbitrary: fc.Arbitrary<FsyncPolicy> = fc.oneof(
  fc.constant('always' as const),
  fc.constant('os' as const),
  fc.integer({ min: 1, max: 5 }).map((intervalMs) => ({ batch: { intervalMs } })),
);

/**
 * @param ioOrder 'scheduled' draws a fast-check scheduler; otherwise half the
 *   scripts run on the bare disk and half with seeded jitter
 * @param stepCountMax operations per script at most
 */
export function walRaceScriptArbitrary(ioOrder: 'scheduled' | 'unscheduled', stepCountMax: number): fc.Arbitrary<WalRaceScript> {
  return fc.record({
    fsync: fsyncArbitrary,
    segmentBytes: fc.integer({ min: 4096, max: 9000 }),
    segmentMaxRecords: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
    // Mostly set, and small (a couple of the largest records): appends then
    // wait for room, which is where sync() once failed to look.
    maxPendingBytes: fc.option(fc.integer({ min: 4200, max: 20_000 }), { nil: undefined, freq: 4 }),
    preallocate: fc.option(fc.boolean(), { nil: undefined }),
    blockingWrites: fc.option(fc.boolean(), { nil: undefined }),
    ioOrder: ioOrderArbitrary(ioOrder),
    steps: fc.array(fc.record({ startDelay: startDelayArbitrary, op: opArbitrary }), { minLength: 5, maxLength: stepCountMax, size: 'max' }),
  });
}
