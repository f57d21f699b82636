/**
 * Options of Wal.open: their types, defaults and validation. Validation
 * happens before anything touches the disk, so bad options change nothing.
 */
import {
  OPEN_FILES_DEFAULT_MAX,
  OPEN_FILES_MAX,
  PENDING_SIZE_BYTES_DEFAULT_MAX,
  RECORD_SIZE_BYTES_DEFAULT_MAX,
  RECORD_SIZE_BYTES_LIMIT,
  SEGMENT_AGE_MS_DEFAULT_MAX,
  SEGMENT_SIZE_BYTES_DEFAULT,
  SEGMENT_SIZE_BYTES_MIN,
} from '../constants.js';
import { frameSizeBytes } from './format.js';
import { InvalidArgumentError } from '../errors.js';
import type { Clock } from '../io/clock.js';
import { isClock, systemClock } from '../io/clock.js';
import type { FileSystem } from '../io/file-system.js';
import { NodeFileSystem } from '../io/node-file-system.js';
import type { Logger } from '../logger.js';
import { guardedLogger, silentLogger } from '../logger.js';

/**
 * When an append is acknowledged.
 * - `'always'`: after its bytes are durable (fdatasync semantics).
 * - `{ batch: { intervalMs } }`: after the write; a sync runs at least every `intervalMs`.
 * - `'os'`: after the write; the OS decides when to flush.
 */
export type FsyncPolicy = 'always' | 'os' | { readonly batch: { readonly intervalMs: number } };

/** Options of {@link Wal.open}. */
export interface WalOptions {
  /** Folder of the log; created if missing. */
  readonly dir: string;
  /** @default 'always' */
  readonly fsync?: FsyncPolicy;
  /** Rotate the active segment once it would grow past this size. @default 67108864 (64 MiB) */
  readonly segmentBytes?: number;
  /** Rotate a non-empty active segment older than this (checked on append). @default 604800000 (7 days) */
  readonly segmentMaxAgeMs?: number;
  /** Rotate after this many records in a segment. @default Infinity */
  readonly segmentMaxRecords?: number;
  /** Largest record payload accepted. @default 16777216 (16 MiB) */
  readonly maxRecordBytes?: number;
  /** Bytes appended but not yet acknowledged before appends wait (backpressure). @default 67108864 (64 MiB), or two frames of `maxRecordBytes` if that is more */
  readonly maxPendingBytes?: number;
  /** Segment files kept open for readers (LRU). @default 32 */
  readonly maxOpenFiles?: number;
  /**
   * Fill each new segment with zeros ahead of use so that a synced append does
   * not change the file's size (a cheaper sync). @default true under fsync 'always', false otherwise (docs/decisions.md)
   */
  readonly preallocate?: boolean;
  /**
   * Under fsync 'always', write each group with a blocking O_DSYNC write on
   * the thread that owns the log instead of on libuv's thread pool: no
   * hand-off to a pool thread and back per group, so one log makes more
   * durable appends per second (1.2-1.8x here, docs/performance.md), but the
   * event loop stalls for every device flush (the loop still turns between
   * groups). For a process or worker thread whose job is the log; not for
   * one serving other I/O, and no help to many logs at once, whose flushes
   * then run one after another. No effect under 'os' and batch, whose
   * page-cache writes are blocking anyway, nor on logs under a WalManager's
   * shared journal. @default false
   */
  readonly blockingWrites?: boolean;
  /** On corruption, cut the log at the first bad frame instead of failing. @default false */
  readonly repair?: boolean;
  /** Where file I/O goes; tests inject faults here. @default the real file system */
  readonly fileSystem?: FileSystem;
  /** A pino-compatible logger for rare events (recovery, rotation errors). @default silent */
  readonly logger?: Logger;
  /** Where time comes from; a simulation injects its own so that runs replay exactly. @default the process's clocks */
  readonly clock?: Clock;
}

/** Options after defaults, as the engine uses them. */
export interface ResolvedWalOptions {
  readonly dir: string;
  readonly syncMode: 'always' | 'batch' | 'os';
  /**
   * Segment files are opened O_DSYNC, so every write is durable when it
   * returns: 'always' on its own. False under the other policies, and under
   * 'always' when a shared journal makes the writes durable instead.
   */
  readonly dsyncWrites: boolean;
  /** The O_DSYNC writes of dsyncWrites are blocking writes on this thread (WalOptions.blockingWrites). */
  readonly blockingWrites: boolean;
  readonly batchIntervalMs: number;
  readonly segmentBytes: number;
  readonly segmentMaxAgeMs: number;
  readonly segmentMaxRecords: number;
  readonly maxRecordBytes: number;
  readonly maxPendingBytes: number;
  readonly maxOpenFiles: number;
  readonly preallocate: boolean;
  readonly repair: boolean;
  readonly fileSystem: FileSystem;
  readonly logger: Logger;
  readonly clock: Clock;
}

/** The options of Wal.open. */
export const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'dir',
  'fsync',
  'segmentBytes',
  'segmentMaxAgeMs',
  'segmentMaxRecords',
  'maxRecordBytes',
  'maxPendingBytes',
  'maxOpenFiles',
  'preallocate',
  'blockingWrites',
  'repair',
  'fileSystem',
  'logger',
  'clock',
]);

/** Where options are checked, for messages and the list of known options. */
export interface OptionsContext {
  /** What the caller was doing: "open log", "open manager". */
  readonly action: string;
  /** Option names accepted besides the Wal's and not shown in messages (internal wiring). */
  readonly internal?: ReadonlySet<string>;
  /** Option names accepted besides the Wal's and shown in messages (a manager's own). */
  readonly alsoKnown?: ReadonlySet<string>;
}

const OPEN_LOG: OptionsContext = { action: 'open log' };

/** The methods a `fileSystem` option must have (FileSystem). */
const FILE_SYSTEM_METHODS = ['open', 'readFile', 'rename', 'unlink', 'mkdir', 'readdir', 'syncDir'];
/** The methods a `logger` option must have (pino's, as Logger names them). */
const LOGGER_METHODS = ['debug', 'info', 'warn', 'error'];

/** Checks `options` and fills in defaults; throws {@link InvalidArgumentError} naming the bad option. */
export function resolveWalOptions(options: unknown, context: OptionsContext = OPEN_LOG): ResolvedWalOptions {
  const action = context.action;
  checkOptionKeys(options, [...new Set([...(context.alsoKnown ?? []), ...KNOWN_OPTIONS])], action, context.internal);
  const raw = options as Record<string, unknown>;
  const dir = raw['dir'];
  if (typeof dir !== 'string' || dir.length === 0 || dir.includes('\0')) {
    const got = typeof dir === 'string' && dir.includes('\0') ? 'a path with a NUL byte' : describe(dir);
    throw new InvalidArgumentError(`Cannot ${action}: option "dir" must be a non-empty path without NUL bytes, got ${got}`);
  }
  const { syncMode, batchIntervalMs } = resolveFsync(action, raw['fsync']);
  const maxRecordBytes = integerOption(action, raw, 'maxRecordBytes', RECORD_SIZE_BYTES_DEFAULT_MAX, 1, RECORD_SIZE_BYTES_LIMIT);
  // One record of the largest size must fit the budget, or its append could never be admitted.
  const pendingDefault = Math.max(PENDING_SIZE_BYTES_DEFAULT_MAX, 2 * frameSizeBytes(maxRecordBytes));
  const maxPendingBytes = integerOption(action, raw, 'maxPendingBytes', pendingDefault, frameSizeBytes(maxRecordBytes), 2 ** 31);
  return {
    dir,
    syncMode,
    dsyncWrites: syncMode === 'always',
    batchIntervalMs,
    segmentBytes: integerOption(action, raw, 'segmentBytes', SEGMENT_SIZE_BYTES_DEFAULT, SEGMENT_SIZE_BYTES_MIN, 2 ** 32 - 1),
    segmentMaxAgeMs: integerOption(action, raw, 'segmentMaxAgeMs', SEGMENT_AGE_MS_DEFAULT_MAX, 1, Number.MAX_SAFE_INTEGER),
    segmentMaxRecords: countOption(action, raw, 'segmentMaxRecords'),
    maxRecordBytes,
    maxPendingBytes,
    maxOpenFiles: integerOption(action, raw, 'maxOpenFiles', OPEN_FILES_DEFAULT_MAX, 1, OPEN_FILES_MAX),
    // Measured (docs/decisions.md): a large win under 'always', a loss under
    // batch and 'os', where writes are not synced one by one.
    preallocate: booleanOption(action, raw, 'preallocate', syncMode === 'always'),
    blockingWrites: booleanOption(action, raw, 'blockingWrites', false),
    repair: booleanOption(action, raw, 'repair', false),
    fileSystem: methodsOption<FileSystem>(action, raw, 'fileSystem', FILE_SYSTEM_METHODS) ?? new NodeFileSystem(),
    // A logger without its methods would first fail deep inside a failure path.
    logger: guardedLogger(methodsOption<Logger>(action, raw, 'logger', LOGGER_METHODS) ?? silentLogger),
    clock: clockOption(action, raw['clock']),
  };
}

/**
 * Checks the arguments of `new FileCache(fileSystem, maxOpenFiles)`, which
 * callers may build to share one descriptor budget between their own logs.
 * @throws InvalidArgumentError naming the bad argument
 */
export function checkFileCacheArguments(fileSystem: unknown, maxOpenFiles: unknown): void {
  const action = 'create FileCache';
  if (methodsOption<FileSystem>(action, { fileSystem }, 'fileSystem', FILE_SYSTEM_METHODS) === undefined) {
    throw new InvalidArgumentError(`Cannot ${action}: fileSystem must be given (new NodeFileSystem() for the real one)`);
  }
  integerOption(action, { maxOpenFiles }, 'maxOpenFiles', 0, 1, OPEN_FILES_MAX);
}

function resolveFsync(action: string, value: unknown): { syncMode: 'always' | 'batch' | 'os'; batchIntervalMs: number } {
  if (value === undefined || value === 'always') return { syncMode: 'always', batchIntervalMs: 0 };
  if (value === 'os') return { syncMode: 'os', batchIntervalMs: 0 };
  if (typeof value === 'object' && value !== null && 'batch' in value) {
    const batch = (value as { batch: unknown }).batch;
    // A misspelt key would be ignored silently, and its setting with it.
    const strayKey = Object.keys(value).find((key) => key !== 'batch') ?? (typeof batch === 'object' && batch !== null ? Object.keys(batch).find((key) => key !== 'intervalMs') : undefined);
    if (strayKey !== undefined) {
      throw new InvalidArgumentError(`Cannot ${action}: option "fsync" takes { batch: { intervalMs } } and nothing else, got a key "${strayKey}"`);
    }
    const intervalMs = typeof batch === 'object' && batch !== null ? (batch as { intervalMs?: unknown }).intervalMs : undefined;
    if (typeof intervalMs === 'number' && Number.isInteger(intervalMs) && intervalMs >= 1 && intervalMs <= 3_600_000) {
      return { syncMode: 'batch', batchIntervalMs: intervalMs };
    }
    throw new InvalidArgumentError(
      `Cannot ${action}: fsync.batch.intervalMs must be an integer in [1, 3600000], got ${describe(intervalMs)}`,
    );
  }
  throw new InvalidArgumentError(
    `Cannot ${action}: option "fsync" must be 'always', 'os' or { batch: { intervalMs } }, got ${describe(value)}`,
  );
}

function integerOption(action: string, raw: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const value = raw[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`Cannot ${action}: option "${name}" must be an integer in [${min}, ${max}], got ${describe(value)}`);
  }
  return value;
}

function countOption(action: string, raw: Record<string, unknown>, name: string): number {
  const value = raw[name];
  if (value === undefined || value === Infinity) return Infinity;
  return integerOption(action, raw, name, Infinity, 1, Number.MAX_SAFE_INTEGER);
}

function booleanOption(action: string, raw: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = raw[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new InvalidArgumentError(`Cannot ${action}: option "${name}" must be a boolean, got ${describe(value)}`);
  }
  return value;
}

function clockOption(action: string, value: unknown): Clock {
  if (value === undefined) return systemClock;
  if (!isClock(value)) {
    throw new InvalidArgumentError(`Cannot ${action}: option "clock" must be an object with monotonicMs() and wallMs(), got ${describe(value)}`);
  }
  return value;
}

function methodsOption<T>(action: string, raw: Record<string, unknown>, name: string, methods: readonly string[]): T | undefined {
  const value = raw[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) {
    throw new InvalidArgumentError(`Cannot ${action}: option "${name}" must be an object, got ${describe(value)}`);
  }
  const missing = methods.filter((method) => typeof (value as Record<string, unknown>)[method] !== 'function');
  if (missing.length > 0) {
    throw new InvalidArgumentError(`Cannot ${action}: option "${name}" must have the methods ${methods.join(', ')}; it lacks ${missing.join(', ')}`);
  }
  return value as T;
}

/**
 * Checks that the options of a call are an object of known keys: a misspelt
 * `frm` must not silently mean "from the start".
 * @param hidden keys accepted but not listed in messages (internal wiring)
 * @throws InvalidArgumentError naming the unknown key and the known ones
 */
export function checkOptionKeys(options: unknown, known: readonly string[], action: string, hidden?: ReadonlySet<string>): asserts options is object {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`Cannot ${action}: options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key) && hidden?.has(key) !== true) {
      throw new InvalidArgumentError(`Cannot ${action}: unknown option "${key}"; known options are ${known.join(', ')}`);
    }
  }
}

/**
 * Checks an offset, count or size given as a number: a non-negative safe integer.
 * @param name how the message names it (`from`, `retention.maxBytes`, `offset for orders/3`)
 */
export function checkNonNegativeSafeInteger(value: unknown, action: string, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`Cannot ${action}: ${name} must be a non-negative safe integer (at most 2^53 - 1), got ${describe(value)}`);
  }
}

/** Short description of a bad value for an error message (never the whole value). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `${value}n (a bigint)`;
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  if (typeof value !== 'object') return typeof value;
  // A class instance by its name (an ArrayBuffer, a Map): "an object" would not say what was given.
  const name: unknown = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  if (typeof name !== 'string' || name === '' || name === 'Object') return 'an object';
  return `${/^[AEIO]/i.test(name) ? 'an' : 'a'} ${name}`;
}
