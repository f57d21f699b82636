/**
 * A completion hook (hooked-file-system.ts) that waits a seeded, random
 * while before and after each call: none, one macrotask, or a few
 * milliseconds. Same seed, same sequence of waits, so a script's I/O
 * latencies replay (the disk's own timing still varies).
 */
import { setImmediate as nextMacrotask, setTimeout as sleep } from 'node:timers/promises';
import { Prng } from '../../src/io/simulated-file-system.js';
import type { CompletionHook } from './hooked-file-system.js';

export function jitteredCompletions(seed: number, waitMsMax: number): CompletionHook {
  const random = new Prng(seed);
  const wait = async (): Promise<void> => {
    const draw = random.next();
    if (draw < 0.4) return;
    if (draw < 0.6) await nextMacrotask();
    else await sleep(random.below(waitMsMax + 1));
  };
  return async <T>(_label: string, call: () => Promise<T>): Promise<T> => {
    await wait();
    const value = await call();
    await wait();
    return value;
  };
}
