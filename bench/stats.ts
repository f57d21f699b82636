/**
 * Latency samples and medians. A timed loop pushes one number per awaited
 * operation into a typed array (a store, no allocation); the HDR histogram is
 * built once at the end, so the measured loop pays for neither the histogram
 * nor any formatting.
 */
import hdr from 'hdr-histogram-js';

/** Percentiles of one run, in microseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
  readonly meanUs: number;
}

/** 64 Ki samples (512 KiB) to start; doubled as a run needs more. */
const SAMPLES_COUNT_INITIAL = 64 * 1024;
/** Largest latency the histogram tracks: 60 s in microseconds; anything slower is clamped. */
const LATENCY_US_MAX = 60_000_000;
/** Three significant digits: 0.1% resolution, the HDR default that p999 needs. */
const SIGNIFICANT_DIGITS = 3;

/** Latencies of one run, recorded in microseconds. */
export class LatencySamples {
  #valuesUs: Float64Array;
  #count: number;

  constructor() {
    this.#valuesUs = new Float64Array(SAMPLES_COUNT_INITIAL);
    this.#count = 0;
  }

  get count(): number {
    return this.#count;
  }

  /** Records one latency given as a `performance.now()` difference in milliseconds. */
  recordMs(elapsedMs: number): void {
    if (this.#count === this.#valuesUs.length) this.#grow();
    this.#valuesUs[this.#count] = elapsedMs * 1000;
    this.#count += 1;
  }

  #grow(): void {
    const grown = new Float64Array(this.#valuesUs.length * 2);
    grown.set(this.#valuesUs);
    this.#valuesUs = grown;
  }

  /** Percentiles of everything recorded; `null` when nothing was. */
  summarize(): LatencySummary | null {
    if (this.#count === 0) return null;
    const histogram = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: LATENCY_US_MAX,
      numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
    });
    let sumUs = 0;
    for (let index = 0; index < this.#count; index += 1) {
      const valueUs = this.#valuesUs[index] ?? 0;
      sumUs += valueUs;
      // Sub-microsecond values round up to 1 us, the histogram's floor.
      histogram.recordValue(Math.min(LATENCY_US_MAX, Math.max(1, Math.round(valueUs))));
    }
    const summary: LatencySummary = {
      count: this.#count,
      p50Us: histogram.getValueAtPercentile(50),
      p99Us: histogram.getValueAtPercentile(99),
      p999Us: histogram.getValueAtPercentile(99.9),
      maxUs: histogram.maxValue,
      meanUs: sumUs / this.#count,
    };
    histogram.destroy();
    return summary;
  }
}

/** Median of `values` (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((left, right) => left - right);
  const middleIndex = Math.floor(sorted.length / 2);
  const upper = sorted[middleIndex] ?? Number.NaN;
  if (sorted.length % 2 === 1) return upper;
  const lower = sorted[middleIndex - 1] ?? Number.NaN;
  return (lower + upper) / 2;
}

/** Median of the defined values, or `null` when none is. */
export function medianOfDefined(values: readonly (number | null | undefined)[]): number | null {
  const defined = values.filter((value): value is number => typeof value === 'number' && Number.isFinite(value));
  return defined.length === 0 ? null : median(defined);
}
