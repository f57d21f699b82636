/**
 * What a caller may append, checked before anything is reserved or
 * created: the Wal checks each append with these, and the manager checks
 * the first records of a partition that does not exist yet, so that a bad
 * record never leaves an empty log behind.
 */
import { InvalidArgumentError } from '../errors.js';
import { recordEntrySizeBytes } from './format.js';
import { describe } from './options.js';
import { entryBytesWorstCase } from './write-group.js';

/** The limits of one log that records are checked against. */
export interface RecordLimits {
  readonly maxRecordBytes: number;
  readonly maxPendingBytes: number;
}

/** One record's bytes (a string as UTF-8); throws InvalidArgumentError for anything else, empty, too large, or a string UTF-8 cannot hold. */
export function toPayload(data: unknown, maxRecordBytes: number, action: string): Uint8Array {
  let payload: Uint8Array;
  if (typeof data === 'string') {
    // UTF-8 has no bytes for a lone surrogate: Buffer.from would store U+FFFD
    // instead, and the record would read back other than it was given.
    if (!data.isWellFormed()) {
      throw new InvalidArgumentError(`Cannot ${action}: the string holds a lone UTF-16 surrogate, which UTF-8 cannot store; pass bytes (a Buffer) or fix the string (String.prototype.toWellFormed)`);
    }
    payload = Buffer.from(data, 'utf8');
  } else if (data instanceof Uint8Array) payload = data;
  else throw new InvalidArgumentError(`Cannot ${action}: a record must be a Uint8Array (a Buffer) or a string, got ${describe(data)}${viewHint(data)}`);
  if (payload.length === 0) {
    throw new InvalidArgumentError(`Cannot ${action}: a record must not be empty (give at least one byte; a marker record can be a single byte)`);
  }
  if (payload.length > maxRecordBytes) {
    throw new InvalidArgumentError(`Cannot ${action}: size is ${payload.length} bytes, maximum is ${maxRecordBytes} bytes (maxRecordBytes)`);
  }
  return payload;
}

/** An atomic batch's payloads and the bytes its frame entries take. */
export interface BatchPayloads {
  readonly payloads: Uint8Array[];
  readonly entryBytes: number;
}

/** Checks an atomic batch: a non-empty array of valid records that fits the pending-bytes bound in one piece. */
export function toBatchPayloads(datas: unknown, limits: RecordLimits): BatchPayloads {
  if (!Array.isArray(datas) || datas.length === 0) {
    throw new InvalidArgumentError(`Cannot append batch: records must be a non-empty array, got ${describe(datas)}`);
  }
  const payloads: Uint8Array[] = [];
  let entryBytes = 0;
  for (const data of datas as readonly unknown[]) {
    const payload = toPayload(data, limits.maxRecordBytes, 'append batch');
    payloads.push(payload);
    entryBytes += recordEntrySizeBytes(payload.length);
  }
  const budgetBytes = entryBytesWorstCase(entryBytes);
  if (budgetBytes > limits.maxPendingBytes) {
    throw new InvalidArgumentError(`Cannot append batch: it needs ${budgetBytes} bytes, maximum is maxPendingBytes (${limits.maxPendingBytes}); split it`);
  }
  return { payloads, entryBytes };
}

/**
 * The bytes of a record that must wait before they are encoded (for
 * backpressure, or for its log to open), copied when they are the caller's:
 * the caller may reuse its buffer as soon as the append call returns.
 * Strings are immutable, and anything else is left for the append to refuse.
 */
export function keepRecord<T>(data: T): T {
  return (data instanceof Uint8Array ? Buffer.from(data) : data) as T;
}

/** How to pass bytes held in another binary type. */
function viewHint(data: unknown): string {
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return '; wrap it: new Uint8Array(buffer)';
  if (ArrayBuffer.isView(data)) return '; pass its bytes: new Uint8Array(view.buffer, view.byteOffset, view.byteLength)';
  return '';
}
