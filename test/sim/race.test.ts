/**
 * Race test: scripts of Wal operations started concurrently without
 * awaiting each other (append, appendBatch, sync, truncateBefore, read,
 * readBlocks, tail with abort, close, reopen), with tiny segments and a
 * small maxPendingBytes, under every fsync policy, on real files. I/O
 * completes as the disk has it, with seeded jitter, or in an order a
 * fast-check scheduler picks. Each run checks the log's promises as
 * results arrive and on the log reopened at the end (wal-race-run.ts,
 * race-ledger.ts): acknowledged records readable with their bytes, offsets
 * dense and never reused, batches all-or-none, reads and tails yielding
 * only acknowledged records in order, firstOffset/nextOffset/durableOffset
 * monotonic, sync() covering every append called before it, typed
 * rejections, no hang and no unhandled rejection.
 *
 * The seeds are fixed, so every run replays the same scripts (I/O timing
 * still varies from run to run: a timing-dependent failure may need a few
 * replays, or more runs). A failure names the seed, the run and the path;
 * replay with
 *   TIDEWAL_RACE_SEED=<seed> TIDEWAL_RACE_PATH=<path> node scripts/run-tests.mjs sim/race
 * TIDEWAL_RACE_RUNS=<n> runs more scripts per test; TIDEWAL_RACE_SHRINK=1
 * shrinks a failing script (slow, and only as reliable as its timing).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { freshFolders } from '../temp-folders.js';
import { runWalRace } from './wal-race-run.js';
import type { WalRaceTally } from './wal-race-run.js';
import { walRaceScriptArbitrary } from './wal-race-script.js';
import type { WalRaceScript } from './wal-race-script.js';

/** Scripts per test: the default keeps this file well under a minute on two cores. */
const RUNS = Number(process.env['TIDEWAL_RACE_RUNS'] ?? 60);
/** Operations per script at most. */
const STEP_COUNT_MAX = 70;
/** Any one operation (or the final close) taking this long is a hang: the engine never waits that long on a healthy disk. */
const HANG_MS = 10_000;
/** Time for a late rejection to reach the unhandledRejection listener before a run is called clean. */
const UNHANDLED_GRACE_MS = 5;

const nextFolder = freshFolders('tidewal-race-');

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
before(() => process.on('unhandledRejection', onUnhandled));
after(() => process.off('unhandledRejection', onUnhandled));

function describeScript(script: WalRaceScript): string {
  const io = script.ioOrder.kind === 'jittered' ? `jittered(${script.ioOrder.seed})` : script.ioOrder.kind;
  return (
    `fsync ${JSON.stringify(script.fsync)}, segmentBytes ${script.segmentBytes}, segmentMaxRecords ${script.segmentMaxRecords}, ` +
    `maxPendingBytes ${script.maxPendingBytes}, preallocate ${script.preallocate}, blockingWrites ${script.blockingWrites}, io ${io}, ` +
    `${script.steps.length} steps`
  );
}

async function checkRaces(name: string, ioOrder: 'scheduled' | 'unscheduled', defaultSeed: number): Promise<void> {
  const seed = Number(process.env['TIDEWAL_RACE_SEED'] ?? defaultSeed);
  const replayPath = process.env['TIDEWAL_RACE_PATH'];
  const shrink = process.env['TIDEWAL_RACE_SHRINK'] === '1';
  const total: WalRaceTally = { acknowledgedRecords: 0, syncsResolved: 0, recordsObserved: 0, reopens: 0 };
  let run = 0;
  const property = fc.asyncProperty(walRaceScriptArbitrary(ioOrder, STEP_COUNT_MAX), async (script) => {
    run += 1;
    const unhandledBefore = unhandled.length;
    const { problems, tally } = await runWalRace(script, nextFolder(), HANG_MS);
    await sleep(UNHANDLED_GRACE_MS);
    const late = unhandled.slice(unhandledBefore).map((reason) => `unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
    const found = [...problems, ...late];
    for (const key of Object.keys(total) as Array<keyof WalRaceTally>) total[key] += tally[key];
    if (found.length > 0) {
      throw new Error(`run ${run} (${describeScript(script)}) broke ${found.length} promise(s):\n  ${found.slice(0, 12).join('\n  ')}`);
    }
  });
  const result = await fc.check(property, {
    numRuns: RUNS,
    seed,
    endOnFailure: !shrink,
    ...(replayPath === undefined ? {} : { path: replayPath }),
  });
  if (result.failed) {
    const error = result.errorInstance;
    assert.fail(
      `${name}: seed ${seed}, path ${result.counterexamplePath}: ${error instanceof Error ? error.message : String(error)}\n` +
        `replay: TIDEWAL_RACE_SEED=${seed} TIDEWAL_RACE_PATH=${result.counterexamplePath} node scripts/run-tests.mjs sim/race\n` +
        `script: ${fc.stringify(result.counterexample)}`,
    );
  }
  console.log(
    `${name}: ${run} scripts, ${total.acknowledgedRecords} records acknowledged, ${total.syncsResolved} syncs checked, ` +
      `${total.recordsObserved} records read or tailed, ${total.reopens} reopens`,
  );
  // A harness that checks nothing passes too: make sure the scripts did the work.
  assert.ok(total.acknowledgedRecords > 0 && total.syncsResolved > 0 && total.recordsObserved > 0, `${name}: seed ${seed}: the scripts exercised nothing`);
}

test('concurrent Wal operations keep their promises, I/O completing as the disk (or seeded jitter) has it', async () => {
  await checkRaces('race (disk order)', 'unscheduled', 20_240_611);
});

test('concurrent Wal operations keep their promises, I/O completing in an order fast-check picks', async () => {
  await checkRaces('race (scheduled order)', 'scheduled', 20_240_612);
});
