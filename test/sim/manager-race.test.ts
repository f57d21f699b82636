/**
 * Race test of the WalManager: scripts of operations started concurrently
 * without awaiting each other, on 2 topics of up to 4 partitions with tiny
 * segments and an LRU of 2 or 3 open logs (so logs close and reopen under
 * load), under 'always' (shared journal or per-log), 'os' and batch:
 * appends of single records and arrays, reads, tails with abort, mgr.log()
 * then the user closing that Wal, withLog, checkpoint commits (also past a
 * log's end, which must be refused), gets and deletes, retention passes
 * under per-log policies (some guarded by a checkpoint or by 'min'),
 * consumers of a group that commit as they go, and manager close and
 * reopen. I/O completes as the disk has it, with seeded jitter, or in an
 * order a fast-check scheduler picks. Each run checks the promises as
 * results arrive and on the manager reopened at the end
 * (manager-race-run.ts): acknowledged records readable with their bytes at
 * their offsets, offsets dense and never reused, arrays all-or-none,
 * reads, tails and consumers yielding only acknowledged records in order,
 * consumers resuming at their group's checkpoint, checkpoints as the
 * commits and deletes that resolved leave them, retention never deleting
 * at or above its guard, typed rejections, no hang and no unhandled
 * rejection.
 *
 * The seeds are fixed, so every run replays the same scripts (I/O timing
 * still varies from run to run). A failure names the seed, the run and the
 * path; replay with
 *   TIDEWAL_MANAGER_RACE_SEED=<seed> TIDEWAL_MANAGER_RACE_PATH=<path> node scripts/run-tests.mjs sim/manager-race
 * TIDEWAL_MANAGER_RACE_RUNS=<n> runs more scripts per test;
 * TIDEWAL_MANAGER_RACE_SHRINK=1 shrinks a failing script (slow, and only as
 * reliable as its timing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshFolders } from '../temp-folders.js';
import { describeIoOrder } from './io-order.js';
import { emptyManagerRaceTally, runManagerRace } from './manager-race-run.js';
import { managerRaceScriptArbitrary } from './manager-race-script.js';
import type { ManagerRaceScript } from './manager-race-script.js';
import { checkRaceScripts, watchUnhandledRejections } from './race-check.js';

/** Scripts per test: the default keeps this file near 10 s on two cores. */
const RUNS = Number(process.env['TIDEWAL_MANAGER_RACE_RUNS'] ?? 14);
/** Operations per script at most. */
const STEP_COUNT_MAX = 60;
/** Any one operation (or the final close) taking this long is a hang: the engine never waits that long on a healthy disk. */
const HANG_MS = 10_000;

const nextFolder = freshFolders('tidewal-manager-race-');
watchUnhandledRejections();

function describeScript(script: ManagerRaceScript): string {
  return (
    `fsync ${JSON.stringify(script.fsync)}, syncStream ${script.syncStream}, ${script.partitionCount} partition(s) per topic, ` +
    `maxOpenLogs ${script.maxOpenLogs}, segmentMaxRecords ${script.segmentMaxRecords}, journalCheckpointBytes ${script.journalCheckpointBytes}, ` +
    `retention [${script.retention.join(', ')}], io ${describeIoOrder(script.ioOrder)}, ${script.steps.length} steps`
  );
}

async function checkRaces(name: string, ioOrder: 'scheduled' | 'unscheduled', defaultSeed: number): Promise<void> {
  const { seed, runCount, total } = await checkRaceScripts({
    name,
    envPrefix: 'TIDEWAL_MANAGER_RACE',
    testPattern: 'sim/manager-race',
    defaultSeed,
    runs: RUNS,
    scripts: managerRaceScriptArbitrary(ioOrder, STEP_COUNT_MAX),
    run: (script) => runManagerRace(script, nextFolder(), HANG_MS),
    describe: describeScript,
    emptyTally: emptyManagerRaceTally,
  });
  console.log(
    `${name}: ${runCount} scripts, ${total.acknowledgedRecords} records acknowledged, ${total.recordsObserved} read, tailed or consumed ` +
      `(${total.recordsConsumed} by consumers), ${total.commitsResolved} commits resolved, ${total.commitsRefused} refused, ` +
      `${total.segmentsDeleted} segments deleted by retention, ${total.protectedCommits} commits watched for retention, ${total.userCloses} logs closed by their user, ${total.reopens} reopens`,
  );
  // A harness that checks nothing passes too: make sure the scripts did the work.
  assert.ok(
    total.acknowledgedRecords > 0 && total.recordsConsumed > 0 && total.commitsResolved > 0 && total.commitsRefused > 0 && total.segmentsDeleted > 0,
    `${name}: seed ${seed}: the scripts exercised too little`,
  );
}

test('concurrent WalManager operations keep their promises, I/O completing as the disk (or seeded jitter) has it', async () => {
  await checkRaces('manager race (disk order)', 'unscheduled', 20_260_101);
});

test('concurrent WalManager operations keep their promises, I/O completing in an order fast-check picks', async () => {
  await checkRaces('manager race (scheduled order)', 'scheduled', 20_260_102);
});
