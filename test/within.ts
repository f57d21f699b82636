/** Waiting helpers for tests. */
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * For tests that show something waits: settles with 'timeout' if `promise`
 * has not settled within `ms` (the promise itself runs on and can be awaited later).
 */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return Promise.race([promise, sleep(ms).then(() => 'timeout' as const)]);
}

/** Waits, polling, until `condition` holds (the test's own timeout bounds the wait). */
export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(5);
}
