/**
 * Retention: which sealed segments of a log may go. A log's policy has
 * limits (`maxBytes`, `maxAgeMs`) and a guard (`checkpoint`):
 *
 * - a sealed segment is a candidate once any limit says so: the log is
 *   larger than `maxBytes` without it, or its newest record is older than
 *   `maxAgeMs` (Kafka's rule: either limit triggers deletion);
 * - with `checkpoint` set, no segment holding a record at or after the
 *   checkpoint's offset for this log is ever deleted; a checkpoint that has
 *   no offset for the log protects all of it. With only `checkpoint` set,
 *   every segment wholly below the checkpoint is deleted: the WAL
 *   compaction "remove committed segments";
 * - `'min'` guards with the smallest offset over every checkpoint that has
 *   one for this log (no checkpoint with an offset: nothing is deleted).
 *
 * Deletion is oldest first and whole segments only, never the active one
 * (Wal.truncateBefore), so a crash part way leaves a contiguous log.
 */
import { InvalidArgumentError } from '../errors.js';
import { checkNonNegativeSafeInteger, describe } from '../log/options.js';
import type { SegmentInfo, Wal } from '../log/wal.js';
import type { CheckpointOffsets } from './checkpoint-store.js';
import { isValidName } from './topic-name.js';

/** A log's retention policy. Every field is optional; an empty policy deletes nothing. */
export interface RetentionPolicy {
  /** Keep the log at most this large (sealed segments go, oldest first). */
  readonly maxBytes?: number;
  /** Delete sealed segments whose newest record is older than this. */
  readonly maxAgeMs?: number;
  /** Never delete what this checkpoint (or, with `'min'`, any checkpoint) has not processed. */
  readonly checkpoint?: string;
}

/** Checks a policy given as an option; `undefined` stays undefined. */
export function checkRetentionPolicy(value: unknown, action: string): RetentionPolicy | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`Cannot ${action}: option "retention" must be an object like { maxBytes, maxAgeMs, checkpoint }, got ${describe(value)}`);
  }
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (key !== 'maxBytes' && key !== 'maxAgeMs' && key !== 'checkpoint') {
      throw new InvalidArgumentError(`Cannot ${action}: unknown retention option "${key}"; known are maxBytes, maxAgeMs, checkpoint`);
    }
  }
  for (const key of ['maxBytes', 'maxAgeMs']) {
    const limit = raw[key];
    if (limit !== undefined) checkNonNegativeSafeInteger(limit, action, `retention.${key}`);
  }
  const checkpoint = raw['checkpoint'];
  // A name no checkpoint can have would guard everything for ever.
  if (checkpoint !== undefined && !isValidName(checkpoint)) {
    throw new InvalidArgumentError(`Cannot ${action}: retention.checkpoint must be a checkpoint name or 'min', got ${describe(checkpoint)}`);
  }
  return raw as RetentionPolicy;
}

/**
 * The offset below which a log's records may be deleted under `policy`.
 * @param segments the log's segments, oldest first (Wal.segments())
 * @param guardOffset what the checkpoint guard still needs, or null without a guard
 * @param nowMs the current time
 * @returns an offset to pass to truncateBefore; at most the first segment's base when nothing may go
 */
export function retentionCutOffset(
  segments: readonly SegmentInfo[],
  policy: RetentionPolicy,
  guardOffset: number | null,
  nowMs: number,
): number {
  const firstOffset = segments[0]?.baseOffset ?? 0;
  const hasLimit = policy.maxBytes !== undefined || policy.maxAgeMs !== undefined;
  if (!hasLimit && guardOffset === null) return firstOffset;
  // The last segment is the active one; it is never deleted.
  const deletable = segments.slice(0, -1).filter((segment, index) => segment.sealed && isPrefix(segments, index));
  let cutOffset = hasLimit ? firstOffset : Infinity;
  if (policy.maxBytes !== undefined) {
    let totalBytes = segments.reduce((sum, segment) => sum + segment.sizeBytes, 0);
    for (const segment of deletable) {
      if (totalBytes <= policy.maxBytes) break;
      totalBytes -= segment.sizeBytes;
      cutOffset = Math.max(cutOffset, segment.nextOffset);
    }
  }
  if (policy.maxAgeMs !== undefined) {
    for (const segment of deletable) {
      if (nowMs - segment.lastTimestampMs <= policy.maxAgeMs) break;
      cutOffset = Math.max(cutOffset, segment.nextOffset);
    }
  }
  const boundOffset = Math.min(cutOffset, guardOffset ?? Infinity);
  // Round down to a segment boundary: truncateBefore deletes whole segments only.
  let resultOffset = firstOffset;
  for (const segment of deletable) {
    if (segment.nextOffset > boundOffset) break;
    resultOffset = segment.nextOffset;
  }
  return resultOffset;
}

/** True when every segment before `index` is sealed too (deletion stays a prefix). */
function isPrefix(segments: readonly SegmentInfo[], index: number): boolean {
  for (let before = 0; before < index; before += 1) if (segments[before]?.sealed !== true) return false;
  return true;
}

/**
 * Applies `policy` to one open log.
 * @returns the number of segments deleted
 */
export async function enforceLogRetention(wal: Wal, policy: RetentionPolicy, guardOffset: number | null, nowMs: number): Promise<number> {
  const segments = await wal.segments();
  const cutOffset = Math.min(retentionCutOffset(segments, policy, guardOffset, nowMs), wal.nextOffset);
  if (cutOffset <= wal.firstOffset) return 0;
  await wal.truncateBefore(cutOffset);
  return segments.filter((segment) => segment.nextOffset <= cutOffset && segment.sealed).length;
}

/**
 * What a checkpoint guard still needs of one log.
 * @param policyCheckpoint the policy's `checkpoint` (a name or `'min'`), or undefined for no guard
 * @param offsetsOf what every checkpoint that follows the log's topic needs of it (name → offset; absent when it names nothing of the topic)
 * @returns the offset to keep from, or null when there is no guard
 */
export function guardOffsetFor(policyCheckpoint: string | undefined, offsetsOf: ReadonlyMap<string, number>): number | null {
  if (policyCheckpoint === undefined) return null;
  if (policyCheckpoint === 'min') {
    // No checkpoint follows this log's topic yet: keep all of it.
    if (offsetsOf.size === 0) return 0;
    return Math.min(...offsetsOf.values());
  }
  return offsetsOf.get(policyCheckpoint) ?? 0;
}

/** Topics named per checkpoint; a commit replaces a checkpoint's (frozen) object, so an entry never goes stale. */
const topicsByCheckpoint = new WeakMap<CheckpointOffsets, ReadonlySet<string>>();

/**
 * The topics a checkpoint names offsets of, worked out once per checkpoint
 * object: a retention pass asks for every log, and a checkpoint may name
 * thousands of partitions.
 */
export function topicsOf(checkpoint: CheckpointOffsets): ReadonlySet<string> {
  let topics = topicsByCheckpoint.get(checkpoint);
  if (topics === undefined) {
    topics = new Set(Object.keys(checkpoint).map((key) => key.slice(0, key.lastIndexOf('/'))));
    topicsByCheckpoint.set(checkpoint, topics);
  }
  return topics;
}
