/**
 * tidewal's benchmark: W1-W7 (docs/performance.md, "Workloads") on the engine and, in the same
 * run, on a raw node:fs reference, reported as ratios (absolute figures on a
 * shared machine are noise; ratios measured side by side are not). Then
 * issue 3's stress test S1 against its absolute targets (with the raw W2
 * loop of the same run as context) and the partition sweep P.
 *
 * Usage: npm run bench | npm run bench:quick | node build/bench/main.js --help
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchArgs } from './args.js';
import { USAGE, isSelected, parseBenchArgs } from './args.js';
import type { BigLog } from './big-log.js';
import { buildBigLog } from './big-log.js';
import { preallocateLabel } from './engine.js';
import { describeMachine } from './machine.js';
import type { MeasurementSummary, RunMeasurement } from './measurement.js';
import { megabytesPerSecond, recordsPerSecond, summarizeRuns } from './measurement.js';
import { runEngineRead, runReferenceRead } from './read-workload.js';
import { runCleanReopen, runReopenAfterKill } from './reopen-workload.js';
import type { ReferenceEntry } from './report.js';
import { formatReport, writeReport } from './report.js';
import { dropPageCache, getScratchRoot, makeScratchDir, removeDeferredScratchDirs, removeScratchDir, setScratchRoot } from './scratch.js';
import type { StressCase, StressRow, StressSection } from './stress-workloads.js';
import { S1_CASES, SWEEP_CASES, checkSweep, judgeStressRow, runStressCase, summarizeStress } from './stress-workloads.js';
import type { Comparison } from './targets.js';
import { judge } from './targets.js';
import type { AppendCase, TimingOptions } from './workloads.js';
import {
  APPEND_CASES,
  referenceIdOf,
  runBufferedWriteOf,
  runEngineAppend,
  runFioStyleSyncWrites,
  runReferenceAppend,
} from './workloads.js';

const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/results');
const MIB = 1024 * 1024;

/** Every run of every measurement, keyed `engine:<id><label>` or `ref:<id>`. */
class RunLog {
  readonly #runs = new Map<string, RunMeasurement[]>();

  add(key: string, run: RunMeasurement): void {
    const runs = this.#runs.get(key) ?? [];
    runs.push(run);
    this.#runs.set(key, runs);
  }

  runsOf(key: string): readonly RunMeasurement[] {
    return this.#runs.get(key) ?? [];
  }

  summary(key: string): MeasurementSummary | null {
    const runs = this.#runs.get(key);
    return runs === undefined || runs.length === 0 ? null : summarizeRuns(runs);
  }
}

function progress(runIndex: number, runCount: number, name: string, run: RunMeasurement): void {
  const figures =
    run.recordCount > 0
      ? `${Math.round(recordsPerSecond(run)).toLocaleString('en-US')} rec/s, ${megabytesPerSecond(run).toFixed(1)} MB/s` +
        (run.latency === null ? '' : `, p50 ${Math.round(run.latency.p50Us)} us, p99 ${Math.round(run.latency.p99Us)} us`) +
        (run.syncCount ? `, ${(run.recordCount / run.syncCount).toFixed(1)} rec/fsync` : '')
      : `${run.elapsedMs.toFixed(2)} ms`;
  process.stderr.write(`[run ${runIndex + 1}/${runCount}] ${name}: ${figures}\n`);
}

async function runAppendWorkloads(args: BenchArgs, runLog: RunLog): Promise<void> {
  const timing: TimingOptions = { durationMs: args.durationMs, warmupMs: args.warmupMs, countSyncs: args.countSyncs };
  const cases = APPEND_CASES.filter((appendCase) => isSelected(args.only, appendCase.id));
  for (let runIndex = 0; runIndex < args.runCount; runIndex += 1) {
    for (const appendCase of cases) {
      // Alternate who goes first, so a drift in the machine's state does not always favour one side.
      const referenceFirst = runIndex % 2 === 1;
      // A variant (blockingWrites) is compared with its base case's reference run.
      const ownReference = appendCase.referenceId === undefined;
      if (referenceFirst && ownReference) await measureReference(appendCase, timing, runLog, runIndex, args.runCount);
      for (const preallocate of args.preallocate) {
        const label = `${appendCase.id}${preallocateLabel(preallocate)}`;
        const run = await runEngineAppend(appendCase, preallocate, timing);
        runLog.add(`engine:${label}`, run);
        progress(runIndex, args.runCount, `tidewal ${label}`, run);
      }
      if (!referenceFirst && ownReference) await measureReference(appendCase, timing, runLog, runIndex, args.runCount);
      if (appendCase.id === 'W3/16') await measureBufferedWrite(args, runLog, runIndex);
    }
    if (cases.some((appendCase) => appendCase.id === 'W1')) {
      const run = await runFioStyleSyncWrites(timing);
      runLog.add('ref:fio', run);
      progress(runIndex, args.runCount, 'fio-style write+fdatasync', run);
    }
  }
}

async function measureReference(
  appendCase: AppendCase,
  timing: TimingOptions,
  runLog: RunLog,
  runIndex: number,
  runCount: number,
): Promise<void> {
  const run = await runReferenceAppend(appendCase, timing);
  runLog.add(`ref:${appendCase.id}`, run);
  progress(runIndex, runCount, `reference ${appendCase.id}`, run);
}

/** The same bytes tidewal's W3/16 wrote in this round (the most of its variants), written buffered + one fsync. */
async function measureBufferedWrite(args: BenchArgs, runLog: RunLog, runIndex: number): Promise<void> {
  let byteCount = 0;
  for (const preallocate of args.preallocate) {
    const runs = runLog.runsOf(`engine:W3/16${preallocateLabel(preallocate)}`);
    byteCount = Math.max(byteCount, runs[runs.length - 1]?.byteCount ?? 0);
  }
  if (byteCount === 0) return;
  const run = await runBufferedWriteOf(byteCount, 1024);
  runLog.add('ref:buffered', run);
  progress(runIndex, args.runCount, `buffered write+fsync of ${(byteCount / MIB).toFixed(0)} MiB`, run);
}

async function runLogWorkloads(args: BenchArgs, runLog: RunLog, notes: string[]): Promise<BigLog | null> {
  const wantsRead = isSelected(args.only, 'W6');
  const wantsReopen = isSelected(args.only, 'W7');
  if (!wantsRead && !wantsReopen) return null;
  const dir = await makeScratchDir('big-log');
  try {
    process.stderr.write(`building a ${args.logMiB} MiB log for W6/W7 in ${dir}\n`);
    const bigLog = await buildBigLog(dir, args.logMiB * MIB);
    process.stderr.write(
      `built ${bigLog.recordCount.toLocaleString('en-US')} records, ${(bigLog.segmentBytes / MIB).toFixed(1)} MiB of segments in ${bigLog.buildMs.toFixed(0)} ms\n`,
    );
    if (wantsRead) await runReadWorkloads(args, bigLog, runLog, notes);
    if (wantsReopen) await runReopenWorkloads(args, bigLog, runLog);
    return bigLog;
  } finally {
    await removeScratchDir(dir);
  }
}

async function runReadWorkloads(args: BenchArgs, bigLog: BigLog, runLog: RunLog, notes: string[]): Promise<void> {
  const wantsWarm = isSelected(args.only, 'W6/warm');
  let wantsCold = isSelected(args.only, 'W6/cold');
  if (wantsWarm) {
    // One untimed pass of each reader first: warm means the page cache and
    // the JIT are warm. A 64 MiB pass is over before V8 has optimized the
    // scan loop, and the first timed runs measured a third of the later ones.
    await runEngineRead(bigLog.dir, 'blocks');
    await runEngineRead(bigLog.dir, 'records');
    await runReferenceRead(bigLog.dir, bigLog.recordCount);
  }
  for (let runIndex = 0; runIndex < args.runCount; runIndex += 1) {
    if (wantsWarm) {
      await measureRead(runLog, 'W6/warm', runIndex, args.runCount, () => runEngineRead(bigLog.dir, 'blocks'), 'engine');
      await measureRead(runLog, 'W6/warm/read', runIndex, args.runCount, () => runEngineRead(bigLog.dir, 'records'), 'engine');
      await measureRead(runLog, 'W6/warm', runIndex, args.runCount, () => runReferenceRead(bigLog.dir, bigLog.recordCount), 'ref');
    }
    if (wantsCold) {
      for (const side of ['engine', 'engine-records', 'ref'] as const) {
        const drop = dropPageCache();
        if (!drop.dropped) {
          notes.push(`W6 cold skipped: ${drop.reason}`);
          process.stderr.write(`W6 cold skipped: ${drop.reason}\n`);
          wantsCold = false;
          break;
        }
        if (side === 'ref') await measureRead(runLog, 'W6/cold', runIndex, args.runCount, () => runReferenceRead(bigLog.dir, bigLog.recordCount), 'ref');
        else if (side === 'engine') await measureRead(runLog, 'W6/cold', runIndex, args.runCount, () => runEngineRead(bigLog.dir, 'blocks'), 'engine');
        else await measureRead(runLog, 'W6/cold/read', runIndex, args.runCount, () => runEngineRead(bigLog.dir, 'records'), 'engine');
      }
    }
  }
}

async function measureRead(
  runLog: RunLog,
  id: string,
  runIndex: number,
  runCount: number,
  read: () => Promise<RunMeasurement>,
  side: 'engine' | 'ref',
): Promise<void> {
  const run = await read();
  runLog.add(`${side}:${id}`, run);
  progress(runIndex, runCount, `${side === 'engine' ? 'tidewal' : 'plain 1 MiB read'} ${id}`, run);
}

async function runReopenWorkloads(args: BenchArgs, bigLog: BigLog, runLog: RunLog): Promise<void> {
  for (let runIndex = 0; runIndex < args.runCount; runIndex += 1) {
    if (isSelected(args.only, 'W7/clean')) {
      const run = await runCleanReopen(bigLog.dir);
      runLog.add('engine:W7/clean', run);
      progress(runIndex, args.runCount, 'tidewal W7/clean reopen', run);
    }
    if (isSelected(args.only, 'W7/kill')) {
      const run = await runReopenAfterKill(bigLog.dir);
      runLog.add('engine:W7/kill', run);
      const scannedBytes = Number(run.details['recovery.scannedBytes'] ?? Number.NaN);
      progress(runIndex, args.runCount, `tidewal W7/kill reopen (scanned ${(scannedBytes / MIB).toFixed(1)} MiB)`, run);
    }
  }
}

/**
 * S1 and the partition sweep (issue 3). S1's context is the raw W2 loop of
 * this run: the one W1-W5 measured, or, when W2 was not selected, one
 * measured here beside S1 (alternating who goes first, as W1-W5 do).
 */
async function runStressWorkloads(args: BenchArgs, runLog: RunLog): Promise<StressSection | null> {
  const s1Cases = S1_CASES.filter((stressCase) => isSelected(args.only, stressCase.id));
  const sweepCases = SWEEP_CASES.filter((stressCase) => isSelected(args.only, stressCase.id));
  if (s1Cases.length === 0 && sweepCases.length === 0) return null;
  const w2Case = APPEND_CASES.find((appendCase) => appendCase.id === 'W2');
  const measureW2Here = s1Cases.length > 0 && runLog.runsOf('ref:W2').length === 0 && w2Case !== undefined;
  const timing: TimingOptions = { durationMs: args.durationMs, warmupMs: args.warmupMs, countSyncs: args.countSyncs };
  await warmUpStress([...s1Cases, ...sweepCases], args.warmupMs);
  for (let runIndex = 0; runIndex < args.runCount && s1Cases.length > 0; runIndex += 1) {
    const referenceFirst = runIndex % 2 === 1;
    if (measureW2Here && referenceFirst) await measureReference(w2Case, timing, runLog, runIndex, args.runCount);
    for (const stressCase of s1Cases) await measureStress(stressCase, args.durationMs, runLog, runIndex, args.runCount);
    if (measureW2Here && !referenceFirst) await measureReference(w2Case, timing, runLog, runIndex, args.runCount);
  }
  for (let runIndex = 0; runIndex < args.sweepRunCount; runIndex += 1) {
    // Alternate the order of partition counts, so a drift in the machine's state does not always favour one end.
    const order = runIndex % 2 === 0 ? sweepCases : [...sweepCases].reverse();
    for (const stressCase of order) await measureStress(stressCase, args.durationMs, runLog, runIndex, args.sweepRunCount);
  }
  const w2Summary = runLog.summary('ref:W2');
  const reference = w2Summary === null ? null : { title: 'group-commit loop W2 (64 producers)', summary: w2Summary };
  const rowsOf = (cases: readonly StressCase[], withReference: boolean): StressRow[] =>
    cases.map((stressCase) =>
      judgeStressRow(summarizeStress(stressCase, runLog.runsOf(`engine:${stressCase.id}`)), withReference ? reference : null),
    );
  const sweep = rowsOf(sweepCases, false);
  return {
    durationMs: args.durationMs,
    s1RunCount: s1Cases.length === 0 ? 0 : args.runCount,
    sweepRunCount: sweepCases.length === 0 ? 0 : args.sweepRunCount,
    s1: rowsOf(s1Cases, true),
    sweep,
    sweepCheck: checkSweep(sweep),
  };
}

/** One short untimed run per fsync policy, so the JIT has seen the manager's paths before the first timed run. */
async function warmUpStress(cases: readonly StressCase[], warmupMs: number): Promise<void> {
  if (warmupMs <= 0) return;
  const seen = new Set<string>();
  for (const stressCase of cases) {
    const policy = JSON.stringify(stressCase.fsync);
    if (seen.has(policy)) continue;
    seen.add(policy);
    await runStressCase(stressCase, warmupMs);
  }
}

async function measureStress(stressCase: StressCase, durationMs: number, runLog: RunLog, runIndex: number, runCount: number): Promise<void> {
  const run = await runStressCase(stressCase, durationMs);
  runLog.add(`engine:${stressCase.id}`, run);
  const { details } = run;
  const failure = details['firstFailure'] ?? details['firstVerificationError'];
  progress(runIndex, runCount, `tidewal ${stressCase.id}`, run);
  process.stderr.write(
    `    fairness ${String(details['fairness'])}, ${String(details['failedWrites'])} failed writes, ` +
      `${String(details['rotations'])} rotations, verified ${String(details['verified'])} in ${String(details['verificationMs'])} ms` +
      (failure === null || failure === undefined ? '' : `; first problem: ${String(failure)}`) +
      '\n',
  );
}

/** Titles of every stress row and check that missed its target. */
function stressFailures(stress: StressSection | null): string[] {
  if (stress === null) return [];
  const failed = [...stress.s1, ...stress.sweep].filter((row) => !row.pass).map((row) => row.title);
  if (stress.sweepCheck !== null && !stress.sweepCheck.pass) failed.push('partition sweep: records/s at 16 partitions >= at 1');
  return failed;
}

interface RowSpec {
  readonly id: string;
  readonly title: string;
  readonly engineKey: string;
  readonly reference: { readonly key: string; readonly title: string } | null;
  readonly metric: Comparison['metric'];
}

/** Rows of the result table, in workload order. */
function rowSpecs(args: BenchArgs, bigLog: BigLog | null): RowSpec[] {
  const specs: RowSpec[] = [];
  for (const appendCase of APPEND_CASES) {
    for (const preallocate of args.preallocate) {
      const label = preallocateLabel(preallocate);
      const engineKey = `engine:${appendCase.id}${label}`;
      specs.push({
        id: appendCase.id,
        title: `${appendCase.title}${label}`,
        engineKey,
        reference: { key: `ref:${referenceIdOf(appendCase)}`, title: `group-commit loop ${referenceIdOf(appendCase)}` },
        metric: 'recordsPerSecond',
      });
      if (appendCase.id === 'W1') {
        const reference = { key: 'ref:fio', title: 'fio-style 1 KiB write+fdatasync' };
        specs.push({ id: 'W1-vs-fio', title: `W1${label} vs fio-style`, engineKey, reference, metric: 'recordsPerSecond' });
      }
      if (appendCase.id === 'W3/16') {
        const reference = { key: 'ref:buffered', title: 'buffered write + 1 fsync, same bytes' };
        const title = `W3 16 producers MB/s${label}`;
        specs.push({ id: 'W3/16-vs-buffered', title, engineKey, reference, metric: 'megabytesPerSecond' });
      }
    }
  }
  const size = bigLog === null ? '' : ` of ${(bigLog.payloadBytes / MIB).toFixed(0)} MiB`;
  for (const cache of ['warm', 'cold'] as const) {
    const id = `W6/${cache}`;
    const reference = { key: `ref:${id}`, title: `plain 1 MiB reads, ${cache}` };
    specs.push({ id, title: `W6 sequential read${size}, ${cache} (readBlocks)`, engineKey: `engine:${id}`, reference, metric: 'megabytesPerSecond' });
    const perRecord = `${id}/read`;
    specs.push({ id: perRecord, title: `W6 sequential read${size}, ${cache} (read, per record)`, engineKey: `engine:${perRecord}`, reference, metric: 'megabytesPerSecond' });
  }
  specs.push({ id: 'W7/clean', title: `W7 reopen${size} after clean close`, engineKey: 'engine:W7/clean', reference: null, metric: 'elapsedMs' });
  specs.push({ id: 'W7/kill', title: `W7 reopen${size} after SIGKILL`, engineKey: 'engine:W7/kill', reference: null, metric: 'elapsedMs' });
  return specs;
}

/** A row appears only if its engine side ran; its reference only if that ran too. */
function buildComparisons(specs: readonly RowSpec[], runLog: RunLog): Comparison[] {
  const comparisons: Comparison[] = [];
  for (const spec of specs) {
    const engine = runLog.summary(spec.engineKey);
    if (engine === null) continue;
    const referenceSummary = spec.reference === null ? null : runLog.summary(spec.reference.key);
    const reference = spec.reference === null || referenceSummary === null ? null : { title: spec.reference.title, summary: referenceSummary };
    comparisons.push({ id: spec.id, title: spec.title, engine, reference, metric: spec.metric });
  }
  return comparisons;
}

function buildReferences(runLog: RunLog): ReferenceEntry[] {
  const entries: Array<{ id: string; title: string }> = [
    ...APPEND_CASES.filter((appendCase) => appendCase.referenceId === undefined).map((appendCase) => ({
      id: appendCase.id,
      title: `group-commit loop: ${appendCase.title}`,
    })),
    { id: 'fio', title: 'fio-style: 1 KiB writeSync + fdatasyncSync' },
    { id: 'buffered', title: 'buffered 1 MiB writes + one fsync (W3/16 bytes)' },
    { id: 'W6/warm', title: 'plain 1 MiB fs.read of the segments, warm' },
    { id: 'W6/cold', title: 'plain 1 MiB fs.read of the segments, cold' },
  ];
  const references: ReferenceEntry[] = [];
  for (const { id, title } of entries) {
    const summary = runLog.summary(`ref:${id}`);
    if (summary !== null) references.push({ id, title, summary });
  }
  return references;
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (args.dir !== null) setScratchRoot(path.resolve(args.dir));
  const startedAt = new Date().toISOString();
  const machine = describeMachine(getScratchRoot());
  process.stderr.write(
    `tidewal bench: ${args.runCount} run(s), ${args.durationMs} ms per timed workload, preallocate ${args.preallocate.join('+')}, ` +
      `${machine.fileSystem} on ${machine.device}, Node ${machine.nodeVersion}\n`,
  );
  const runLog = new RunLog();
  const notes: string[] = [];
  let stress: Awaited<ReturnType<typeof runStressWorkloads>>;
  let bigLog: BigLog | null;
  try {
    await runAppendWorkloads(args, runLog);
    stress = await runStressWorkloads(args, runLog);
    bigLog = await runLogWorkloads(args, runLog, notes);
  } finally {
    await removeDeferredScratchDirs();
  }
  const rows = buildComparisons(rowSpecs(args, bigLog), runLog).map(judge);
  const report = {
    startedAt,
    finishedAt: new Date().toISOString(),
    command: `node build/bench/main.js ${process.argv.slice(2).join(' ')}`.trim(),
    options: { ...args },
    machine,
    rows,
    references: buildReferences(runLog),
    stress,
    notes,
  };
  const { jsonPath, summaryPath } = writeReport(RESULTS_DIR, report);
  process.stdout.write(`${formatReport(report)}\nwrote ${jsonPath} and ${summaryPath}\n`);
  const failed = [...rows.filter((row) => row.pass === false).map((row) => row.title), ...stressFailures(stress)];
  if (failed.length > 0) process.stderr.write(`targets missed: ${failed.join('; ')}\n`);
  if (args.strict && failed.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
