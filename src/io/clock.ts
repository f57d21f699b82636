/**
 * The engine's one source of time. A few scheduling rules read a clock (the
 * loop-turn check, the batch deadline, the segment preparer's depth), and
 * record timestamps and segment ages read the wall clock. Going through one
 * small interface lets a simulation supply time that advances with its own
 * steps, so that a simulated workload replays the same way every run.
 */
import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Milliseconds on a clock that never goes back (`performance.now()` semantics). */
  monotonicMs(): number;
  /** Milliseconds since the Unix epoch (`Date.now()` semantics): record timestamps, segment ages. */
  wallMs(): number;
}

/** The process's own clocks. */
export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  wallMs: () => Date.now(),
};

/** Whether `value` has the shape of a {@link Clock}. */
export function isClock(value: unknown): value is Clock {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Record<keyof Clock, unknown>>;
  return typeof candidate.monotonicMs === 'function' && typeof candidate.wallMs === 'function';
}
