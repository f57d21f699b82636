/**
 * A producer thread that appends in bursts while its thread is busy: it
 * fills the ring, then blocks (standing for CPU work) while the owner
 * acknowledges, appends a second burst into the freed ring, and blocks
 * again before its own watch loop can read the first burst's results.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SharedAppender } from '../../src/worker/shared-appender.js';
import type { SharedAppendHandle } from '../../src/worker/shared-ring.js';

interface Job {
  readonly handle: SharedAppendHandle;
  readonly burstCount: number;
  readonly busyMs: number;
}

function busy(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

async function main(): Promise<void> {
  const job = workerData as Job;
  const appender = SharedAppender.attach(job.handle);
  const first: Promise<{ offset: number }>[] = [];
  const second: Promise<{ offset: number }>[] = [];
  for (let index = 0; index < job.burstCount; index++) first.push(appender.append(`a${index}`));
  // After the appender's own wake of the owner (a microtask queued first).
  queueMicrotask(() => {
    busy(job.busyMs);
    for (let index = 0; index < job.burstCount; index++) second.push(appender.append(`b${index}`));
    queueMicrotask(() => busy(job.busyMs));
  });
  const firstOffsets = (await Promise.all(first)).map((result) => result.offset);
  const secondOffsets = (await Promise.all(second)).map((result) => result.offset);
  appender.close();
  parentPort?.postMessage({ firstOffsets, secondOffsets });
}

if (parentPort !== null && workerData !== null) {
  main().catch((error: unknown) => parentPort?.postMessage({ error: String(error) }));
}
