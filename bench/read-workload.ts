/**
 * W6: a sequential read of the whole large log through `wal.read`, beside a
 * plain 1 MiB-block read of the same segment files. Both are measured in
 * segment-file bytes per second, so the ratio compares like with like; the
 * payload rate is kept in the details.
 */
import { performance } from 'node:perf_hooks';
import { openEngine } from './engine.js';
import type { RunMeasurement } from './measurement.js';
import { runPlainSequentialRead } from './reference.js';
import { folderBytes } from './scratch.js';
import { SEGMENT_SUFFIX } from './big-log.js';

/** Reads every record of the log in `dir`, checking that offsets are dense. */
export async function runEngineRead(dir: string): Promise<RunMeasurement> {
  const segmentBytes = await folderBytes(dir, SEGMENT_SUFFIX);
  const wal = await openEngine(dir, { fsync: 'os', preallocate: 'default', counter: null });
  try {
    const firstOffset = wal.firstOffset;
    const expectedCount = wal.nextOffset - firstOffset;
    let recordCount = 0;
    let payloadBytes = 0;
    let offsetGaps = 0;
    const startMs = performance.now();
    for await (const record of wal.read({ from: firstOffset })) {
      if (record.offset !== firstOffset + recordCount) offsetGaps += 1;
      recordCount += 1;
      payloadBytes += record.data.length;
    }
    const elapsedMs = performance.now() - startMs;
    if (recordCount !== expectedCount || offsetGaps > 0) {
      throw new Error(
        `W6 read ${recordCount} records with ${offsetGaps} offset gaps; the log holds ${expectedCount} (${firstOffset}..${wal.nextOffset})`,
      );
    }
    return {
      recordCount,
      byteCount: segmentBytes,
      elapsedMs,
      latency: null,
      syncCount: null,
      details: { payloadBytes, payloadMegabytesPerSecond: payloadBytes / 1000 / elapsedMs },
    };
  } finally {
    await wal.close();
  }
}

/** The plain reference: the same segment files, 1 MiB `fs.read`s, nothing decoded. */
export async function runReferenceRead(dir: string, recordCount: number): Promise<RunMeasurement> {
  const result = await runPlainSequentialRead(dir, SEGMENT_SUFFIX);
  return {
    recordCount,
    byteCount: result.byteCount,
    elapsedMs: result.elapsedMs,
    latency: null,
    syncCount: null,
    details: { fileCount: result.fileCount },
  };
}
