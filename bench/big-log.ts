/**
 * The large log that W6 reads and W7 reopens, written once per benchmark
 * with tidewal itself (fsync 'os', batches pipelined) and closed cleanly.
 */
import { performance } from 'node:perf_hooks';
import { openEngine } from './engine.js';
import { randomPayload } from './timed-loop.js';
import { folderBytes } from './scratch.js';

/** Record size of the large log: the 1 KiB of the other workloads. */
export const BIG_LOG_RECORD_BYTES = 1024;
/** Records per appendBatch while building (256 KiB per call). */
const BUILD_BATCH_SIZE = 256;
/** Batches in flight while building: enough to keep the disk busy, far below maxPendingBytes. */
const BUILD_BATCHES_IN_FLIGHT = 8;
/** Segment files end with this; the plain reader reads exactly these. */
export const SEGMENT_SUFFIX = '.wal';

export interface BigLog {
  readonly dir: string;
  readonly recordCount: number;
  readonly payloadBytes: number;
  /** Bytes of the segment files (frames, headers, padding). */
  readonly segmentBytes: number;
  readonly buildMs: number;
}

/** Appends `payloadBytes` of 1 KiB records to a new log in `dir` and closes it. */
export async function buildBigLog(dir: string, payloadBytes: number): Promise<BigLog> {
  const startMs = performance.now();
  const wal = await openEngine(dir, { fsync: 'os', preallocate: 'default', counter: null });
  const batch = new Array<Buffer>(BUILD_BATCH_SIZE);
  // Distinct payloads per slot so that the read side sees varied bytes.
  for (let index = 0; index < BUILD_BATCH_SIZE; index += 1) batch[index] = randomPayload(BIG_LOG_RECORD_BYTES);
  const batchCount = Math.ceil(payloadBytes / (BIG_LOG_RECORD_BYTES * BUILD_BATCH_SIZE));
  const inFlight: Promise<unknown>[] = [];
  try {
    for (let batchIndex = 0; batchIndex < batchCount; batchIndex += 1) {
      inFlight.push(wal.appendBatch(batch));
      if (inFlight.length >= BUILD_BATCHES_IN_FLIGHT) await inFlight.shift();
    }
    await Promise.all(inFlight);
  } finally {
    await wal.close();
  }
  const recordCount = batchCount * BUILD_BATCH_SIZE;
  return {
    dir,
    recordCount,
    payloadBytes: recordCount * BIG_LOG_RECORD_BYTES,
    segmentBytes: await folderBytes(dir, SEGMENT_SUFFIX),
    buildMs: performance.now() - startMs,
  };
}
