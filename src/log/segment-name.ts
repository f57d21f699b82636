/** Segment file names: the base offset, 20 digits, zero padded, so names sort like offsets. */
import { assert } from '../assert.js';
import { OFFSET_MAX } from '../constants.js';

const DIGITS = 20;
const SEGMENT_PATTERN = /^(\d{20})\.wal$/;

export function segmentFileName(baseOffset: number): string {
  assert(Number.isSafeInteger(baseOffset) && baseOffset >= 0, 'base offset is a safe non-negative integer');
  return `${String(baseOffset).padStart(DIGITS, '0')}.wal`;
}

/** The base offset a segment file name carries, or null for any other name. */
export function parseSegmentFileName(name: string): number | null {
  return parseOffset(SEGMENT_PATTERN.exec(name));
}

function parseOffset(match: RegExpExecArray | null): number | null {
  if (match === null || match[1] === undefined) return null;
  const offset = Number(match[1]);
  return offset <= OFFSET_MAX ? offset : null;
}
