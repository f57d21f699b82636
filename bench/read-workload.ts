/**
 * W6: a sequential read of the whole large log, beside a plain 1 MiB-block
 * read of the same segment files. tidewal reads through `wal.readBlocks`
 * (the scan API: no object per record, reused memory) and, as a second row,
 * through `wal.read` (one `{ offset, timestamp, data }` per record). All are
 * measured in segment-file bytes per second, so ratios compare like with
 * like; the payload rate is kept in the details. Every frame's checksum is
 * verified by the reader either way.
 */
import { performance } from 'node:perf_hooks';
import { openEngine } from './engine.js';
import type { RunMeasurement } from './measurement.js';
import { runPlainSequentialRead } from './reference.js';
import { folderBytes } from './scratch.js';
import { SEGMENT_SUFFIX } from './big-log.js';

/** Which reading API W6 measures. */
export type ReadApi = 'blocks' | 'records';

/** Reads every record of the log in `dir` through `api`, checking that offsets are dense. */
export async function runEngineRead(dir: string, api: ReadApi): Promise<RunMeasurement> {
  const segmentBytes = await folderBytes(dir, SEGMENT_SUFFIX);
  const wal = await openEngine(dir, { fsync: 'os', preallocate: 'default', counter: null });
  try {
    const firstOffset = wal.firstOffset;
    const expectedCount = wal.nextOffset - firstOffset;
    let recordCount = 0;
    let payloadBytes = 0;
    let offsetGaps = 0;
    const startMs = performance.now();
    if (api === 'records') {
      for await (const record of wal.read({ from: firstOffset })) {
        if (record.offset !== firstOffset + recordCount) offsetGaps += 1;
        recordCount += 1;
        payloadBytes += record.data.length;
      }
    } else {
      for await (const block of wal.readBlocks({ from: firstOffset })) {
        if (block.firstOffset !== firstOffset + recordCount) offsetGaps += 1;
        const count = block.count;
        for (let index = 0; index < count; index += 1) payloadBytes += block.dataSizeBytes(index);
        recordCount += count;
      }
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
