/**
 * The stress test (workload S1): producers append fixed-size records to the
 * partitions of one topic through a {@link WalManager} for a while, then
 * every partition is read back, after a close and a fresh open, and every
 * record is checked.
 *
 * Producer `i` writes to partition `i % partitions`, awaiting each append.
 * Keeping a producer on one partition means its records sit in that
 * partition in its own sequence order (appends are acknowledged in order),
 * so verification can demand a dense sequence 0, 1, 2, … per producer, and
 * with at least as many producers as partitions every partition has the
 * same number of producers, give or take one.
 *
 * Each record is self-describing (little-endian):
 *
 * | bytes | field |
 * |-------|-------|
 * | 4 | magic `RWST` |
 * | 4 | producer id |
 * | 4 | sequence number within the producer |
 * | 4 | CRC-32 of every other byte of the record |
 * | n | filler: a per-producer pseudo-random pattern (checked byte for byte) |
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { crc32 } from 'node:zlib';
import hdr from 'hdr-histogram-js';
import { InvalidArgumentError, WalIOError } from '../errors.js';
import type { FsyncPolicy } from '../log/options.js';
import { WalManager } from '../manager/wal-manager.js';
import type { SyncStream } from '../manager/wal-manager.js';

/** Options of {@link runStress}; the CLI's flags. */
export interface StressOptions {
  /** Concurrent producers, each awaiting every append. @default 16 */
  readonly producers?: number;
  /** Partitions of the topic. @default 4 */
  readonly partitions?: number;
  /** Bytes per record (at least 16, the record header). @default 1024 */
  readonly recordBytes?: number;
  /** Rotate each log's segment every this many records (Wal `segmentMaxRecords`). @default 100 */
  readonly rotateRecords?: number;
  /** How long producers append. @default 10000 */
  readonly durationMs?: number;
  /** @default 'always' */
  readonly fsync?: FsyncPolicy;
  /** The manager's fsync stream under 'always' (see WalManagerOptions.syncStream). @default 'shared' */
  readonly syncStream?: SyncStream;
  /** Folder for the logs, which must be missing or empty and is kept; default: a temp folder removed after. */
  readonly dir?: string;
  /** Called about every `progressIntervalMs` while producers run. */
  readonly onProgress?: (progress: StressProgress) => void;
  /** @default 250 */
  readonly progressIntervalMs?: number;
}

/** A snapshot while the test runs. */
export interface StressProgress {
  readonly elapsedMs: number;
  readonly durationMs: number;
  readonly records: number;
  /** Over the last progress interval. */
  readonly recordsPerSecond: number;
  readonly megabytesPerSecond: number;
}

/** The outcome; `--json` prints this object. */
export interface StressReport {
  readonly config: {
    readonly producers: number;
    readonly partitions: number;
    readonly recordBytes: number;
    readonly rotateRecords: number;
    readonly durationMs: number;
    readonly fsync: string;
    /** Under 'always' only; null under the other policies, which use no journal. */
    readonly syncStream: SyncStream | null;
    readonly producerToPartition: 'i % partitions';
  };
  /** Producers' phase: from the first append to the last acknowledgement. */
  readonly elapsedMs: number;
  /** Closing the manager after the producers stopped (flush, sync, clean marks). */
  readonly closeMs: number;
  readonly records: number;
  readonly bytes: number;
  readonly recordsPerSecond: number;
  /** Payload megabytes (10^6 bytes) per second. */
  readonly megabytesPerSecond: number;
  readonly latencyUs: { readonly p50: number; readonly p99: number; readonly p999: number; readonly max: number };
  /** Fewest records of one producer divided by most (1 is perfectly fair). */
  readonly fairness: number;
  readonly producerRecordsMin: number;
  readonly producerRecordsMax: number;
  readonly partitionRecords: readonly number[];
  /** Segment files across all partitions after the run. */
  readonly segments: number;
  /** Rotations: segments beyond the first of each partition. */
  readonly rotations: number;
  readonly failedWrites: number;
  readonly failures: readonly string[];
  readonly verification: {
    readonly ok: boolean;
    readonly recordsChecked: number;
    readonly durationMs: number;
    /** The first few problems found (empty when ok). */
    readonly errors: readonly string[];
  };
  /** No failed writes and verification passed. */
  readonly ok: boolean;
}

const TOPIC = 'stress';
const RECORD_MAGIC = 0x54535752; // 'RWST' read as little-endian
/** Bytes of the record header: magic, producer, sequence, checksum. */
export const STRESS_RECORD_HEADER_BYTES = 16;
/** Verification reports at most this many problems (the first ones matter). */
const VERIFICATION_ERRORS_MAX = 10;
/** Latencies above a minute are clamped into the histogram's top bucket. */
const LATENCY_US_MAX = 60_000_000;

/**
 * Runs the stress test.
 * @returns the report; `report.ok` is false when a write failed or verification found a bad record
 * @throws InvalidArgumentError for bad options (including a `dir` that is not empty)
 * @example
 * const report = await runStress({ producers: 16, partitions: 4, durationMs: 2000 });
 * console.log(report.recordsPerSecond, report.verification.ok);
 */
export async function runStress(options: StressOptions = {}): Promise<StressReport> {
  const config = resolveConfig(options);
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tidewal-stress-')));
  if (options.dir !== undefined) await checkEmptyDir(options.dir);
  try {
    const run = await produce(dir, config, options);
    const verification = await verify(dir, config, run.acked);
    const records = run.acked.reduce((sum, count) => sum + count, 0);
    const producerRecordsMin = Math.min(...run.acked);
    const producerRecordsMax = Math.max(...run.acked);
    const seconds = run.elapsedMs / 1000;
    return {
      config: { ...config, fsync: formatFsync(config.fsync), producerToPartition: 'i % partitions' },
      elapsedMs: Math.round(run.elapsedMs),
      closeMs: Math.round(run.closeMs),
      records,
      bytes: records * config.recordBytes,
      recordsPerSecond: Math.round(records / seconds),
      megabytesPerSecond: round((records * config.recordBytes) / 1e6 / seconds, 2),
      latencyUs: run.latencyUs,
      fairness: producerRecordsMax === 0 ? 0 : round(producerRecordsMin / producerRecordsMax, 4),
      producerRecordsMin,
      producerRecordsMax,
      partitionRecords: verification.partitionRecords,
      segments: verification.segments,
      rotations: verification.segments - verification.partitionCount,
      failedWrites: run.failedWrites,
      failures: run.failures,
      verification: {
        ok: verification.errors.length === 0,
        recordsChecked: verification.recordsChecked,
        durationMs: Math.round(verification.durationMs),
        errors: verification.errors,
      },
      ok: run.failedWrites === 0 && verification.errors.length === 0,
    };
  } finally {
    if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
  }
}

type StressConfig = Required<Pick<StressOptions, 'producers' | 'partitions' | 'recordBytes' | 'rotateRecords' | 'durationMs' | 'fsync'>> & {
  readonly syncStream: SyncStream | null;
};

function resolveConfig(options: StressOptions): StressConfig {
  const config = {
    producers: options.producers ?? 16,
    partitions: options.partitions ?? 4,
    recordBytes: options.recordBytes ?? 1024,
    rotateRecords: options.rotateRecords ?? 100,
    durationMs: options.durationMs ?? 10_000,
    fsync: options.fsync ?? 'always',
    syncStream: (options.fsync ?? 'always') === 'always' ? (options.syncStream ?? 'shared') : null,
  };
  if (config.syncStream === null && options.syncStream === 'per-log') {
    throw new InvalidArgumentError(
      `Cannot run stress test: --sync-stream per-log applies under --fsync always only (the other policies sync each log on its own anyway); drop it, or use --fsync always`,
    );
  }
  checkInteger('producers', config.producers, 1, 100_000);
  checkInteger('partitions', config.partitions, 1, 65_536);
  checkInteger('recordBytes', config.recordBytes, STRESS_RECORD_HEADER_BYTES, 16 * 1024 * 1024);
  checkInteger('rotateRecords', config.rotateRecords, 1, Number.MAX_SAFE_INTEGER);
  checkInteger('durationMs', config.durationMs, 1, DURATION_MS_MAX);
  return config;
}

function checkInteger(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`Cannot run stress test: ${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

async function checkEmptyDir(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new InvalidArgumentError(`Cannot run stress test: --dir ${dir}, or a folder above it, is a file; give a new or empty folder`);
    throw new WalIOError(`Cannot run stress test: --dir ${dir} cannot be read (${code ?? String(error)}); give a new or empty folder this process can write`, error);
  }
  if (names.length > 0) {
    throw new InvalidArgumentError(`Cannot run stress test: --dir ${dir} is not empty; give a new or empty folder`);
  }
}

interface RunResult {
  readonly acked: number[];
  readonly failedWrites: number;
  readonly failures: string[];
  readonly elapsedMs: number;
  readonly closeMs: number;
  readonly latencyUs: StressReport['latencyUs'];
}

/** The manager both phases use: the configured policy and rotation, every partition open at once, no background retention. */
function openManager(dir: string, config: StressConfig): Promise<WalManager> {
  return WalManager.open({
    dir,
    fsync: config.fsync,
    ...(config.syncStream === null ? {} : { syncStream: config.syncStream }),
    segmentMaxRecords: config.rotateRecords,
    retentionIntervalMs: 0,
    maxOpenLogs: Math.max(256, config.partitions),
  });
}

/** The producers' phase: append until the deadline, measuring every append. */
async function produce(dir: string, config: StressConfig, options: StressOptions): Promise<RunResult> {
  const manager = await openManager(dir, config);
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: LATENCY_US_MAX, numberOfSignificantValueDigits: 3 });
  const acked = new Array<number>(config.producers).fill(0);
  const failures: string[] = [];
  let failedWrites = 0;
  const startMs = performance.now();
  const deadlineMs = startMs + config.durationMs;
  const stopProgress = startProgress(options, config, startMs, acked);
  async function producer(producerId: number): Promise<void> {
    const partition = producerId % config.partitions;
    const record = Buffer.alloc(config.recordBytes);
    const filler = fillerFor(producerId, config.recordBytes);
    filler.copy(record, STRESS_RECORD_HEADER_BYTES);
    const fillerChecksum = crc32(filler);
    for (let sequence = 0; performance.now() < deadlineMs; sequence += 1) {
      encodeHeader(record, producerId, sequence, fillerChecksum);
      const beforeMs = performance.now();
      try {
        await manager.append(TOPIC, partition, record);
      } catch (error) {
        // The log is fail-stop after an I/O error: stop this producer.
        failedWrites += 1;
        if (failures.length < VERIFICATION_ERRORS_MAX) failures.push(error instanceof Error ? error.message : String(error));
        return;
      }
      histogram.recordValue(Math.min(LATENCY_US_MAX, Math.max(1, Math.round((performance.now() - beforeMs) * 1000))));
      acked[producerId] = sequence + 1;
    }
  }
  let elapsedMs = 0;
  let closeMs = 0;
  try {
    await Promise.all(Array.from({ length: config.producers }, (_, producerId) => producer(producerId)));
  } finally {
    elapsedMs = performance.now() - startMs;
    stopProgress();
    await manager.close();
    closeMs = performance.now() - startMs - elapsedMs;
  }
  const latencyUs = {
    p50: histogram.getValueAtPercentile(50),
    p99: histogram.getValueAtPercentile(99),
    p999: histogram.getValueAtPercentile(99.9),
    max: histogram.maxValue,
  };
  histogram.destroy();
  return { acked, failedWrites, failures, elapsedMs, closeMs, latencyUs };
}

function startProgress(options: StressOptions, config: StressConfig, startMs: number, acked: readonly number[]): () => void {
  const onProgress = options.onProgress;
  if (onProgress === undefined) return () => {};
  let lastMs = startMs;
  let lastRecords = 0;
  const timer = setInterval(() => {
    const nowMs = performance.now();
    const records = acked.reduce((sum, count) => sum + count, 0);
    const seconds = Math.max(1e-9, (nowMs - lastMs) / 1000);
    const recordsPerSecond = (records - lastRecords) / seconds;
    onProgress({
      elapsedMs: Math.min(config.durationMs, nowMs - startMs),
      durationMs: config.durationMs,
      records,
      recordsPerSecond: Math.round(recordsPerSecond),
      megabytesPerSecond: round((recordsPerSecond * config.recordBytes) / 1e6, 2),
    });
    lastMs = nowMs;
    lastRecords = records;
  }, options.progressIntervalMs ?? 250);
  return () => clearInterval(timer);
}

interface Verification {
  readonly recordsChecked: number;
  readonly partitionRecords: number[];
  /** Partitions that exist (were written). */
  readonly partitionCount: number;
  readonly segments: number;
  readonly errors: string[];
  readonly durationMs: number;
}

/** Reopens the logs (as a restart would) and checks every record of every partition. */
async function verify(dir: string, config: StressConfig, acked: readonly number[]): Promise<Verification> {
  const startMs = performance.now();
  const manager = await openManager(dir, config);
  const errors: string[] = [];
  const report = (message: string): void => {
    if (errors.length < VERIFICATION_ERRORS_MAX) errors.push(message);
  };
  const nextSequence = new Array<number>(config.producers).fill(0);
  const fillers = Array.from({ length: config.producers }, (_, producerId) => fillerFor(producerId, config.recordBytes));
  const partitionRecords: number[] = [];
  let recordsChecked = 0;
  let segments = 0;
  // Partitions no producer wrote were never made; reading them would make
  // them (a run with --partitions 2000 spent 18 s making 1,984 empty logs).
  // Records missing from them still show: every producer's count is checked below.
  const existing = new Set(manager.partitions(TOPIC));
  let partitionCount = 0;
  try {
    for (let partition = 0; partition < config.partitions; partition += 1) {
      if (!existing.has(partition)) {
        partitionRecords.push(0);
        continue;
      }
      partitionCount += 1;
      const wal = await manager.log(TOPIC, partition);
      segments += (await wal.segments()).length;
      if (wal.firstOffset !== 0) report(`partition ${partition}: first offset is ${wal.firstOffset}, expected 0`);
      let expectedOffset = wal.firstOffset;
      for await (const record of manager.read(TOPIC, partition)) {
        if (record.offset !== expectedOffset) report(`partition ${partition}: offset ${record.offset} where ${expectedOffset} was expected`);
        expectedOffset = record.offset + 1;
        recordsChecked += 1;
        const problem = checkRecord(record.data, partition, config, nextSequence, fillers);
        if (problem !== null) report(`partition ${partition} offset ${record.offset}: ${problem}`);
      }
      partitionRecords.push(expectedOffset - wal.firstOffset);
    }
  } finally {
    await manager.close();
  }
  for (let producerId = 0; producerId < config.producers; producerId += 1) {
    const found = nextSequence[producerId] ?? 0;
    const expected = acked[producerId] ?? 0;
    // A write that failed may or may not have reached the log; fewer than acknowledged never may.
    if (found < expected) report(`producer ${producerId}: ${expected} records acknowledged, ${found} found`);
  }
  return { recordsChecked, partitionRecords, partitionCount, segments, errors, durationMs: performance.now() - startMs };
}

/** Checks one record's bytes; returns what is wrong, or null. Advances the producer's expected sequence. */
function checkRecord(data: Buffer, partition: number, config: StressConfig, nextSequence: number[], fillers: readonly Buffer[]): string | null {
  if (data.length !== config.recordBytes) return `size is ${data.length} bytes, expected ${config.recordBytes}`;
  if (data.readUInt32LE(0) !== RECORD_MAGIC) return 'bad magic';
  // The filler is compared byte for byte below; the checksum covers the header against it.
  if (recordChecksum(data, crc32(data.subarray(STRESS_RECORD_HEADER_BYTES))) !== data.readUInt32LE(12)) return 'checksum mismatch';
  const producerId = data.readUInt32LE(4);
  const sequence = data.readUInt32LE(8);
  if (producerId >= config.producers) return `unknown producer ${producerId}`;
  if (producerId % config.partitions !== partition) return `producer ${producerId} belongs to partition ${producerId % config.partitions}`;
  const expected = nextSequence[producerId] ?? 0;
  nextSequence[producerId] = sequence + 1;
  if (sequence !== expected) return `producer ${producerId} sequence ${sequence}, expected ${expected}`;
  if (!data.subarray(STRESS_RECORD_HEADER_BYTES).equals(fillers[producerId] ?? Buffer.alloc(0))) return 'filler bytes differ';
  return null;
}

function encodeHeader(record: Buffer, producerId: number, sequence: number, fillerChecksum: number): void {
  record.writeUInt32LE(RECORD_MAGIC, 0);
  record.writeUInt32LE(producerId, 4);
  record.writeUInt32LE(sequence >>> 0, 8);
  record.writeUInt32LE(recordChecksum(record, fillerChecksum), 12);
}

/**
 * CRC-32 over the header's first 12 bytes, continued from the filler's
 * CRC-32: everything but the checksum field. Producers compute the filler's
 * part once, so the harness spends its time on the log, not on checksums.
 */
function recordChecksum(record: Buffer, fillerChecksum: number): number {
  return crc32(record.subarray(0, 12), fillerChecksum);
}

/** The producer's filler: xorshift bytes seeded by its id, so verification can rebuild it. */
function fillerFor(producerId: number, recordBytes: number): Buffer {
  const filler = Buffer.alloc(recordBytes - STRESS_RECORD_HEADER_BYTES);
  let state = (producerId + 1) * 0x9e3779b9 || 1;
  for (let index = 0; index < filler.length; index += 1) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    filler[index] = state & 0xff;
  }
  return filler;
}

/** `'always'`, `'os'` or `'batch:5'`, the CLI's spelling. */
export function formatFsync(fsync: FsyncPolicy): string {
  return typeof fsync === 'string' ? fsync : `batch:${fsync.batch.intervalMs}`;
}

/** Longest stress run. */
const DURATION_MS_MAX = 7 * 24 * 3600 * 1000;
/** Longest batch interval a log accepts (Wal options). */
const BATCH_INTERVAL_MS_MAX = 3_600_000;

/**
 * Parses `always`, `os` or `batch:<intervalMs>`.
 * @throws InvalidArgumentError for anything else
 */
export function parseFsync(text: string): FsyncPolicy {
  if (text === 'always' || text === 'os') return text;
  const match = /^batch:([1-9][0-9]{0,6})$/.exec(text);
  // The log's own limit, checked here so that the message names the flag.
  if (match?.[1] !== undefined && Number(match[1]) <= BATCH_INTERVAL_MS_MAX) return { batch: { intervalMs: Number(match[1]) } };
  throw new InvalidArgumentError(
    `fsync must be always, os or batch:<intervalMs> with intervalMs in [1, ${BATCH_INTERVAL_MS_MAX}] (e.g. batch:5), got ${JSON.stringify(text)}`,
  );
}

/**
 * Parses a duration: `500ms`, `10s`, `2m`, or a bare number of seconds.
 * @throws InvalidArgumentError for anything else
 */
export function parseDuration(text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)?$/.exec(text.trim());
  const amount = Number(match?.[1]);
  if (match === null || !Number.isFinite(amount)) {
    throw new InvalidArgumentError(`duration must look like 500ms, 10s or 2m, got ${JSON.stringify(text)}`);
  }
  const unit = match[2] ?? 's';
  const durationMs = Math.round(unit === 'ms' ? amount : unit === 's' ? amount * 1000 : amount * 60_000);
  if (durationMs < 1 || durationMs > DURATION_MS_MAX) {
    throw new InvalidArgumentError(`duration must be between 1ms and 7 days (${DURATION_MS_MAX / 60_000}m), got ${JSON.stringify(text)}`);
  }
  return durationMs;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
