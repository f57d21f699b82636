/**
 * How long a script waits before starting its next operation (without
 * awaiting the previous ones): not at all, a few microtasks, one
 * macrotask, or a few milliseconds. Each lands the next call at a
 * different point of the engine's work in flight.
 */
import { setImmediate as nextMacrotask, setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';

export type StartDelay =
  | { readonly kind: 'none' }
  | { readonly kind: 'microtasks'; readonly count: number }
  | { readonly kind: 'macrotask' }
  | { readonly kind: 'timer'; readonly ms: number };

export const startDelayArbitrary: fc.Arbitrary<StartDelay> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'none' } as const) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('microtasks' as const), count: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'macrotask' } as const) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('timer' as const), ms: fc.integer({ min: 0, max: 6 }) }) },
);

export async function waitFor(delay: StartDelay): Promise<void> {
  switch (delay.kind) {
    case 'none':
      return;
    case 'microtasks':
      for (let turn = 0; turn < delay.count; turn++) await Promise.resolve();
      return;
    case 'macrotask':
      await nextMacrotask();
      return;
    case 'timer':
      await sleep(delay.ms);
      return;
  }
}
