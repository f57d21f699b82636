/**
 * The targets of issue 2's benchmark table, as ratios against the
 * reference measured in the same run (or, for W7, as absolute times), and
 * how a comparison row is judged.
 */
import type { MeasurementSummary } from './measurement.js';

/** The figure a row compares. */
export type Metric = 'recordsPerSecond' | 'megabytesPerSecond' | 'elapsedMs';

export type Target =
  | { readonly kind: 'ratio-at-least'; readonly ratio: number }
  | { readonly kind: 'ms-at-most'; readonly ms: number }
  | { readonly kind: 'none' };

/** Targets by row id; rows without one are shown for information. */
const TARGETS: Readonly<Record<string, Target>> = {
  W1: { kind: 'ratio-at-least', ratio: 1.5 },
  W2: { kind: 'ratio-at-least', ratio: 2 },
  // The same workloads with the opt-in blockingWrites, against the same reference runs.
  'W1/blocking': { kind: 'ratio-at-least', ratio: 1.5 },
  'W2/blocking': { kind: 'ratio-at-least', ratio: 2 },
  'W5/always/blocking': { kind: 'ratio-at-least', ratio: 2 },
  'W3/16': { kind: 'ratio-at-least', ratio: 1 },
  // "MB/s within 10% of a plain buffered sequential write + fsync of the same bytes".
  'W3/16-vs-buffered': { kind: 'ratio-at-least', ratio: 0.9 },
  'W4/1': { kind: 'ratio-at-least', ratio: 3 },
  'W4/pipelined': { kind: 'ratio-at-least', ratio: 1.5 },
  'W5/always': { kind: 'ratio-at-least', ratio: 2 },
  'W6/warm': { kind: 'ratio-at-least', ratio: 0.8 },
  'W6/cold': { kind: 'ratio-at-least', ratio: 0.8 },
  'W7/clean': { kind: 'ms-at-most', ms: 5 },
  'W7/kill': { kind: 'ms-at-most', ms: 1000 },
};

export function targetOf(rowId: string): Target {
  return TARGETS[rowId] ?? { kind: 'none' };
}

/** A tidewal figure beside its reference. */
export interface Comparison {
  /** Target key and JSON id: `W3/16`, `W3/16-vs-buffered`, `W7/kill`. */
  readonly id: string;
  readonly title: string;
  readonly engine: MeasurementSummary;
  readonly reference: { readonly title: string; readonly summary: MeasurementSummary } | null;
  readonly metric: Metric;
}

export interface ResultRow extends Comparison {
  readonly target: Target;
  /** engine / reference on `metric`; `null` without a reference. */
  readonly ratio: number | null;
  /** `null` when the row has no target. */
  readonly pass: boolean | null;
}

export function judge(comparison: Comparison): ResultRow {
  const target = targetOf(comparison.id);
  const engineValue = comparison.engine[comparison.metric];
  const referenceValue = comparison.reference?.summary[comparison.metric];
  const ratio = referenceValue !== undefined && referenceValue > 0 ? engineValue / referenceValue : null;
  return { ...comparison, target, ratio, pass: passes(target, engineValue, ratio) };
}

function passes(target: Target, engineValue: number, ratio: number | null): boolean | null {
  switch (target.kind) {
    case 'none':
      return null;
    case 'ratio-at-least':
      return ratio === null ? false : ratio >= target.ratio;
    case 'ms-at-most':
      return engineValue <= target.ms;
  }
}

export function targetText(target: Target): string {
  switch (target.kind) {
    case 'none':
      return '';
    case 'ratio-at-least':
      return `>= ${target.ratio}x`;
    case 'ms-at-most':
      return `<= ${target.ms} ms`;
  }
}

/**
 * Issue 3's targets for the stress test S1, absolute as the issue states
 * them: records/s per fsync policy, p99 append latency, fairness (fewest /
 * most records of one producer) and failed writes.
 */
export interface StressTarget {
  /** `null`: no throughput target (the sweep's rows). */
  readonly minRecordsPerSecond: number | null;
  readonly maxP99Us: number | null;
  readonly minFairness: number | null;
}

const STRESS_TARGETS: Readonly<Record<string, StressTarget>> = {
  'S1/always': { minRecordsPerSecond: 100_000, maxP99Us: 10_000, minFairness: 0.95 },
  'S1/batch5': { minRecordsPerSecond: 300_000, maxP99Us: 10_000, minFairness: 0.95 },
};

/** The sweep's rows are held only to "0 failed writes, verification passed". */
const NO_STRESS_TARGET: StressTarget = { minRecordsPerSecond: null, maxP99Us: null, minFairness: null };

export function stressTargetOf(rowId: string): StressTarget {
  return STRESS_TARGETS[rowId] ?? NO_STRESS_TARGET;
}

/** One judged condition of a stress row, e.g. `p99 < 10,000 us`. */
export interface StressCheck {
  readonly name: string;
  readonly pass: boolean;
}

/** The figures a stress row is judged on (medians over runs, failed writes summed, verification over all runs). */
export interface StressFigures {
  readonly recordsPerSecond: number;
  readonly p99Us: number | null;
  readonly fairness: number;
  readonly failedWrites: number;
  readonly verified: boolean;
}

export function judgeStress(rowId: string, figures: StressFigures): StressCheck[] {
  const target = stressTargetOf(rowId);
  const checks: StressCheck[] = [];
  if (target.minRecordsPerSecond !== null) {
    checks.push({
      name: `>= ${target.minRecordsPerSecond.toLocaleString('en-US')} rec/s`,
      pass: figures.recordsPerSecond >= target.minRecordsPerSecond,
    });
  }
  if (target.maxP99Us !== null) {
    checks.push({ name: `p99 < ${target.maxP99Us / 1000} ms`, pass: figures.p99Us !== null && figures.p99Us < target.maxP99Us });
  }
  if (target.minFairness !== null) checks.push({ name: `fairness >= ${target.minFairness}`, pass: figures.fairness >= target.minFairness });
  checks.push({ name: '0 failed writes', pass: figures.failedWrites === 0 });
  checks.push({ name: 'verified', pass: figures.verified });
  return checks;
}

/** Issue 3: "throughput must not fall as partitions go from 1 to 16 with 16 producers". */
export function judgeSweep(fromRecordsPerSecond: number, toRecordsPerSecond: number): boolean {
  return toRecordsPerSecond >= fromRecordsPerSecond;
}
