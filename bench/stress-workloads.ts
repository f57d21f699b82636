/**
 * Issue 3's benchmark: the stress test S1 (`runStress` of src/cli/stress.ts,
 * with its defaults: 16 producers, 4 partitions, 1 KiB records, a rotation
 * every 100 records) under `'always'` and `{ batch: { intervalMs: 5 } }`, and
 * the partition sweep P (16 producers over 1, 4, 16 and 64 partitions,
 * `'always'`). Each run writes into a fresh scratch folder, is read back and
 * checked by runStress's verification pass, and the folder is removed.
 *
 * Producer `i` writes partition `i % partitions`, so with 16 producers and 64
 * partitions only 16 partitions receive records (the other 48 are opened and
 * verified empty).
 */
import type { FsyncPolicy } from '../src/log/options.js';
import type { SyncStream } from '../src/manager/wal-manager.js';
import type { StressReport } from '../src/cli/stress.js';
import { formatFsync, runStress } from '../src/cli/stress.js';
import type { MeasurementSummary, RunMeasurement } from './measurement.js';
import { summarizeRuns } from './measurement.js';
import { makeScratchDir, removeScratchDir } from './scratch.js';
import { median } from './stats.js';
import type { StressCheck } from './targets.js';
import { judgeStress, judgeSweep } from './targets.js';

const PRODUCER_COUNT = 16;
const RECORD_BYTES = 1024;
const ROTATE_RECORDS = 100;

export interface StressCase {
  /** Stable id used by --only and in the JSON: `S1/always`, `P/16`. */
  readonly id: string;
  readonly title: string;
  readonly fsync: FsyncPolicy;
  readonly partitions: number;
  /** @default 'shared' (the manager's default) */
  readonly syncStream?: SyncStream;
}

export const S1_CASES: readonly StressCase[] = [
  { id: 'S1/always', title: "S1 16 producers, 4 partitions, 1 KiB, rotate 100, 'always'", fsync: 'always', partitions: 4 },
  {
    id: 'S1/always-per-log',
    title: "S1 16 producers, 4 partitions, 1 KiB, rotate 100, 'always', per-log sync stream",
    fsync: 'always',
    partitions: 4,
    syncStream: 'per-log',
  },
  {
    id: 'S1/batch5',
    title: 'S1 16 producers, 4 partitions, 1 KiB, rotate 100, batch 5 ms',
    fsync: { batch: { intervalMs: 5 } },
    partitions: 4,
  },
];

export const SWEEP_PARTITION_COUNTS: readonly number[] = [1, 4, 16, 64];

export const SWEEP_CASES: readonly StressCase[] = (['shared', 'per-log'] as const).flatMap((syncStream) =>
  SWEEP_PARTITION_COUNTS.map((partitions) => ({
    id: syncStream === 'shared' ? `P/${partitions}` : `P/${partitions}/per-log`,
    title: `P ${partitions} partition${partitions === 1 ? '' : 's'}, 16 producers, 1 KiB, rotate 100, 'always', ${syncStream} sync stream`,
    fsync: 'always',
    partitions,
    syncStream,
  })),
);

/** The sweep's check compares these two partition counts ("must not fall from 1 to 16"). */
export const SWEEP_CHECK_FROM = 'P/1';
export const SWEEP_CHECK_TO = 'P/16';

/** One run of `stressCase` for `durationMs`, in a fresh scratch folder, as a RunMeasurement with the stress figures in `details`. */
export async function runStressCase(stressCase: StressCase, durationMs: number): Promise<RunMeasurement> {
  const dir = await makeScratchDir(stressCase.id.replaceAll('/', '-'));
  try {
    const report = await runStress({
      producers: PRODUCER_COUNT,
      partitions: stressCase.partitions,
      recordBytes: RECORD_BYTES,
      rotateRecords: ROTATE_RECORDS,
      durationMs,
      fsync: stressCase.fsync,
      syncStream: stressCase.syncStream ?? 'shared',
      dir,
    });
    return toMeasurement(report);
  } finally {
    await removeScratchDir(dir);
  }
}

function toMeasurement(report: StressReport): RunMeasurement {
  return {
    recordCount: report.records,
    byteCount: report.bytes,
    elapsedMs: report.elapsedMs,
    latency: {
      count: report.records,
      p50Us: report.latencyUs.p50,
      p99Us: report.latencyUs.p99,
      p999Us: report.latencyUs.p999,
      maxUs: report.latencyUs.max,
      // runStress reports percentiles and the maximum, not the mean.
      meanUs: Number.NaN,
    },
    // runStress opens the manager with the engine's own FileSystem: no sync count.
    syncCount: null,
    details: {
      fsync: report.config.fsync,
      producers: report.config.producers,
      partitions: report.config.partitions,
      rotateRecords: report.config.rotateRecords,
      fairness: report.fairness,
      producerRecordsMin: report.producerRecordsMin,
      producerRecordsMax: report.producerRecordsMax,
      rotations: report.rotations,
      segments: report.segments,
      failedWrites: report.failedWrites,
      firstFailure: report.failures[0] ?? null,
      closeMs: report.closeMs,
      verified: report.verification.ok,
      recordsChecked: report.verification.recordsChecked,
      verificationMs: report.verification.durationMs,
      firstVerificationError: report.verification.errors[0] ?? null,
    },
  };
}

/** Medians over the runs of one stress case, plus its worst case where a single bad run matters. */
export interface StressSummary {
  readonly id: string;
  readonly title: string;
  readonly fsync: string;
  readonly partitions: number;
  readonly syncStream: SyncStream;
  readonly measurement: MeasurementSummary;
  /** Median over runs of min/max records per producer. */
  readonly fairness: number;
  /** Lowest fairness of any run. */
  readonly fairnessMin: number;
  /** Sum over all runs. */
  readonly failedWrites: number;
  /** Every run's verification passed. */
  readonly verified: boolean;
  /** Median over runs. */
  readonly rotations: number;
}

export function summarizeStress(stressCase: StressCase, runs: readonly RunMeasurement[]): StressSummary {
  const numbers = (key: string): number[] => runs.map((run) => Number(run.details[key] ?? Number.NaN));
  return {
    id: stressCase.id,
    title: stressCase.title,
    fsync: formatFsync(stressCase.fsync),
    partitions: stressCase.partitions,
    syncStream: stressCase.syncStream ?? 'shared',
    measurement: summarizeRuns(runs),
    fairness: median(numbers('fairness')),
    fairnessMin: Math.min(...numbers('fairness')),
    failedWrites: numbers('failedWrites').reduce((sum, count) => sum + count, 0),
    verified: runs.every((run) => run.details['verified'] === true),
    rotations: median(numbers('rotations')),
  };
}

/** A stress case's summary, judged; S1 rows also carry the raw W2 reference measured in the same run, for context. */
export interface StressRow extends StressSummary {
  readonly reference: { readonly title: string; readonly summary: MeasurementSummary } | null;
  /** records/s against the reference's; `null` without one. Context only, not judged. */
  readonly ratio: number | null;
  readonly checks: readonly StressCheck[];
  readonly pass: boolean;
}

/** "records/s at 16 partitions >= records/s at 1 partition". */
export interface SweepCheck {
  readonly from: string;
  readonly to: string;
  readonly fromRecordsPerSecond: number;
  readonly toRecordsPerSecond: number;
  readonly ratio: number;
  readonly pass: boolean;
}

export interface StressSection {
  readonly durationMs: number;
  readonly s1RunCount: number;
  readonly sweepRunCount: number;
  readonly s1: readonly StressRow[];
  readonly sweep: readonly StressRow[];
  /** `null` when either end of the sweep did not run. */
  readonly sweepCheck: SweepCheck | null;
}

export function judgeStressRow(
  summary: StressSummary,
  reference: { readonly title: string; readonly summary: MeasurementSummary } | null,
): StressRow {
  const recordsPerSecond = summary.measurement.recordsPerSecond;
  const checks = judgeStress(summary.id, {
    recordsPerSecond,
    p99Us: summary.measurement.p99Us,
    fairness: summary.fairness,
    failedWrites: summary.failedWrites,
    verified: summary.verified,
  });
  const referenceValue = reference?.summary.recordsPerSecond;
  const ratio = referenceValue !== undefined && referenceValue > 0 ? recordsPerSecond / referenceValue : null;
  return { ...summary, reference, ratio, checks, pass: checks.every((check) => check.pass) };
}

export function checkSweep(sweep: readonly StressRow[]): SweepCheck | null {
  const from = sweep.find((row) => row.id === SWEEP_CHECK_FROM);
  const to = sweep.find((row) => row.id === SWEEP_CHECK_TO);
  if (from === undefined || to === undefined) return null;
  const fromRecordsPerSecond = from.measurement.recordsPerSecond;
  const toRecordsPerSecond = to.measurement.recordsPerSecond;
  return {
    from: from.id,
    to: to.id,
    fromRecordsPerSecond,
    toRecordsPerSecond,
    ratio: fromRecordsPerSecond > 0 ? toRecordsPerSecond / fromRecordsPerSecond : Number.NaN,
    pass: judgeSweep(fromRecordsPerSecond, toRecordsPerSecond),
  };
}
