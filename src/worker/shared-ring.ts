/**
 * The shared memory between a log's owner thread and one producer thread
 * (docs/decisions.md, "Producers in worker threads"): a single-producer, single-consumer ring of records
 * in a SharedArrayBuffer, and a table where the owner writes each record's
 * offset once the log acknowledged it. Records cross threads with one copy
 * into the ring (the producer) and the log's usual copy into its write
 * group (the owner); no postMessage per record.
 *
 * Control words (Int32Array over `control`):
 * - PUBLISHED: records the producer has written (wraps at 2^32; compared by difference)
 * - ACKNOWLEDGED: records the owner has settled (offset or error in `results`)
 * - USED_BYTES: ring bytes in use (added by the producer, freed by the owner)
 * - STATE: OPEN, or CLOSED_BY_OWNER / CLOSED_BY_PRODUCER
 * - OWNER_DONE: 1 once the owner takes nothing more; TAKEN_FINAL: how many
 *   records it took (the producer rejects the ones published after that)
 * - OWNER_WAKE / PRODUCER_WAKE: bumped by one side on every change the
 *   other may wait for; each side waits on its own word, so a change made
 *   between its last look and its wait is never missed
 * - ATTACHED: 1 once a producer attached; the ring has one writer, and a
 *   second appender on the same handle would overwrite its records
 *
 * A ring entry at an 8-aligned position: u32 payload length, u32 reserved,
 * then the payload padded to 8. A length of WRAP_MARKER means "continue at
 * position 0"; the skipped tail counts as used until the next entry is freed.
 */
import type { WalErrorCode } from '../errors.js';

export const SHARED_RING_VERSION = 2;
export const CONTROL = {
  PUBLISHED: 0,
  ACKNOWLEDGED: 1,
  USED_BYTES: 2,
  STATE: 3,
  OWNER_DONE: 4,
  TAKEN_FINAL: 5,
  OWNER_WAKE: 6,
  PRODUCER_WAKE: 7,
  ATTACHED: 8,
} as const;
export const CONTROL_WORDS = 9;
export const STATE = { OPEN: 0, CLOSED_BY_OWNER: 1, CLOSED_BY_PRODUCER: 2 } as const;
export const ENTRY_HEADER_BYTES = 8;
export const WRAP_MARKER = 0xffff_ffff;
export const RING_BYTES_DEFAULT = 4 * 1024 * 1024;
export const RING_BYTES_MIN = 4096;
export const RING_BYTES_MAX = 1024 * 1024 * 1024;

/**
 * Error codes as they cross the threads: a settled record's result is its
 * offset (>= 0) or -(index + 1) of its error's code here.
 */
export const ERROR_CODES: readonly WalErrorCode[] = [
  'INVALID_ARGUMENT',
  'LOG_CORRUPT',
  'WAL_FAILED',
  'WAL_CLOSED',
  'LOCKED',
  'OFFSET_OUT_OF_RANGE',
  'FORMAT_UNSUPPORTED',
  'CONFLICT',
];

/** What a producer thread needs: pass it to the worker (workerData or postMessage). */
export interface SharedAppendHandle {
  readonly version: number;
  readonly control: SharedArrayBuffer;
  readonly ring: SharedArrayBuffer;
  /** One Float64 per record that can be in the ring at once (ring bytes / 16). */
  readonly results: SharedArrayBuffer;
  /** The owning log's limit, checked in the producer before anything is copied. */
  readonly maxRecordBytes: number;
  /** The owning log's folder, for messages. */
  readonly dir: string;
}

/** Bytes an entry of `payloadBytes` takes in the ring. */
export function entryBytes(payloadBytes: number): number {
  return ENTRY_HEADER_BYTES + Math.ceil(payloadBytes / 8) * 8;
}

/** Result slots: the most entries the ring can hold at once (the smallest entry is 16 bytes). */
export function resultSlotCount(ringBytes: number): number {
  // ringBytes is a multiple of 8, not always of 16.
  return Math.floor(ringBytes / 16);
}

interface AtomicsWithWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number): { readonly async: boolean; readonly value: Promise<string> | string };
}

/** Bumps a wake word and wakes its waiters. */
export function wake(control: Int32Array, index: number): void {
  Atomics.add(control, index, 1);
  Atomics.notify(control, index);
}

/** Resolves once `array[index]` may no longer be `value` (Atomics.waitAsync: no thread blocks, nothing polls). */
export async function changeOf(array: Int32Array, index: number, value: number): Promise<void> {
  const waited = (Atomics as unknown as AtomicsWithWaitAsync).waitAsync(array, index, value);
  if (!waited.async) return;
  // A pending waitAsync does not keep Node's event loop alive; an open
  // channel or a pending append must, as a socket or a timer would.
  const keepAlive = setTimeout(ignore, KEEP_ALIVE_MS);
  try {
    await waited.value;
  } finally {
    clearTimeout(keepAlive);
  }
}

const KEEP_ALIVE_MS = 2 ** 31 - 1;

function ignore(): void {}
