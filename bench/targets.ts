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
