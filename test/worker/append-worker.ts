/**
 * A producer thread for the shared-append tests: appends `count` records
 * through the channel handle in workerData, up to `concurrency` at a time,
 * and posts back every offset it was given (in the order of its records).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SharedAppender } from '../../src/worker/shared-appender.js';
import type { SharedAppendHandle } from '../../src/worker/shared-ring.js';

interface Job {
  readonly handle: SharedAppendHandle;
  readonly workerId: number;
  readonly count: number;
  readonly concurrency: number;
}

export function recordFor(workerId: number, index: number): Buffer {
  // Sizes from 1 byte to ~3 KiB, so entries wrap around a small ring at many positions.
  const size = 1 + ((workerId * 7919 + index * 104_729) % 3000);
  const record = Buffer.alloc(size, (workerId * 31 + index) & 0xff);
  record.write(`w${workerId}#${index};`.slice(0, size));
  return record;
}

async function main(): Promise<void> {
  const job = workerData as Job;
  const appender = SharedAppender.attach(job.handle);
  const offsets = new Array<number>(job.count);
  let next = 0;
  async function lane(): Promise<void> {
    while (next < job.count) {
      const index = next;
      next += 1;
      offsets[index] = (await appender.append(recordFor(job.workerId, index))).offset;
    }
  }
  await Promise.all(Array.from({ length: job.concurrency }, () => lane()));
  appender.close();
  parentPort?.postMessage({ workerId: job.workerId, offsets });
}

if (parentPort !== null && workerData !== null) {
  main().catch((error: unknown) => {
    parentPort?.postMessage({ error: error instanceof Error ? `${(error as { code?: string }).code ?? ''} ${error.message}` : String(error) });
  });
}
