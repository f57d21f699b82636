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
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshFolders } from '../temp-folders.js';
import { describeIoOrder } from './io-order.js';
import { checkRaceScripts, watchUnhandledRejections } from './race-check.js';
import { emptyWalRaceTally, runWalRace } from './wal-race-run.js';
import { walRaceScriptArbitrary } from './wal-race-script.js';
import type { WalRaceScript } from './wal-race-script.js';

/** Scripts per test: the default keeps this file well under a minute on two cores. */
const RUNS = Number(process.env['TIDEWAL_RACE_RUNS'] ?? 60);
/** Operations per script at most. */
const STEP_COUNT_MAX = 70;
/** Any one operation (or the final close) taking this long is a hang: the engine never waits that long on a healthy disk. */
const HANG_MS = 10_000;

const nextFolder = freshFolders('tidewal-race-');
watchUnhandledRejections();

function describeScript(script: WalRaceScript): string {
  return (
    `fsync ${JSON.stringify(script.fsync)}, segmentBytes ${script.segmentBytes}, segmentMaxRecords ${script.segmentMaxRecords}, ` +
    `maxPendingBytes ${script.maxPendingBytes}, preallocate ${script.preallocate}, blockingWrites ${script.blockingWrites}, io ${describeIoOrder(script.ioOrder)}, ` +
    `${script.steps.length} steps`
  );
}

async function checkRaces(name: string, ioOrder: 'scheduled' | 'unscheduled', defaultSeed: number): Promise<void> {
  const { seed, runCount, total } = await checkRaceScripts({
    name,
    envPrefix: 'TIDEWAL_RACE',
    testPattern: 'sim/race',
    defaultSeed,
    runs: RUNS,
    scripts: walRaceScriptArbitrary(ioOrder, STEP_COUNT_MAX),
    run: (script) => runWalRace(script, nextFolder(), HANG_MS),
    describe: describeScript,
    emptyTally: emptyWalRaceTally,
  });
  console.log(
    `${name}: ${runCount} scripts, ${total.acknowledgedRecords} records acknowledged, ${total.syncsResolved} syncs checked, ` +
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
