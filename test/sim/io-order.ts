/**
 * Who decides when a race script's I/O calls complete: the disk, the disk
 * plus seeded waits, or a fast-check scheduler. Shared by the Wal and the
 * WalManager race tests.
 */
import fc from 'fast-check';
import type { FileSystem } from '../../src/io/file-system.js';
import { NodeFileSystem } from '../../src/io/node-file-system.js';
import { hookCompletions } from './hooked-file-system.js';
import { jitteredCompletions } from './jittered-completions.js';
import { scheduledCompletions } from './scheduled-completions.js';

export type IoOrder =
  | { readonly kind: 'disk' }
  | { readonly kind: 'jittered'; readonly seed: number }
  | { readonly kind: 'scheduled'; readonly scheduler: fc.Scheduler };

/** What the jittered file system waits at most per call, before and after it. */
const JITTER_WAIT_MS_MAX = 3;

/**
 * @param ioOrder 'scheduled' draws a fast-check scheduler; otherwise half the
 *   scripts run on the bare disk and half with seeded jitter
 */
export function ioOrderArbitrary(ioOrder: 'scheduled' | 'unscheduled'): fc.Arbitrary<IoOrder> {
  return ioOrder === 'scheduled'
    ? fc.scheduler().map((scheduler) => ({ kind: 'scheduled' as const, scheduler }))
    : fc.oneof(
        fc.constant({ kind: 'disk' as const }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }).map((seed) => ({ kind: 'jittered' as const, seed })),
      );
}

/** The file system that completes I/O in `order`; `undefined` is the engine's own. */
export function ioOrderFileSystem(order: IoOrder): FileSystem | undefined {
  switch (order.kind) {
    case 'disk':
      return undefined;
    case 'jittered':
      return hookCompletions(new NodeFileSystem(), jitteredCompletions(order.seed, JITTER_WAIT_MS_MAX));
    case 'scheduled':
      return hookCompletions(new NodeFileSystem(), scheduledCompletions(order.scheduler));
  }
}

/** `order` for a failure message. */
export function describeIoOrder(order: IoOrder): string {
  return order.kind === 'jittered' ? `jittered(${order.seed})` : order.kind;
}
