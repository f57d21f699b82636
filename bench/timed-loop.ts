/**
 * The append harness shared by tidewal and the reference, so that both pay
 * the same overhead: producers loop until a deadline, each awaiting its own
 * appends (or keeping a window of appends in flight), and every awaited
 * operation's latency goes into a typed array.
 */
import { performance } from 'node:perf_hooks';
import { randomFillSync } from 'node:crypto';
import type { LatencySamples } from './stats.js';

/** What both tidewal's `Wal` and the reference log offer the harness. */
export interface Appender {
  append(data: Buffer): Promise<unknown>;
  appendBatch(datas: Buffer[]): Promise<unknown>;
}

/** The shape of an append workload. */
export interface AppendShape {
  readonly recordBytes: number;
  readonly producerCount: number;
  /** 1: `append` each record; more: `appendBatch` of this many records. */
  readonly batchSize: number;
  /**
   * 0: every producer awaits each append. More: one producer issues windows
   * of this many appends without awaiting each, and awaits a window only
   * after the next one is issued, so the pipe never drains.
   */
  readonly pipelineWindow: number;
}

export interface LoopResult {
  readonly recordCount: number;
  readonly elapsedMs: number;
}

/** Random bytes, so that no layer can profit from compressible data. */
export function randomPayload(sizeBytes: number): Buffer {
  return randomFillSync(Buffer.allocUnsafe(sizeBytes));
}

/**
 * Runs `shape` against `target` for `durationMs`, then waits for every
 * append in flight. Latency is per awaited operation (per record, per batch,
 * or per pipelined window).
 */
export async function runAppendLoop(
  target: Appender,
  shape: AppendShape,
  options: { readonly durationMs: number; readonly samples: LatencySamples | null },
): Promise<LoopResult> {
  const payload = randomPayload(shape.recordBytes);
  const startMs = performance.now();
  const deadlineMs = startMs + options.durationMs;
  const producers: Promise<number>[] = [];
  for (let producerIndex = 0; producerIndex < shape.producerCount; producerIndex += 1) {
    producers.push(
      shape.pipelineWindow > 0
        ? pipelinedProducer(target, payload, shape.pipelineWindow, deadlineMs, options.samples)
        : awaitingProducer(target, payload, shape.batchSize, deadlineMs, options.samples),
    );
  }
  const counts = await Promise.all(producers);
  const elapsedMs = performance.now() - startMs;
  return { recordCount: counts.reduce((sum, count) => sum + count, 0), elapsedMs };
}

async function awaitingProducer(
  target: Appender,
  payload: Buffer,
  batchSize: number,
  deadlineMs: number,
  samples: LatencySamples | null,
): Promise<number> {
  // One array per producer, passed again and again: the engine must not
  // keep or change a caller's array, and the harness allocates nothing per call.
  const batch = batchSize > 1 ? new Array<Buffer>(batchSize).fill(payload) : null;
  let recordCount = 0;
  for (;;) {
    const beforeMs = performance.now();
    if (beforeMs >= deadlineMs) return recordCount;
    if (batch === null) await target.append(payload);
    else await target.appendBatch(batch);
    samples?.recordMs(performance.now() - beforeMs);
    recordCount += batchSize;
  }
}

async function pipelinedProducer(
  target: Appender,
  payload: Buffer,
  window: number,
  deadlineMs: number,
  samples: LatencySamples | null,
): Promise<number> {
  let recordCount = 0;
  let previous: Promise<unknown> | null = null;
  let previousStartMs = 0;
  for (;;) {
    const startMs = performance.now();
    if (startMs >= deadlineMs) break;
    const appends = new Array<Promise<unknown>>(window);
    for (let index = 0; index < window; index += 1) appends[index] = target.append(payload);
    const current = Promise.all(appends);
    if (previous !== null) {
      await previous;
      samples?.recordMs(performance.now() - previousStartMs);
      recordCount += window;
    }
    previous = current;
    previousStartMs = startMs;
  }
  if (previous !== null) {
    await previous;
    samples?.recordMs(performance.now() - previousStartMs);
    recordCount += window;
  }
  return recordCount;
}
