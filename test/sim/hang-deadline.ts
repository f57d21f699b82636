/**
 * Bounds the wait for a promise that may never settle (a hang is a bug
 * the harness must report, not wait out). The timer is cleared when the
 * promise settles, so that no test process lingers on it.
 */

/** Settles with the promise's value, or with `'hung'` after `ms` (the promise runs on). */
export function deadline<T>(promise: Promise<T>, ms: number): Promise<T | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), ms);
  });
  return Promise.race([promise, expiry]).finally(() => clearTimeout(timer));
}
