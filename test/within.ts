/**
 * For tests that show something waits: settles with 'timeout' if `promise`
 * has not settled within `ms` (the promise itself runs on and can be awaited later).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return Promise.race([promise, sleep(ms).then(() => 'timeout' as const)]);
}
