/**
 * What one run of one workload measured, and the median over runs. Every
 * workload (tidewal or reference) reports the same shape so that ratios are
 * computed one way.
 */
import type { LatencySummary } from './stats.js';
import { median, medianOfDefined } from './stats.js';

/** One run of one workload. */
export interface RunMeasurement {
  /** Records completed inside the measured window. */
  readonly recordCount: number;
  /** Bytes moved inside the measured window (payload for appends, file bytes for reads). */
  readonly byteCount: number;
  /** Wall time of the measured window. */
  readonly elapsedMs: number;
  /** Per-operation latency; `null` when the workload does not measure it. */
  readonly latency: LatencySummary | null;
  /** fdatasync calls (or O_DSYNC writes) in the window; `null` when unknown. */
  readonly syncCount: number | null;
  /** Workload-specific facts (recovery summary, file counts, …), for the JSON report. */
  readonly details: Readonly<Record<string, number | string | boolean | null>>;
}

/** Medians over the runs of one workload. */
export interface MeasurementSummary {
  readonly runCount: number;
  readonly recordsPerSecond: number;
  /** Decimal megabytes (10^6 bytes) per second. */
  readonly megabytesPerSecond: number;
  readonly elapsedMs: number;
  readonly p50Us: number | null;
  readonly p99Us: number | null;
  readonly p999Us: number | null;
  readonly recordsPerSync: number | null;
  readonly runs: readonly RunMeasurement[];
}

const BYTES_PER_MEGABYTE = 1_000_000;

export function recordsPerSecond(run: RunMeasurement): number {
  return run.elapsedMs > 0 ? (run.recordCount * 1000) / run.elapsedMs : 0;
}

export function megabytesPerSecond(run: RunMeasurement): number {
  return run.elapsedMs > 0 ? (run.byteCount / BYTES_PER_MEGABYTE) * (1000 / run.elapsedMs) : 0;
}

/** Medians of every figure, each taken on its own (the median run of one figure need not be the median of another). */
export function summarizeRuns(runs: readonly RunMeasurement[]): MeasurementSummary {
  return {
    runCount: runs.length,
    recordsPerSecond: median(runs.map(recordsPerSecond)),
    megabytesPerSecond: median(runs.map(megabytesPerSecond)),
    elapsedMs: median(runs.map((run) => run.elapsedMs)),
    p50Us: medianOfDefined(runs.map((run) => run.latency?.p50Us)),
    p99Us: medianOfDefined(runs.map((run) => run.latency?.p99Us)),
    p999Us: medianOfDefined(runs.map((run) => run.latency?.p999Us)),
    recordsPerSync: medianOfDefined(
      runs.map((run) => (run.syncCount === null || run.syncCount === 0 ? null : run.recordCount / run.syncCount)),
    ),
    runs,
  };
}
