/**
 * Power-cut sweep: random workloads on a Wal over the SimulatedFileSystem,
 * the power cut at a random I/O step (a mutating call: write, fdatasync,
 * ftruncate, create, rename, unlink, folder fsync), then the log reopened on
 * what a reboot finds and checked against what was attempted and what was
 * acknowledged:
 *
 * - open succeeds (a damaged tail is never corruption);
 * - the recovered offsets are dense, and every recovered record is the
 *   record attempted at that offset, byte for byte (nothing invented);
 * - every record the policy promised is there: under 'always' every
 *   acknowledged append; under 'os' and batch everything acknowledged before
 *   a resolved sync() or close();
 * - nothing removed by a resolved truncateBefore comes back;
 * - no temp files are left; appending continues at nextOffset.
 *
 * A case is a workload seed and a cut step. A failure prints both; replay with
 *   TIDEWAL_SIM_SEED=<seed>:<step> node scripts/run-tests.mjs power-cut
 * (or TIDEWAL_SIM_SEED=<seed> for every cut of that workload). More cuts:
 *   TIDEWAL_SIM_CUTS=50000 node scripts/run-tests.mjs power-cut   (npm run torture)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng, SimulatedFileSystem } from '../../src/io/simulated-file-system.js';
import type { PowerCutOptions, SimulatedFileSystemOptions } from '../../src/io/simulated-file-system.js';
import { Wal } from '../../src/log/wal.js';
import type { FsyncPolicy, WalOptions } from '../../src/log/options.js';
import { cutDuringRecovery } from './cut-sweep.js';

const DIR = '/log';
const CUTS_DEFAULT = 2400;
const CUTS_PER_WORKLOAD = 8;

interface Workload {
  readonly seed: number;
  readonly policy: 'always' | 'batch' | 'os';
  readonly options: Omit<WalOptions, 'dir' | 'fileSystem'>;
  readonly operations: Operation[];
  /** How a cut treats unsynced writes; 'any' order can make a hole before good data. */
  readonly powerCut: PowerCutOptions;
}

type Operation =
  | { readonly kind: 'append'; readonly datas: Buffer[] } // concurrent single appends
  | { readonly kind: 'batch'; readonly datas: Buffer[] }
  | { readonly kind: 'sync' }
  | { readonly kind: 'truncate'; readonly fraction: number }
  | { readonly kind: 'reopen' };

function record(random: Prng, serial: number): Buffer {
  const large = random.chance(0.1);
  const sizeBytes = large ? 600 + random.below(2500) : 1 + random.below(200);
  // A header that names the record, then bytes that depend on it: a record
  // returned at the wrong offset or with foreign bytes cannot pass.
  const data = random.bytes(sizeBytes);
  if (sizeBytes >= 4) data.writeUInt32LE(serial, 0);
  return data;
}

function makeWorkload(seed: number): Workload {
  const random = new Prng(seed);
  const roll = random.next();
  const policy = roll < 0.6 ? 'always' : roll < 0.8 ? 'batch' : 'os';
  // A long batch interval keeps replays exact (no timer fires mid-workload);
  // sync() and close() are what this sweep checks for batch and 'os'.
  const fsync: FsyncPolicy = policy === 'batch' ? { batch: { intervalMs: 60_000 } } : policy;
  const options: Omit<WalOptions, 'dir' | 'fileSystem'> = {
    fsync,
    segmentBytes: 4096 + random.below(3) * 4096,
    ...(random.chance(0.5) ? { segmentMaxRecords: 3 + random.below(20) } : {}),
    ...(random.chance(0.3) ? { preallocate: policy !== 'always' } : {}),
    ...(policy === 'always' && random.chance(0.5) ? { blockingWrites: true } : {}),
  };
  const operations: Operation[] = [];
  let serial = 0;
  const operationCount = 10 + random.below(40);
  for (let index = 0; index < operationCount; index++) {
    const pick = random.next();
    if (pick < 0.5) {
      const count = 1 + (random.chance(0.5) ? 0 : random.below(8));
      operations.push({ kind: 'append', datas: Array.from({ length: count }, () => record(random, serial++)) });
    } else if (pick < 0.7) {
      const count = 1 + random.below(6);
      operations.push({ kind: 'batch', datas: Array.from({ length: count }, () => record(random, serial++)) });
    } else if (pick < 0.82) {
      operations.push({ kind: 'sync' });
    } else if (pick < 0.92) {
      operations.push({ kind: 'truncate', fraction: random.next() });
    } else {
      operations.push({ kind: 'reopen' });
    }
  }
  // Under 'always' the writes of a segment are O_DSYNC, so nothing but the
  // write in flight is unsynced and any order is fair. Under 'os' and batch
  // page writeback may reorder writes; see the 'any'-order test below.
  const powerCut: PowerCutOptions = { order: policy === 'always' ? 'any' : 'prefix' };
  return { seed, policy, options, operations, powerCut };
}

/** What the workload did, as far as the checks need. */
interface Outcome {
  /** attempted[offset]: the bytes appended at that offset (acknowledged or not). */
  readonly attempted: Buffer[];
  /** Offsets whose append resolved. */
  readonly acknowledged: Set<number>;
  /** Every offset below this was covered by a resolved sync() or close(). */
  syncedBelow: number;
  /** firstOffset after the last resolved truncateBefore (nothing below may come back). */
  truncatedBelow: number;
  /** The highest offset a truncateBefore was called with, resolved or not (records below it may go). */
  truncateRequestedBelow: number;
  /** An error that was not caused by the power cut: a bug. */
  unexpected: unknown;
}

async function openWal(fileSystem: SimulatedFileSystem, workload: Workload, extra: Partial<WalOptions> = {}): Promise<Wal> {
  return Wal.open({ dir: DIR, fileSystem, clock: fileSystem.clock, ...workload.options, ...extra });
}

/**
 * Runs the workload until it ends or the power goes. Offsets are reserved
 * in call order, so the n-th record attempted since open gets
 * `nextOffset at open + n`.
 */
async function runWorkload(fileSystem: SimulatedFileSystem, workload: Workload): Promise<Outcome> {
  const outcome: Outcome = { attempted: [], acknowledged: new Set(), syncedBelow: 0, truncatedBelow: 0, truncateRequestedBelow: 0, unexpected: null };
  let wal: Wal | null = null;
  const pending: Promise<unknown>[] = [];
  const expectOffset = (offset: number, data: Buffer): void => {
    if (!outcome.attempted[offset]?.equals(data)) outcome.unexpected ??= new Error(`offset ${offset} was not the record appended there`);
    outcome.acknowledged.add(offset);
  };
  try {
    wal = await openWal(fileSystem, workload);
    for (const operation of workload.operations) {
      const current: Wal = wal;
      switch (operation.kind) {
        case 'append': {
          const appends = operation.datas.map((data) => {
            outcome.attempted.push(data);
            return current.append(data).then(({ offset }) => expectOffset(offset, data));
          });
          pending.push(...appends);
          await Promise.all(appends);
          break;
        }
        case 'batch': {
          outcome.attempted.push(...operation.datas);
          const batch = current.appendBatch(operation.datas).then((offsets) => {
            offsets.forEach((offset, index) => expectOffset(offset, operation.datas[index] as Buffer));
          });
          pending.push(batch);
          await batch;
          break;
        }
        case 'sync': {
          const before = current.nextOffset;
          await current.sync();
          outcome.syncedBelow = Math.max(outcome.syncedBelow, before);
          break;
        }
        case 'truncate': {
          const target = current.firstOffset + Math.floor(operation.fraction * (current.nextOffset - current.firstOffset + 1));
          const offset = Math.min(target, current.nextOffset);
          outcome.truncateRequestedBelow = Math.max(outcome.truncateRequestedBelow, offset);
          await current.truncateBefore(offset);
          outcome.truncatedBelow = Math.max(outcome.truncatedBelow, current.firstOffset);
          break;
        }
        case 'reopen': {
          const before = current.nextOffset;
          wal = null;
          await current.close();
          outcome.syncedBelow = Math.max(outcome.syncedBelow, before);
          wal = await openWal(fileSystem, workload);
          if (wal.nextOffset !== before) outcome.unexpected ??= new Error(`reopen after close: nextOffset ${wal.nextOffset}, expected ${before}`);
          break;
        }
      }
    }
    const before = wal.nextOffset;
    await wal.close();
    wal = null;
    outcome.syncedBelow = Math.max(outcome.syncedBelow, before);
  } catch (error) {
    if (!fileSystem.dead) outcome.unexpected ??= error;
  }
  await Promise.allSettled(pending);
  // The dead log's close() releases timers and handles; its I/O fails, as it would.
  if (wal !== null) await wal.close().catch(() => {});
  return outcome;
}

/** The checks after a reboot; throws an AssertionError naming what broke. */
async function checkRecovered(rebooted: SimulatedFileSystem, workload: Workload, outcome: Outcome): Promise<number> {
  // The LOCK names this very process, which died at the cut; a reboot has a new one.
  rebooted.deleteFile(`${DIR}/LOCK`);
  const wal = await openWal(rebooted, workload);
  try {
    const { firstOffset, nextOffset } = wal;
    const mustHold = workload.policy === 'always' ? [...outcome.acknowledged] : [...outcome.acknowledged].filter((offset) => offset < outcome.syncedBelow);
    for (const offset of mustHold) {
      if (offset < outcome.truncateRequestedBelow) continue;
      assert.ok(offset >= firstOffset && offset < nextOffset, `acknowledged offset ${offset} lost: recovered [${firstOffset}, ${nextOffset})`);
    }
    assert.ok(firstOffset >= outcome.truncatedBelow || firstOffset === nextOffset, `firstOffset ${firstOffset} below ${outcome.truncatedBelow}: truncated data came back`);
    assert.ok(nextOffset >= outcome.truncatedBelow, `nextOffset ${nextOffset} below ${outcome.truncatedBelow}, where a finished truncation left the log: offsets would be reused`);
    assert.ok(nextOffset <= outcome.attempted.length, `nextOffset ${nextOffset} beyond the ${outcome.attempted.length} records attempted`);
    let expected = firstOffset;
    for await (const { offset, data } of wal.read({})) {
      assert.equal(offset, expected, 'recovered offsets are dense');
      const attempted = outcome.attempted[offset];
      assert.ok(attempted !== undefined && attempted.equals(Buffer.from(data)), `offset ${offset}: bytes differ from the record attempted there`);
      expected += 1;
    }
    assert.equal(expected, nextOffset, 'read yields every record up to nextOffset');
    const probe = Buffer.from(`after reboot ${workload.seed}`);
    const { offset } = await wal.append(probe);
    assert.equal(offset, nextOffset, 'appending continues at nextOffset');
    await wal.close();
    // The new log prepares its next segment under a temp name that may equal
    // one the crash left (same pid, same sequence), so count after close:
    // a leftover that open did not remove would still be here.
    const temporaryAfterClose = rebooted.listFiles().filter((path) => path.endsWith('.tmp'));
    assert.deepEqual(temporaryAfterClose, [], 'no temp files after close');
    const again = await openWal(rebooted, workload);
    try {
      assert.equal(again.nextOffset, nextOffset + 1, 'clean reopen sees the appended record');
      assert.ok(again.recovery.clean, 'reopen after close is clean');
    } finally {
      await again.close();
    }
    return nextOffset - firstOffset;
  } finally {
    await wal.close().catch(() => {});
  }
}

/**
 * Simulated time per call, by seed: the loop-turn check under 'os' and
 * batch then lets the loop turn after a different number of calls in
 * different workloads, so the sweep meets more schedules, each replayable.
 */
const CALL_MS_CHOICES = [0.02, 0.1, 0.3, 0.7] as const;

function simulatedFor(workload: Workload, options: Omit<SimulatedFileSystemOptions, 'seed' | 'callMs'> = {}): SimulatedFileSystem {
  return new SimulatedFileSystem({ seed: workload.seed, callMs: CALL_MS_CHOICES[workload.seed % CALL_MS_CHOICES.length] ?? 0.1, ...options });
}

/** Counts the steps a whole workload takes, with no cut. */
async function countSteps(workload: Workload): Promise<number> {
  const fileSystem = simulatedFor(workload);
  const outcome = await runWorkload(fileSystem, workload);
  if (outcome.unexpected !== null) throw outcome.unexpected;
  return fileSystem.stepCount;
}

async function runCut(workload: Workload, cutStep: number): Promise<void> {
  const fileSystem = simulatedFor(workload, { cutAtStep: cutStep, powerCut: workload.powerCut });
  const outcome = await runWorkload(fileSystem, workload);
  if (outcome.unexpected !== null) throw outcome.unexpected;
  // A cut past the workload's last step: cut now, with everything at rest.
  const rebooted = fileSystem.afterCut ?? fileSystem.powerCut(workload.powerCut);
  await checkRecovered(rebooted, workload, outcome);
}

/**
 * What a replay must reproduce: the calls in order, and the files' sizes
 * (not their bytes: each segment gets a random nonce).
 */
async function runTrace(workload: Workload): Promise<string> {
  const fileSystem = simulatedFor(workload, { trace: true });
  const outcome = await runWorkload(fileSystem, workload);
  if (outcome.unexpected !== null) throw outcome.unexpected;
  const files = fileSystem.listFiles().map((path) => `${path} ${fileSystem.fileContent(path)?.length ?? -1} bytes`);
  // Temp files are named by process id and a process-wide counter.
  return [...fileSystem.trace, ...files].join('\n').replace(/\.\d+\.\d+\.tmp\b/g, '.tmp');
}

function describeCase(workload: Workload, cutStep: number): string {
  return `TIDEWAL_SIM_SEED=${workload.seed}:${cutStep} (policy ${workload.policy}, ${JSON.stringify(workload.options)})`;
}

async function sweep(seeds: number[], cutsPerWorkload: number, only: number | null): Promise<{ cuts: number; failures: string[] }> {
  let cuts = 0;
  const failures: string[] = [];
  for (const seed of seeds) {
    const workload = makeWorkload(seed);
    const stepCount = await countSteps(workload);
    const random = new Prng(seed ^ 0x5bd1e995);
    const steps = only !== null ? [only] : Array.from({ length: cutsPerWorkload }, () => 1 + random.below(stepCount + 1));
    for (const cutStep of steps) {
      cuts += 1;
      try {
        await runCut(workload, cutStep);
      } catch (error) {
        const message = `${describeCase(workload, cutStep)}: ${error instanceof Error ? error.stack ?? error.message : String(error)}`;
        failures.push(message);
        console.error(`power-cut failure: ${message}`);
        if (failures.length >= 5) return { cuts, failures };
      }
    }
  }
  return { cuts, failures };
}

function seedsFromEnvironment(): { seeds: number[]; only: number | null } | null {
  const replay = process.env['TIDEWAL_SIM_SEED'];
  if (replay === undefined || replay === '') return null;
  const [seedText = '', stepText] = replay.split(':');
  return { seeds: [Number(seedText)], only: stepText === undefined ? null : Number(stepText) };
}

test('a power cut at any I/O step loses no acknowledged record and invents none', { timeout: 15 * 60_000 }, async () => {
  const replay = seedsFromEnvironment();
  const totalCuts = Number(process.env['TIDEWAL_SIM_CUTS'] ?? CUTS_DEFAULT);
  const baseSeed = Number(process.env['TIDEWAL_SIM_BASE_SEED'] ?? 1);
  const workloadCount = Math.ceil(totalCuts / CUTS_PER_WORKLOAD);
  const seeds = replay?.seeds ?? Array.from({ length: workloadCount }, (_, index) => baseSeed + index);
  const started = performance.now();
  const { cuts, failures } = await sweep(seeds, replay === null ? CUTS_PER_WORKLOAD : 40, replay?.only ?? null);
  console.log(`power-cut sweep: ${cuts} cuts over ${seeds.length} workloads (seeds ${seeds[0]}..${seeds[seeds.length - 1]}) in ${Math.round(performance.now() - started)} ms`);
  assert.deepEqual(failures, []);
});

/**
 * The power can go again while a log recovers from a cut (a machine that
 * reboots in a loop). Each workload is cut once at a random step; the open
 * (recovery) and close on the rebooted state are then cut at each of their
 * own steps in turn, and the state after that second reboot must pass every
 * check of the first.
 */
test('a second power cut during the recovery from a first one loses nothing either', { timeout: 15 * 60_000 }, async () => {
  const workloadCount = Number(process.env['TIDEWAL_SIM_RECOVERY_WORKLOADS'] ?? 80);
  const failures: string[] = [];
  let cuts = 0;
  for (let seed = 7001; seed < 7001 + workloadCount; seed++) {
    const workload = makeWorkload(seed);
    const firstCut = 1 + new Prng(seed).below(await countSteps(workload));
    const fileSystem = simulatedFor(workload, { cutAtStep: firstCut, powerCut: workload.powerCut });
    const outcome = await runWorkload(fileSystem, workload);
    if (outcome.unexpected !== null) {
      failures.push(`seed ${seed} step ${firstCut}: ${String(outcome.unexpected)}`);
      continue;
    }
    const rebooted = fileSystem.afterCut ?? fileSystem.powerCut(workload.powerCut);
    rebooted.deleteFile(`${DIR}/LOCK`);
    const second = await cutDuringRecovery(
      rebooted,
      async (image) => (await openWal(image, workload)).close(),
      async (rebootedAgain) => void (await checkRecovered(rebootedAgain, workload, outcome)),
      workload.powerCut,
    );
    cuts += second.cutCount;
    failures.push(...second.failures.map((failure) => `seed ${seed} step ${firstCut}, then ${failure}`));
  }
  console.log(`recovery cuts: ${cuts} over ${workloadCount} workloads`);
  assert.ok(cuts >= workloadCount, 'every recovery took steps to cut');
  assert.deepEqual(failures, []);
});

/**
 * A seed must replay the same run, or a failure found by the long sweep
 * cannot be replayed and a regression test of it proves little. The engine
 * makes time-based choices (the loop-turn check under 'os' and batch, the
 * segment preparer's depth); with the simulation's clock they replay.
 */
test('a simulated workload replays exactly: same calls in the same order', { timeout: 5 * 60_000 }, async () => {
  const policies = new Map<string, number>();
  for (let seed = 2601; seed < 2601 + 40; seed++) {
    const workload = makeWorkload(seed);
    policies.set(workload.policy, (policies.get(workload.policy) ?? 0) + 1);
    const first = await runTrace(workload);
    const second = await runTrace(workload);
    assert.equal(second, first, `seed ${seed} (${workload.policy}) ran differently the second time`);
  }
  assert.deepEqual([...policies.keys()].sort(), ['always', 'batch', 'os'], 'the seeds cover every policy');
});

/**
 * Workloads of the long sweep (`npm run torture`) that once failed, each
 * replayed at 40 cuts. 2613 ('os'): a cut lost an earlier segment's file
 * while a later segment's index trailer survived, so recovery trusted a
 * segment count the files did not hold (found by the 50,000-cut sweep; the
 * 'os' seal now syncs the folder before the trailer). That run took its
 * schedule from the wall clock and cannot be replayed; 12735 is the same
 * failure found again with the simulated clock, by a sweep of seeds
 * 5001-15000 with the folder sync turned off. Workloads have changed since,
 * and 12735 no longer reaches it; a review that turned the sync off again
 * found it at step 76 of workload 4388, which is replayed exactly.
 */
test('power-cut workloads that once failed stay fixed', { timeout: 5 * 60_000 }, async () => {
  const swept = await sweep([2613, 12735, 4388], 40, null);
  const pinned = await sweep([4388], 1, 76);
  console.log(`once-failed workloads: ${swept.cuts + pinned.cuts} cuts`);
  assert.deepEqual([...swept.failures, ...pinned.failures], []);
});

/** A fixed workload that rotates often and truncates: every step of rotation and truncateBefore gets a cut. */
function rotationWorkload(seed: number, policy: 'always' | 'os' = 'always'): Workload {
  const random = new Prng(seed);
  const operations: Operation[] = [];
  let serial = 0;
  for (let index = 0; index < 12; index++) {
    operations.push({ kind: 'append', datas: Array.from({ length: 1 + random.below(3) }, () => record(random, serial++)) });
    if (index % 4 === 3) operations.push({ kind: 'truncate', fraction: 0.6 });
    if (index === 6) operations.push({ kind: 'batch', datas: [record(random, serial++), record(random, serial++)] });
  }
  operations.push({ kind: 'reopen' });
  operations.push({ kind: 'truncate', fraction: 1 });
  operations.push({ kind: 'append', datas: [record(random, serial++)] });
  return { seed, policy, options: { fsync: policy, segmentBytes: 4096, segmentMaxRecords: 3 }, operations, powerCut: { order: 'any' } };
}

test('a power cut at every step of rotation, truncateBefore and close keeps the log whole', { timeout: 5 * 60_000 }, async () => {
  const failures: string[] = [];
  let cuts = 0;
  // Under 'os' nothing syncs the folder but sealing: a cut can lose a whole
  // segment file that was created and renamed, and a later segment's index
  // trailer must not survive it (recovery trusts what comes before a trailer).
  for (const [seed, policy] of [[101, 'always'], [202, 'always'], [303, 'always'], [404, 'os'], [505, 'os'], [606, 'os']] as const) {
    const workload = rotationWorkload(seed, policy);
    const stepCount = await countSteps(workload);
    for (let cutStep = 1; cutStep <= stepCount + 1; cutStep++) {
      cuts += 1;
      try {
        await runCut(workload, cutStep);
      } catch (error) {
        failures.push(`seed ${seed} (${policy}) step ${cutStep}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  console.log(`rotation/truncate crash points: ${cuts} cuts`);
  assert.deepEqual(failures, []);
});

/**
 * Under 'os' and batch the kernel may write pages back in any order, so a
 * power cut can lose an earlier unsynced write and keep a later one: a hole
 * before good data, inside the part of the log no sync() covered. Each frame
 * records how far the log was synced when it was written, so recovery knows
 * such a hole is a torn tail: open must succeed, and every record a resolved
 * sync() covered must survive.
 */
test('under os and batch a reordered writeback loses only unsynced records, and open never refuses', { timeout: 5 * 60_000 }, async () => {
  const failures: string[] = [];
  let cuts = 0;
  const cutCount = Number(process.env['TIDEWAL_SIM_REORDER_CUTS'] ?? 320);
  for (let seed = 5001; cuts < cutCount; seed++) {
    const base = makeWorkload(seed);
    if (base.policy === 'always') continue;
    const workload: Workload = { ...base, powerCut: { order: 'any' } };
    const stepCount = await countSteps(workload);
    const random = new Prng(seed);
    for (let index = 0; index < CUTS_PER_WORKLOAD; index++) {
      const cutStep = 1 + random.below(stepCount + 1);
      cuts += 1;
      const fileSystem = simulatedFor(workload, { cutAtStep: cutStep, powerCut: workload.powerCut });
      const outcome = await runWorkload(fileSystem, workload);
      const rebooted = fileSystem.afterCut ?? fileSystem.powerCut(workload.powerCut);
      try {
        if (outcome.unexpected !== null) throw outcome.unexpected;
        await checkRecovered(rebooted, workload, outcome);
      } catch (error) {
        failures.push(`TIDEWAL_SIM_SEED=${seed}:${cutStep} (any order): ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      }
    }
  }
  console.log(`reordered writeback: ${cuts} cuts`);
  assert.deepEqual(failures, []);
});
