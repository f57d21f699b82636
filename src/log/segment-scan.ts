/**
 * Scans one segment's bytes frame by frame and finds where its valid,
 * whole-group content ends, and whether what follows is a torn tail (damage
 * confined to the last write) or corruption (good data after bad).
 */
import { FRAME_ALIGNMENT_BYTES, FRAME_HEADER_SIZE_BYTES, INDEX_INTERVAL_BYTES, SEGMENT_HEADER_SIZE_BYTES } from '../constants.js';
import { FrameDecoder } from './frame-decoder.js';
import { FRAME_FLAG_GROUP_END, FRAME_HEADER, FRAME_MAGIC, isAllZero } from './format.js';

export interface ScanResult {
  /** Position after the last whole write group: the segment's valid size. */
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
 */
export function scanSegment(content: Buffer, baseOffset: number, maxRecordBytes: number): ScanResult {
  const decoder = new FrameDecoder(maxRecordBytes);
  const indexOffsetDeltas = [0];
  const indexPositions = [SEGMENT_HEADER_SIZE_BYTES];
  let position = SEGMENT_HEADER_SIZE_BYTES;
  let expectedOffset = baseOffset;
  let groupEndPosition = position;
  let groupEndOffset = baseOffset;
  let groupFirstOffset = baseOffset;
  let firstTimestampMs = 0;
  let lastTimestampMs = 0;
  let groupLastTimestampMs = 0;
  let damageReason = '';
  while (position < content.length) {
    const status = decoder.decode(content, position, content.length, expectedOffset);
    if (status === 'zero') {
      if (isAllZero(content, position, content.length)) break;
      damageReason = 'zeroed bytes where a frame belongs';
      return classify();
    }
    if (status === 'incomplete') {
      damageReason = 'frame runs past the end of the file';
      return classify();
    }
    if (status === 'bad') {
      damageReason = decoder.reason;
      return classify();
    }
    if (expectedOffset === groupEndOffset) groupFirstOffset = expectedOffset;
    if (firstTimestampMs === 0) firstTimestampMs = decoder.timestampMs;
    groupLastTimestampMs = decoder.timestampMs;
    const lastIndexedPosition = indexPositions[indexPositions.length - 1] ?? 0;
    if (position - lastIndexedPosition >= INDEX_INTERVAL_BYTES) {
      indexOffsetDeltas.push(expectedOffset - baseOffset);
      indexPositions.push(position);
    }
    position += decoder.frameSizeBytes;
    expectedOffset += 1;
    if ((decoder.flags & FRAME_FLAG_GROUP_END) !== 0) {
      groupEndPosition = position;
      groupEndOffset = expectedOffset;
      lastTimestampMs = groupLastTimestampMs;
    }
  }
  // A clean end inside a group (its last frame never written) is a torn tail too.
  const tail = groupEndPosition === position ? 'clean' : 'torn';
  if (tail === 'torn') damageReason = 'write group has no last frame';
  return result(tail, groupEndPosition);

  function classify(): ScanResult {
    const damagedGroupFirstOffset = expectedOffset === groupEndOffset ? expectedOffset : groupFirstOffset;
    const laterGroup = hasLaterGroup(content, position, damagedGroupFirstOffset, decoder);
    return result(laterGroup ? 'corrupt' : 'torn', position);
  }

  function result(tail: ScanResult['tail'], damagePosition: number): ScanResult {
    const keptEntries = indexPositions.filter((entryPosition) => entryPosition < groupEndPosition || entryPosition === SEGMENT_HEADER_SIZE_BYTES).length;
    return {
      validSizeBytes: groupEndPosition,
      recordCount: groupEndOffset - baseOffset,
      firstTimestampMs: groupEndOffset === baseOffset ? 0 : firstTimestampMs,
      lastTimestampMs,
      indexOffsetDeltas: indexOffsetDeltas.slice(0, keptEntries),
      indexPositions: indexPositions.slice(0, keptEntries),
      tail,
      damagePosition,
      damageReason,
    };
  }
}

/**
 * True when a valid frame after `damagePosition` belongs to a later write
 * group than the damaged one: then the damage is not confined to the last
 * write, and cutting it would drop acknowledged data.
 */
function hasLaterGroup(content: Buffer, damagePosition: number, damagedGroupFirstOffset: number, decoder: FrameDecoder): boolean {
  const lastHeaderPosition = content.length - FRAME_HEADER_SIZE_BYTES;
  for (let position = damagePosition + FRAME_ALIGNMENT_BYTES; position <= lastHeaderPosition; position += FRAME_ALIGNMENT_BYTES) {
    if (content.readUInt16LE(position + FRAME_HEADER.magic) !== FRAME_MAGIC) continue;
    if (decoder.decode(content, position, content.length, -1) !== 'ok') continue;
    if (decoder.offset - decoder.groupDelta > damagedGroupFirstOffset) return true;
  }
  return false;
}
