/**
 * One record of the manager's shared journal: a write to a segment file of
 * one partition log, byte for byte (a physical redo record). Layout, little
 * endian (docs/FORMAT.md, "Shared journal"):
 *
 *   0  u8   version (1)
 *   1  u8   reserved, 0
 *   2  u16  key length in bytes
 *   4  u32  reserved, 0
 *   8  u64  base offset of the segment written
 *  16  u64  file position of the first byte written
 *  24  key: `<topic>/<partition>`, UTF-8
 *  ..  the bytes written
 *
 * The journal's own frames carry the checksum; this layout only names where
 * the bytes go.
 */
import { WalError } from '../errors.js';
import { readUint53, writeUint53 } from '../log/format.js';

export const JOURNAL_ENTRY_VERSION = 1;
export const JOURNAL_ENTRY_HEADER_BYTES = 24;

/** A decoded journal entry; `bytes` is a view into the record. */
export interface JournalEntry {
  readonly logKey: string;
  readonly segmentBaseOffset: number;
  readonly filePosition: number;
  readonly bytes: Buffer;
}

/** Encodes one entry into a new buffer (the journal keeps it until its write is durable). */
export function encodeJournalEntry(logKey: string, segmentBaseOffset: number, filePosition: number, bytes: Uint8Array): Buffer {
  const keyBytes = Buffer.byteLength(logKey, 'utf8');
  const entry = Buffer.allocUnsafe(JOURNAL_ENTRY_HEADER_BYTES + keyBytes + bytes.length);
  entry.writeUInt8(JOURNAL_ENTRY_VERSION, 0);
  entry.writeUInt8(0, 1);
  entry.writeUInt16LE(keyBytes, 2);
  entry.writeUInt32LE(0, 4);
  writeUint53(entry, segmentBaseOffset, 8);
  writeUint53(entry, filePosition, 16);
  entry.write(logKey, JOURNAL_ENTRY_HEADER_BYTES, 'utf8');
  entry.set(bytes, JOURNAL_ENTRY_HEADER_BYTES + keyBytes);
  return entry;
}

/**
 * Decodes one entry.
 * @throws WalError LOG_CORRUPT when the record is not a journal entry (its
 *   checksum passed, so this is a bug or a foreign file, never a torn write)
 */
export function decodeJournalEntry(record: Buffer, where: string): JournalEntry {
  const bad = (reason: string): WalError =>
    new WalError('LOG_CORRUPT', `Cannot replay the manager's journal: ${where} is not a journal entry (${reason}); move the journal folder aside to open without it`);
  if (record.length < JOURNAL_ENTRY_HEADER_BYTES) throw bad(`${record.length} bytes`);
  const version = record.readUInt8(0);
  if (version !== JOURNAL_ENTRY_VERSION) throw bad(`version ${version}`);
  const keyBytes = record.readUInt16LE(2);
  const bytesStart = JOURNAL_ENTRY_HEADER_BYTES + keyBytes;
  if (keyBytes === 0 || bytesStart > record.length) throw bad(`key of ${keyBytes} bytes`);
  return {
    logKey: record.toString('utf8', JOURNAL_ENTRY_HEADER_BYTES, bytesStart),
    segmentBaseOffset: readUint53(record, 8),
    filePosition: readUint53(record, 16),
    bytes: record.subarray(bytesStart),
  };
}
