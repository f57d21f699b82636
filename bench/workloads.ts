/**
 * W1-W5 (docs/performance.md, "Workloads"): append workloads, each run on tidewal and on the
 * reference group-commit loop with the same producers, record sizes and
 * harness. Plus the fio-style figures that sit beside them.
 */
import type { Appender, AppendShape } from './timed-loop.js';
import { runAppendLoop } from './timed-loop.js';
import type { RunMeasurement } from './measurement.js';
import { LatencySamples } from './stats.js';
import type { PreallocateChoice } from './engine.js';
import { openEngine } from './engine.js';
import type { SyncCounter } from './counting-file-system.js';
import { ReferenceGroupCommitLog, referenceFile, runBufferedSequentialWrite, runSyncWriteLoop } from './reference.js';
import { makeScratchDir, removeScratchDir } from './scratch.js';

const KIB = 1024;
/** Appends in flight per window in W4's pipelined shape (two windows overlap). */
const PIPELINE_WINDOW = 1000;

export interface AppendCase {
  /** Stable id used by --only and in the JSON: `W3/16`. */
  readonly id: string;
  readonly title: string;
  readonly fsync: 'always' | 'os';
  readonly shape: AppendShape;
  /** tidewal opened with `blockingWrites: true` (docs/performance.md). @default false */
  readonly blockingWrites?: boolean;
  /** The case whose reference run this one is compared with; its own reference is not run. */
  readonly referenceId?: string;
}

/** The id of the reference run a case is compared with. */
export function referenceIdOf(appendCase: AppendCase): string {
  return appendCase.referenceId ?? appendCase.id;
}

/** The same workload on tidewal with `blockingWrites`, compared with the base case's reference run. */
function withBlockingWrites(base: AppendCase): AppendCase {
  return { ...base, id: `${base.id}/blocking`, title: `${base.title}, blockingWrites`, blockingWrites: true, referenceId: base.id };
}

function shape(recordBytes: number, producerCount: number, batchSize = 1, pipelineWindow = 0): AppendShape {
  return { recordBytes, producerCount, batchSize, pipelineWindow };
}

const W1: AppendCase = { id: 'W1', title: "W1 1 producer, 1 KiB, 'always'", fsync: 'always', shape: shape(KIB, 1) };
const W2: AppendCase = { id: 'W2', title: "W2 64 producers, 1 KiB, 'always'", fsync: 'always', shape: shape(KIB, 64) };
const W5_ALWAYS: AppendCase = { id: 'W5/always', title: "W5 64 producers, 100 B, 'always'", fsync: 'always', shape: shape(100, 64) };

export const APPEND_CASES: readonly AppendCase[] = [
  W1,
  withBlockingWrites(W1),
  W2,
  withBlockingWrites(W2),
  { id: 'W3/1', title: "W3 appendBatch 100x1 KiB, 1 producer, 'always'", fsync: 'always', shape: shape(KIB, 1, 100) },
  { id: 'W3/16', title: "W3 appendBatch 100x1 KiB, 16 producers, 'always'", fsync: 'always', shape: shape(KIB, 16, 100) },
  { id: 'W4/1', title: "W4 1 producer, 1 KiB, 'os'", fsync: 'os', shape: shape(KIB, 1) },
  { id: 'W4/pipelined', title: `W4 pipelined (windows of ${PIPELINE_WINDOW}), 1 KiB, 'os'`, fsync: 'os', shape: shape(KIB, 1, 1, PIPELINE_WINDOW) },
  W5_ALWAYS,
  withBlockingWrites(W5_ALWAYS),
  { id: 'W5/os', title: "W5 64 producers, 100 B, 'os'", fsync: 'os', shape: shape(100, 64) },
];

export interface TimingOptions {
  readonly durationMs: number;
  /** Untimed appends first, so the JIT and the file system settle. */
  readonly warmupMs: number;
  readonly countSyncs: boolean;
}

/** One timed run of `appendCase` on tidewal, in a fresh folder that is removed afterwards. */
export async function runEngineAppend(
  appendCase: AppendCase,
  preallocate: PreallocateChoice,
  timing: TimingOptions,
): Promise<RunMeasurement> {
  const dir = await makeScratchDir(appendCase.id.replaceAll('/', '-'));
  try {
    const counter: SyncCounter | null = timing.countSyncs ? { syncCount: 0, dirSyncCount: 0 } : null;
    const wal = await openEngine(dir, { fsync: appendCase.fsync, preallocate, counter, blockingWrites: appendCase.blockingWrites === true });
    try {
      // Under 'os' the only syncs are rotation's (sealing a segment), so records per fsync says nothing there.
      const readSyncCount = (): number | null => (appendCase.fsync === 'always' ? (counter?.syncCount ?? null) : null);
      return await measureAppends(wal, appendCase, timing, readSyncCount);
    } finally {
      await wal.close();
    }
  } finally {
    await removeScratchDir(dir);
  }
}

/** One timed run of `appendCase` on the reference group-commit loop (only for cases without a referenceId). */
export async function runReferenceAppend(appendCase: AppendCase, timing: TimingOptions): Promise<RunMeasurement> {
  const dir = await makeScratchDir(`ref-${appendCase.id.replaceAll('/', '-')}`);
  try {
    const log = await ReferenceGroupCommitLog.open(referenceFile(dir), { durable: appendCase.fsync === 'always' });
    try {
      return await measureAppends(log, appendCase, timing, () => (appendCase.fsync === 'always' ? log.syncCount : null));
    } finally {
      await log.close();
    }
  } finally {
    await removeScratchDir(dir);
  }
}

async function measureAppends(
  target: Appender,
  appendCase: AppendCase,
  timing: TimingOptions,
  readSyncCount: () => number | null,
): Promise<RunMeasurement> {
  if (timing.warmupMs > 0) await runAppendLoop(target, appendCase.shape, { durationMs: timing.warmupMs, samples: null });
  const syncCountBefore = readSyncCount();
  const samples = new LatencySamples();
  const result = await runAppendLoop(target, appendCase.shape, { durationMs: timing.durationMs, samples });
  const syncCountAfter = readSyncCount();
  return {
    recordCount: result.recordCount,
    byteCount: result.recordCount * appendCase.shape.recordBytes,
    elapsedMs: result.elapsedMs,
    latency: samples.summarize(),
    syncCount: syncCountBefore === null || syncCountAfter === null ? null : syncCountAfter - syncCountBefore,
    details: {
      latencyUnit: appendCase.shape.pipelineWindow > 0 ? 'window' : appendCase.shape.batchSize > 1 ? 'batch' : 'append',
    },
  };
}

/** fio-style: 1 KiB `writeSync` + `fdatasyncSync` per record, one thread. */
export async function runFioStyleSyncWrites(timing: TimingOptions): Promise<RunMeasurement> {
  const dir = await makeScratchDir('ref-fio');
  try {
    const samples = new LatencySamples();
    const result = runSyncWriteLoop(referenceFile(dir), { recordBytes: KIB, durationMs: timing.durationMs, samples });
    return {
      recordCount: result.recordCount,
      byteCount: result.recordCount * KIB,
      elapsedMs: result.elapsedMs,
      latency: samples.summarize(),
      syncCount: result.recordCount,
      details: {},
    };
  } finally {
    await removeScratchDir(dir);
  }
}

/** `totalBytes` written in 1 MiB buffered blocks and fsynced once: what W3's MB/s is held against. */
export async function runBufferedWriteOf(totalBytes: number, recordBytes: number): Promise<RunMeasurement> {
  const dir = await makeScratchDir('ref-buffered');
  try {
    const result = runBufferedSequentialWrite(referenceFile(dir), totalBytes);
    return {
      recordCount: Math.floor(totalBytes / recordBytes),
      byteCount: totalBytes,
      elapsedMs: result.elapsedMs,
      latency: null,
      // One fsync for the whole file: records per fsync would only restate the size.
      syncCount: null,
      details: {},
    };
  } finally {
    await removeScratchDir(dir);
  }
}
