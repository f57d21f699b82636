/**
 * Scans one segment's bytes frame by frame and finds where its valid content
 * ends, and whether what follows is a torn tail (damage confined to the last
 * write) or corruption (good data after bad). A frame is atomic: it is kept
 * whole or cut whole, which is what makes appendBatch all-or-nothing.
 */
import { FRAME_ALIGNMENT_BYTES, FRAME_HEADER_SIZE_BYTES, INDEX_INTERVAL_BYTES, RECORD_SIZE_BYTES_LIMIT, SEGMENT_HEADER_SIZE_BYTES } from '../constants.js';
import { FrameDecoder } from './frame-decoder.js';
import { FRAME_HEADER, FRAME_MAGIC, isAllZero } from './format.js';

export interface ScanResult {
  /** Position after the last valid frame: the segment's valid size. */
  readonly validSizeBytes: number;
  readonly recordCount: number;
  readonly firstTimestampMs: number;
  readonly lastTimestampMs: number;
  readonly indexOffsetDeltas: number[];
  readonly indexPositions: number[];
  /** What follows the valid content. */
  readonly tail: 'clean' | 'torn' | 'corrupt';
  /** First damaged position (for torn and corrupt tails). */
  readonly damagePosition: number;
  readonly damageReason: string;
}

/**
 * @param content the whole segment file
 * @param baseOffset the segment's base offset (from its name and header)
 * @param nonce the segment's nonce from its header, or -1 when the header is unreadable (learnt from the first frame)
 */
export function scanSegment(content: Buffer, baseOffset: number, nonce: number): ScanResult {
  const decoder = new FrameDecoder(RECORD_SIZE_BYTES_LIMIT);
  decoder.expectedNonce = nonce;
  const indexOffsetDeltas = [0];
  const indexPositions = [SEGMENT_HEADER_SIZE_BYTES];
  let position = SEGMENT_HEADER_SIZE_BYTES;
  let expectedOffset = baseOffset;
  let firstTimestampMs = 0;
  let lastTimestampMs = 0;
  let tail: ScanResult['tail'] = 'clean';
  let damageReason = '';
  while (position < content.length) {
    const status = decoder.decode(content, position, content.length, expectedOffset);
    if (status === 'ok') {
      decoder.expectedNonce = decoder.segmentNonce;
      if (expectedOffset === baseOffset) firstTimestampMs = decoder.timestampMs;
      lastTimestampMs = decoder.lastTimestampMs(content, position);
      const lastIndexedPosition = indexPositions[indexPositions.length - 1] ?? 0;
      if (position - lastIndexedPosition >= INDEX_INTERVAL_BYTES) {
        indexOffsetDeltas.push(expectedOffset - baseOffset);
        indexPositions.push(position);
      }
      position += decoder.frameSizeBytes;
      expectedOffset += decoder.recordCount;
      continue;
    }
    if (status === 'zero' && isAllZero(content, position, content.length)) break;
    damageReason = status === 'zero' ? 'zeroed bytes where a frame belongs' : status === 'incomplete' ? 'frame runs past the end of the file' : decoder.reason;
    tail = hasLaterFrame(content, position, expectedOffset, decoder) ? 'corrupt' : 'torn';
    break;
  }
  return {
    validSizeBytes: position,
    recordCount: expectedOffset - baseOffset,
    firstTimestampMs,
    lastTimestampMs,
    indexOffsetDeltas,
    indexPositions,
    tail,
    damagePosition: position,
    damageReason,
  };
}

/**
 * True when a valid frame of a later segment (`content`, whose header gave
 * `nonce`) was written after the records from `lostFirstOffset` on were
 * durable: then records an earlier segment lacks were synced, and their
 * loss is corruption, not a torn tail.
 */
export function provesSyncedPast(content: Buffer, nonce: number, lostFirstOffset: number): boolean {
  const decoder = new FrameDecoder(RECORD_SIZE_BYTES_LIMIT);
  decoder.expectedNonce = nonce;
  return hasLaterFrame(content, SEGMENT_HEADER_SIZE_BYTES - FRAME_ALIGNMENT_BYTES, lostFirstOffset, decoder);
}

/**
 * True when a valid frame after `damagePosition` was written after the
 * damaged records were durable (its synced offset is past them): then the
 * damage hit synced data, and cutting it would drop acknowledged records.
 * Otherwise the damage lies in data that was never synced: a torn tail, also
 * when the kernel wrote later pages back before earlier ones ('os', batch).
 * Under 'always' a frame's synced offset is its write group's first offset.
 */
function hasLaterFrame(content: Buffer, damagePosition: number, damagedFirstOffset: number, decoder: FrameDecoder): boolean {
  const lastHeaderPosition = content.length - FRAME_HEADER_SIZE_BYTES;
  for (let position = damagePosition + FRAME_ALIGNMENT_BYTES; position <= lastHeaderPosition; position += FRAME_ALIGNMENT_BYTES) {
    if (content.readUInt16LE(position + FRAME_HEADER.magic) !== FRAME_MAGIC) continue;
    if (decoder.decode(content, position, content.length, -1) !== 'ok') continue;
    if (decoder.syncedOffset > damagedFirstOffset) return true;
  }
  return false;
}
