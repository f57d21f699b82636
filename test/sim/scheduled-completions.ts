/**
 * A completion hook (hooked-file-system.ts) that hands every finished call
 * to a fast-check scheduler, and a driver that releases them one at a time
 * in the order the scheduler picks: fast-check then explores (and prints,
 * on failure) orders of I/O completions that a real disk rarely produces.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import type fc from 'fast-check';
import type { CompletionHook } from './hooked-file-system.js';

export function scheduledCompletions(scheduler: fc.Scheduler): CompletionHook {
  return <T>(label: string, call: () => Promise<T>): Promise<T> => {
    const done = call();
    // A failed call is reported when the scheduler releases it, not before.
    done.catch(() => {});
    return scheduler.schedule(done, label);
  };
}

/** Releases scheduled completions as they come; `stop()` ends the loop (calls still held then stay held). */
export function releaseScheduled(scheduler: fc.Scheduler): { stop(): Promise<void> } {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      if (scheduler.count() > 0) await scheduler.waitOne();
      else await nextMacrotask();
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
