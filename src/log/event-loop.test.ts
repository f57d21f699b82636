/**
 * Producers that await each append in a tight loop, under the policies
 * whose flushes do no thread-pool I/O ('os', batch, and 'always' with
 * blockingWrites): the event loop must
 * still turn, so timers (the batch sync) and I/O callbacks run. The loops
 * below stop by reading the clock, not by a timer: a starved timer would
 * never stop them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Wal } from './wal.js';
import type { WalOptions } from './options.js';
import { freshFolders } from '../../test/temp-folders.js';

const freshFolder = freshFolders('tidewal-event-loop-');
/** How long the loops may run at most: without the loop-turn rule nothing changes however long they run. */
const LOOP_MS_MAX = 3_000;
const PRODUCER_COUNT = 4;

/** Runs PRODUCER_COUNT producers that await each append until `done()` says so (or LOOP_MS_MAX pass); calls `probe` after every append. */
async function tightLoops(wal: Wal, probe: () => void, done: () => boolean): Promise<void> {
  const record = Buffer.alloc(100, 7);
  const endMs = performance.now() + LOOP_MS_MAX;
  await Promise.all(
    Array.from({ length: PRODUCER_COUNT }, async () => {
      while (performance.now() < endMs && !done()) {
        await wal.append(record);
        probe();
      }
    }),
  );
}

async function openLog(fsync: NonNullable<WalOptions['fsync']>, blockingWrites = false): Promise<Wal> {
  // No rotation during the loops, and no preallocation: both await real
  // I/O on the thread pool and would let the loop turn by themselves.
  return Wal.open({ dir: freshFolder(), fsync, segmentBytes: 1024 * 1024 * 1024, blockingWrites, preallocate: false });
}

describe('Wal and the event loop', () => {
  // Under batch two rules keep the sync running (the loop-turn check, and
  // the deadline that runs a late sync itself); under 'os' only the first.
  test('under batch, producers appending in a tight loop still see durableOffset advance while they run', async () => {
    const wal = await openLog({ batch: { intervalMs: 5 } });
    let durableSeen = 0;
    await tightLoops(
      wal,
      () => {
        durableSeen = Math.max(durableSeen, wal.durableOffset);
      },
      () => durableSeen > 0,
    );
    assert.ok(wal.nextOffset > 0, 'the loops appended');
    assert.ok(durableSeen > 0, `the batch sync never ran while the loops appended ${wal.nextOffset} records`);
    await wal.close();
  });

  for (const [name, fsync, blockingWrites] of [
    ["'os'", 'os', false],
    ["'always' with blockingWrites", 'always', true],
  ] as const) {
    test(`under ${name}, timers keep firing while producers append in a tight loop`, async () => {
      await timersFire(await openLog(fsync, blockingWrites));
    });
  }

  async function timersFire(wal: Wal): Promise<void> {
    let ticks = 0;
    const interval = setInterval(() => {
      ticks += 1;
    }, 10);
    try {
      await tightLoops(wal, () => {}, () => ticks >= 5);
    } finally {
      clearInterval(interval);
    }
    // A starved loop sees 0 or 1, however long it runs.
    assert.ok(ticks >= 5, `a 10 ms interval fired ${ticks} times while the loops appended ${wal.nextOffset} records`);
    await wal.close();
  }
});
