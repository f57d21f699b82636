/**
 * Open: find the segments, decide where the log ends, and leave the folder
 * ready for appends. After a clean close this reads no data (the marker says
 * where the log ends). After a crash it scans only segments that may hold
 * unsynced data: those without a valid index, normally just the active one.
 */
import { basename, dirname, join } from 'node:path';
import { assert } from '../assert.js';
import { SEGMENT_HEADER_SIZE_BYTES } from '../constants.js';
import { CorruptionError, FormatUnsupportedError } from '../errors.js';
import type { FileHandle } from '../io/file-system.js';
import { CLEAN_MARKER_FILE_NAME, decodeCleanMarker, readCleanMarker } from './clean-marker.js';
import { decodeSegmentHeader, encodeSegmentHeader, FORMAT_VERSION, isAllZero, newSegmentNonce } from './format.js';
import type { ResolvedWalOptions } from './options.js';
import { Segment } from './segment.js';
import { encodeIndexTrailer, readIndexTrailer } from './segment-index.js';
import { parseSegmentFileName, segmentFileName } from './segment-name.js';
import { PREPARED_FILE_PREFIX } from './segment-preparer.js';
import { provesSyncedPast, scanSegment } from './segment-scan.js';
import { writeFileAtomic } from './atomic-file.js';
import { writeFully } from '../io/write-fully.js';
import { readWhole } from '../io/read-fully.js';
import { readSegmentHeader } from './segment-header-file.js';
import type { SegmentHeaderStatus } from './format.js';

/** What `repair: true` cut. */
export interface RepairSummary {
  /** Segment file where the first bad frame was. */
  readonly file: string;
  /** Position of the cut in `file`. */
  readonly filePosition: number;
  /** Bytes cut from `file` and later segments (copied to `.broken` files first). */
  readonly cutBytes: number;
  /** Later segment files moved aside to `.broken` names. */
  readonly removedSegments: string[];
  readonly reason: string;
}

/** What open did; `wal.recovery`. */
export interface RecoverySummary {
  /** The log was closed cleanly: nothing was scanned. */
  readonly clean: boolean;
  /** The folder held no segment: open created the log's first one (and counts as clean). */
  readonly created: boolean;
  /** Segments whose data was read and checked. */
  readonly scannedSegments: number;
  readonly scannedBytes: number;
  /** Bytes of data cut at open (a torn tail, an unfinished write group, segments moved aside); preallocated zeros are not counted. */
  readonly truncatedBytes: number;
  /** Segments in the log after open. */
  readonly segmentCount: number;
  readonly removedTemporaryFiles: number;
  readonly repaired: RepairSummary | null;
  readonly durationMs: number;
}

export interface RecoveredLog {
  readonly segments: Segment[];
  readonly summary: RecoverySummary;
}

interface ScanTotals {
  scannedSegments: number;
  scannedBytes: number;
  truncatedBytes: number;
  repaired: RepairSummary | null;
}

/**
 * Opens the log state in `options.dir` (the lock is already held).
 * @param folderNameSynced the open created the folder and synced its name into the parent
 */
export async function recoverLog(options: ResolvedWalOptions, nowMs: number, folderNameSynced: boolean): Promise<RecoveredLog> {
  const startedMs = performance.now();
  const { fileSystem, dir } = options;
  const names = await fileSystem.readdir(dir);
  let removedTemporaryFiles = 0;
  const bases: number[] = [];
  for (const name of names) {
    if (name.endsWith('.tmp')) {
      const adoptedBase = name.startsWith(PREPARED_FILE_PREFIX) ? await adoptPrepared(options, name, names) : null;
      if (adoptedBase !== null) {
        bases.push(adoptedBase);
        continue;
      }
      await fileSystem.unlink(join(dir, name));
      removedTemporaryFiles += 1;
      continue;
    }
    const base = parseSegmentFileName(name);
    if (base !== null) bases.push(base);
  }
  bases.sort((a, b) => a - b);
  const totals: ScanTotals = { scannedSegments: 0, scannedBytes: 0, truncatedBytes: 0, repaired: null };
  let clean = false;
  const segments: Segment[] = [];
  try {
    if (bases.length === 0) {
      // A log always keeps its active segment: a marker with no segment
      // left means every file of the log was deleted, and starting again at
      // offset 0 would hand out offsets its readers already saw.
      const firstOffset = await offsetAfterLostSegments(options, totals);
      clean = totals.repaired === null;
      segments.push(await createFirstSegment(options, firstOffset, nowMs));
      // An empty folder this open did not create may be new too (a process
      // killed after creating it): its name lives in the parent folder.
      if (!folderNameSynced) await fileSystem.syncDir(dirname(dir));
    } else {
      const opened = await openClean(options, bases);
      clean = opened.kind === 'clean';
      if (opened.kind === 'clean') {
        segments.push(...opened.segments);
      } else {
        if (opened.loss !== null && !options.repair) throw new CorruptionError(opened.loss.file, opened.loss.filePosition, opened.loss.reason, { action: 'open log' });
        await openAfterCrash(options, bases, segments, totals, nowMs);
        // The scan cut what the marker vouched for as a torn tail: with repair, say so.
        if (opened.loss !== null && totals.repaired === null) {
          totals.repaired = { ...opened.loss, cutBytes: totals.truncatedBytes, removedSegments: [] };
        }
      }
    }
    // The marker's removal (and any other change to the folder above) must be
    // durable before the log changes; the Wal's first write does that folder
    // sync, keeping a clean open cheap.
    await fileSystem.unlink(join(dir, CLEAN_MARKER_FILE_NAME));
  } catch (error) {
    // A failed open must not leave the active segment's descriptor behind.
    await closeWriteHandles(segments);
    throw error;
  }
  return {
    segments,
    summary: {
      clean,
      created: bases.length === 0,
      scannedSegments: totals.scannedSegments,
      scannedBytes: totals.scannedBytes,
      truncatedBytes: totals.truncatedBytes,
      segmentCount: segments.length,
      removedTemporaryFiles,
      repaired: totals.repaired,
      durationMs: performance.now() - startedMs,
    },
  };
}

/** Closes the write handles of recovered segments (a failed open gives them back). */
async function closeWriteHandles(segments: readonly Segment[]): Promise<void> {
  for (const segment of segments) {
    const handle = segment.writeHandle;
    segment.writeHandle = null;
    if (handle !== null) await handle.close().catch(() => {});
  }
}

/**
 * A prepared file that holds a segment header was rotated into use, but the
 * power cut came before its rename reached the disk (acknowledgements do
 * not wait for the folder sync after that rename; the file itself was made
 * durable under its temp name before use). Finish the rename.
 * @returns the segment's base offset, or null when the file was never used
 */
async function adoptPrepared(options: ResolvedWalOptions, name: string, names: readonly string[]): Promise<number | null> {
  const path = join(options.dir, name);
  const handle = await options.fileSystem.open(path, {});
  let status: SegmentHeaderStatus;
  try {
    status = await readSegmentHeader(handle);
  } finally {
    await handle.close();
  }
  if (status.kind !== 'ok' || names.includes(segmentFileName(status.baseOffset))) return null;
  await options.fileSystem.rename(path, join(options.dir, segmentFileName(status.baseOffset)));
  await options.fileSystem.syncDir(options.dir);
  options.logger.warn({ file: path, baseOffset: status.baseOffset }, 'finished the rename of a rotated segment');
  return status.baseOffset;
}

/**
 * Where a log with no segment file starts: 0 for a new one. One whose
 * clean-shutdown marker remains lost every segment: that is corruption, and
 * `repair` starts an empty log at the marker's `nextOffset`, so that no
 * offset is handed out twice.
 */
async function offsetAfterLostSegments(options: ResolvedWalOptions, totals: ScanTotals): Promise<number> {
  const markerBytes = await options.fileSystem.readFile(join(options.dir, CLEAN_MARKER_FILE_NAME));
  if (markerBytes === null) return 0;
  const marker = decodeCleanMarker(markerBytes);
  const file = new Segment(options.dir, marker?.activeBaseOffset ?? 0, 0).path;
  const reason =
    marker === null
      ? 'every segment file of the log is gone, and its clean-shutdown marker is damaged, so where its offsets ended is unknown'
      : `every segment file of the log is gone, but its clean-shutdown marker says it held records up to offset ${marker.nextOffset}`;
  const remedy =
    marker === null
      ? 'restore the segment files, or open with { repair: true } to start an empty log at offset 0 (offsets readers saw before may come again)'
      : `restore the segment files, or open with { repair: true } to start an empty log at offset ${marker.nextOffset} (no offset is reused)`;
  if (!options.repair) throw new CorruptionError(file, 0, reason, { action: 'open log', remedy });
  totals.repaired = { file, filePosition: 0, cutBytes: 0, removedSegments: [], reason };
  return marker?.nextOffset ?? 0;
}

async function createFirstSegment(options: ResolvedWalOptions, baseOffset: number, nowMs: number): Promise<Segment> {
  const segment = new Segment(options.dir, baseOffset, nowMs);
  segment.nonce = newSegmentNonce();
  const handle = await options.fileSystem.open(segment.path, { write: true, create: true, dsync: options.dsyncWrites });
  await writeHeader(handle, segment, options.dsyncWrites);
  segment.writeHandle = handle;
  segment.allocatedBytes = SEGMENT_HEADER_SIZE_BYTES;
  return segment;
}

async function writeHeader(handle: FileHandle, segment: Segment, dsync: boolean): Promise<void> {
  const header = Buffer.alloc(SEGMENT_HEADER_SIZE_BYTES);
  encodeSegmentHeader(header, 0, segment.baseOffset, segment.createdAtMs, segment.nonce);
  await writeFully(handle, header, 0, header.length, 0);
  if (!dsync) await handle.datasync();
}

/** The segments as the clean-shutdown marker describes them, or null when it cannot be trusted. */
async function openClean(options: ResolvedWalOptions, bases: number[]): Promise<CleanOpen> {
  const marker = await readCleanMarker(options.fileSystem, options.dir);
  const lastBase = bases[bases.length - 1];
  if (marker === null || lastBase === undefined) return SCAN;
  if (marker.activeBaseOffset > lastBase) {
    // Appends never remove the active segment, and a later one only follows it.
    const missing = new Segment(options.dir, marker.activeBaseOffset, 0).path;
    return { kind: 'scan', loss: { file: missing, filePosition: 0, reason: `the clean-shutdown marker names this segment, holding records up to offset ${marker.nextOffset}, and it is missing` } };
  }
  if (marker.activeBaseOffset !== lastBase || marker.nextOffset < lastBase) return SCAN;
  const active = new Segment(options.dir, lastBase, 0);
  const handle = await options.fileSystem.open(active.path, { write: true, dsync: options.dsyncWrites });
  const sizeBytes = await handle.sizeBytes();
  const status = await readSegmentHeader(handle);
  if (status.kind === 'unsupported') {
    await handle.close();
    throw new FormatUnsupportedError(active.path, status.version, FORMAT_VERSION);
  }
  if (sizeBytes < marker.activeSizeBytes) {
    // The active segment only grows until it is sealed (after a later open
    // rotates it, the marker names another segment): bytes that were synced
    // before the clean close are gone, which is damage, not a torn tail.
    await handle.close();
    const reason = `the file ends at byte ${sizeBytes}, but the clean-shutdown marker says it held ${marker.activeSizeBytes} bytes, with records up to offset ${marker.nextOffset}`;
    return { kind: 'scan', loss: { file: active.path, filePosition: sizeBytes, reason } };
  }
  if (options.repair || sizeBytes !== marker.activeSizeBytes || status.kind !== 'ok' || status.baseOffset !== lastBase) {
    // Repair trusts no shortcut: it reads the whole log to find the damage it is asked to cut.
    await handle.close();
    return SCAN;
  }
  active.createdAtMs = status.createdAtMs;
  active.nonce = status.nonce;
  active.writeHandle = handle;
  active.recordCount = marker.nextOffset - lastBase;
  active.reservedRecordCount = active.recordCount;
  active.sizeBytes = sizeBytes;
  active.allocatedBytes = sizeBytes;
  active.reservedSizeBytes = sizeBytes;
  // The active segment's index is rebuilt by the first read that needs it.
  active.indexComplete = active.recordCount === 0;
  return { kind: 'clean', segments: [...sealedSegments(options, bases.slice(0, -1), lastBase), active] };
}

/** What the clean-shutdown marker allows: an open without a scan, or a scan (noting records it vouched for that are gone). */
type CleanOpen = { readonly kind: 'clean'; readonly segments: Segment[] } | { readonly kind: 'scan'; readonly loss: MarkerLoss | null };

/** Where records that a clean-shutdown marker vouched for are missing. */
interface MarkerLoss {
  readonly file: string;
  readonly filePosition: number;
  readonly reason: string;
}

const SCAN: CleanOpen = { kind: 'scan', loss: null };

/** Segments trusted as sealed; their sizes and indexes load on first read. */
function sealedSegments(options: ResolvedWalOptions, bases: number[], nextBase: number): Segment[] {
  return bases.map((base, baseIndex) => {
    const segment = new Segment(options.dir, base, 0);
    const end = bases[baseIndex + 1] ?? nextBase;
    segment.recordCount = end - base;
    segment.reservedRecordCount = segment.recordCount;
    segment.sealed = true;
    segment.sizeBytes = -1;
    segment.reservedSizeBytes = -1;
    segment.indexComplete = false;
    return segment;
  });
}

/**
 * Recovers after a crash into `segments` (empty; the caller closes what it
 * holds if this throws): the trusted prefix, then a scan of the segments
 * after it, cutting what cannot follow. The last segment gets a write handle.
 */
async function openAfterCrash(options: ResolvedWalOptions, bases: number[], segments: Segment[], totals: ScanTotals, nowMs: number): Promise<void> {
  segments.push(...(await trustedPrefix(options, bases)));
  const lastTrusted = segments[segments.length - 1];
  let expectedBase = lastTrusted?.nextOffset ?? bases[0] ?? 0;
  const untrusted = bases.slice(segments.length);
  // Later segments read to decide a cut are read once, for the check and the move aside.
  const laterContents = new Map<number, Buffer>();
  for (let untrustedIndex = 0; untrustedIndex < untrusted.length; untrustedIndex++) {
    const base = untrusted[untrustedIndex];
    assert(base !== undefined, 'untrusted index in range');
    const later = untrusted.slice(untrustedIndex + 1);
    if (base !== expectedBase) {
      // Rotation names the next segment before the previous one's last
      // groups are written, so after a crash a later segment can start past
      // the end of the data. Nothing in it was synced behind a complete
      // predecessor (it has no index), so this is a torn tail, not corruption.
      await moveAside(options, totals, untrusted.slice(untrustedIndex), laterContents);
      break;
    }
    const { segment, stop } = await scanAndFix(options, base, totals, nowMs, later, laterContents);
    segments.push(segment);
    expectedBase = segment.nextOffset;
    if (stop) {
      await moveAside(options, totals, later, laterContents);
      break;
    }
  }
  const active = segments[segments.length - 1];
  assert(active !== undefined, 'a recovered log has a segment');
  // The trusted prefix ends before the last segment, the first segment after
  // it starts where the prefix ends, and a scan seals a segment only when the
  // next one starts where it ends: the last one kept is always scanned and stays open.
  assert(active.writeHandle !== null, 'the last segment a crash recovery keeps was scanned and keeps its write handle');
  // Names created or renamed before the crash, and the cuts above, must be
  // durable before the log counts its records as synced.
  await options.fileSystem.syncDir(options.dir);
  // So must the log folder's own name: a process killed between creating the
  // first segment and syncing the parent left it unsynced, and no later open
  // takes the folder for new.
  await options.fileSystem.syncDir(dirname(options.dir));
}

/** The leading segments that a valid index trailer proves sealed; never the last segment. */
async function trustedPrefix(options: ResolvedWalOptions, bases: number[]): Promise<Segment[]> {
  // Repair trusts no index: damage inside a sealed segment is what it may be asked to cut.
  if (options.repair) return [];
  // Sealing runs in order, so the newest segment with a valid index has only
  // sealed segments before it. At most SEALS_IN_FLIGHT_MAX seals are behind,
  // so this reads few trailers (all of them only when every one is damaged).
  for (let baseIndex = bases.length - 2; baseIndex >= 0; baseIndex--) {
    const base = bases[baseIndex];
    assert(base !== undefined, 'base index in range');
    const sealed = await loadSealedSegment(options, base);
    if (sealed === null || sealed.nextOffset !== bases[baseIndex + 1]) continue;
    return [...sealedSegments(options, bases.slice(0, baseIndex), base), sealed];
  }
  return [];
}

/**
 * Scans one untrusted segment and leaves it consistent: a torn tail is cut,
 * corruption fails the open (or is cut with `repair`), a complete older
 * segment is sealed. `stop` says later segments cannot follow this one.
 */
async function scanAndFix(
  options: ResolvedWalOptions,
  base: number,
  totals: ScanTotals,
  nowMs: number,
  laterBases: readonly number[],
  laterContents: Map<number, Buffer>,
): Promise<{ segment: Segment; stop: boolean }> {
  const nextBase = laterBases[0] ?? null;
  const { fileSystem } = options;
  const segment = new Segment(options.dir, base, nowMs);
  const handle = await fileSystem.open(segment.path, { write: true, dsync: options.dsyncWrites });
  try {
    const content = await readWhole(handle);
    totals.scannedSegments += 1;
    totals.scannedBytes += content.length;
    const header = decodeSegmentHeader(content.subarray(0, SEGMENT_HEADER_SIZE_BYTES));
    if (header.kind === 'unsupported') throw new FormatUnsupportedError(segment.path, header.version, FORMAT_VERSION);
    const misnamed = header.kind === 'ok' && header.baseOffset !== base;
    if (header.kind === 'ok' && !misnamed) {
      segment.createdAtMs = header.createdAtMs;
      segment.nonce = header.nonce;
    }
    const scan = header.kind === 'ok' || content.length >= SEGMENT_HEADER_SIZE_BYTES
      ? scanSegment(content, base, segment.nonce)
      : null;
    // A header that cannot be trusted with frames after it: the whole file is
    // damaged from byte 0 (with repair, all of it is cut and kept as .broken).
    const headerFault = misnamed
      ? `segment header names offset ${header.baseOffset}, its file name ${base}`
      : header.kind !== 'ok' && scan !== null && scan.recordCount > 0 ? 'segment header is damaged' : null;
    if (headerFault !== null && !options.repair) throw new CorruptionError(segment.path, 0, headerFault);
    const headerTrusted = header.kind === 'ok' && headerFault === null;
    const validSizeBytes = scan === null || !headerTrusted ? 0 : scan.validSizeBytes;
    const endOffset = base + (scan === null || !headerTrusted ? 0 : scan.recordCount);
    // Bytes after the last frame of a segment whose records reach the next
    // segment are no lost data (a torn index trailer, zeros): later segments still follow.
    const reachesNext = nextBase !== null && endOffset === nextBase && headerTrusted;
    let tail = headerFault !== null ? 'corrupt' : scan?.tail ?? 'torn';
    let damageReason = headerFault ?? scan?.damageReason ?? '';
    if (nextBase !== null && !reachesNext && tail !== 'corrupt' && (await laterSegmentsProveSynced(options, laterBases, endOffset, laterContents))) {
      // The records from endOffset on are missing here, yet a later segment
      // was written after they were durable: lost synced data, not a torn tail.
      tail = 'corrupt';
      damageReason = `${damageReason === '' ? 'the segment ends early' : damageReason}; a later segment was written after records ${endOffset}+ were synced`;
    }
    if (tail === 'corrupt') {
      if (!options.repair) throw new CorruptionError(segment.path, validSizeBytes, damageReason);
      if (validSizeBytes < content.length) await keepBroken(options, segment.path, content.subarray(validSizeBytes));
      totals.repaired = {
        file: segment.path,
        filePosition: validSizeBytes,
        cutBytes: content.length - validSizeBytes,
        removedSegments: [],
        reason: damageReason,
      };
    }
    if (validSizeBytes < content.length) {
      await handle.truncate(validSizeBytes);
      // Zeros after the data are preallocated space, not lost bytes.
      totals.truncatedBytes += Math.max(0, nonZeroEnd(content, validSizeBytes) - validSizeBytes);
    }
    // A segment whose records do not reach the next one ends the log there.
    const stop = nextBase !== null && !reachesNext;
    const stays = nextBase === null || stop;
    if (validSizeBytes < SEGMENT_HEADER_SIZE_BYTES) {
      segment.nonce = newSegmentNonce();
      await writeHeader(handle, segment, false);
    } else if (stays) {
      // Also when nothing was cut: a kill -9 keeps the page cache, so the
      // frames kept may never have reached the disk. The log counts them as
      // synced from now on (its new frames record that), so they must be.
      // (A segment sealed below is synced before its trailer is written.)
      await handle.datasync();
    }
    if (scan !== null && headerTrusted) {
      segment.recordCount = scan.recordCount;
      segment.firstTimestampMs = scan.firstTimestampMs;
      segment.lastTimestampMs = scan.lastTimestampMs;
      segment.setIndex(scan.indexOffsetDeltas, scan.indexPositions);
    }
    segment.sizeBytes = Math.max(validSizeBytes, SEGMENT_HEADER_SIZE_BYTES);
    segment.allocatedBytes = segment.sizeBytes;
    segment.reservedSizeBytes = segment.sizeBytes;
    segment.reservedRecordCount = segment.recordCount;
    if (stays) {
      segment.writeHandle = handle;
      return { segment, stop };
    }
    await sealRecovered(options, segment, handle);
    return { segment, stop: false };
  } catch (error) {
    if (segment.writeHandle !== handle) await handle.close().catch(() => {});
    throw error;
  }
}

/** True when a later segment holds a frame written after the records from `lostFirstOffset` on were durable. */
async function laterSegmentsProveSynced(
  options: ResolvedWalOptions,
  laterBases: readonly number[],
  lostFirstOffset: number,
  laterContents: Map<number, Buffer>,
): Promise<boolean> {
  for (const base of laterBases) {
    const content = await readSegmentFile(options, base, laterContents);
    const header = decodeSegmentHeader(content.subarray(0, SEGMENT_HEADER_SIZE_BYTES));
    if (header.kind === 'ok' && provesSyncedPast(content, header.nonce, lostFirstOffset)) return true;
  }
  return false;
}

/** One past the last non-zero byte at or after `startPosition` (or `startPosition`). */
function nonZeroEnd(content: Buffer, startPosition: number): number {
  const blockBytes = 4096;
  for (let endPosition = content.length; endPosition > startPosition; endPosition -= blockBytes) {
    const blockStart = Math.max(startPosition, endPosition - blockBytes);
    if (isAllZero(content, blockStart, endPosition)) continue;
    for (let position = endPosition - 1; position >= blockStart; position--) {
      if (content[position] !== 0) return position + 1;
    }
  }
  return startPosition;
}

/** Syncs a complete older segment found unsealed (its data may have been unsynced) and writes its index. */
async function sealRecovered(options: ResolvedWalOptions, segment: Segment, handle: FileHandle): Promise<void> {
  try {
    await handle.datasync();
    // After the sync: the trailer must not vouch for data that is not durable.
    const trailer = encodeIndexTrailer(segment);
    await writeFully(handle, trailer, 0, trailer.length, segment.sizeBytes);
  } finally {
    await handle.close();
  }
  segment.sealed = true;
}

/** Copies bytes that are about to be cut to a `.broken` file beside the segment. */
async function keepBroken(options: ResolvedWalOptions, path: string, bytes: Buffer): Promise<void> {
  // The segment's own file name: `options.dir` is as the caller spelled it, `path` is normalized.
  const name = `${basename(path)}.${Math.trunc(options.clock.wallMs())}.broken`;
  await writeFileAtomic(options.fileSystem, options.dir, name, bytes, { durable: true });
}

/** A whole segment file, read once per recovery: `read` keeps what was read. */
async function readSegmentFile(options: ResolvedWalOptions, base: number, read: Map<number, Buffer>): Promise<Buffer> {
  const cached = read.get(base);
  if (cached !== undefined) return cached;
  const handle = await options.fileSystem.open(new Segment(options.dir, base, 0).path, {});
  try {
    const content = await readWhole(handle);
    read.set(base, content);
    return content;
  } finally {
    await handle.close();
  }
}

/** Moves segments that can no longer follow the log to `.broken` names. */
async function moveAside(options: ResolvedWalOptions, totals: ScanTotals, bases: readonly number[], read: Map<number, Buffer>): Promise<void> {
  const moved: string[] = [];
  let movedBytes = 0;
  for (const base of bases) {
    const segment = new Segment(options.dir, base, 0);
    const content = await readSegmentFile(options, base, read);
    const dataBytes = nonZeroEnd(content, 0);
    totals.truncatedBytes += dataBytes;
    movedBytes += dataBytes;
    if (dataBytes === 0) {
      // An unfinished rotation: the file never received its first write.
      await options.fileSystem.unlink(segment.path);
      continue;
    }
    await options.fileSystem.rename(segment.path, `${segment.path}.${Math.trunc(options.clock.wallMs())}.broken`);
    moved.push(segment.path);
  }
  if (totals.repaired !== null) {
    totals.repaired.removedSegments.push(...moved);
    // The moved segments' data is cut from the log too (RepairSummary.cutBytes).
    totals.repaired = { ...totals.repaired, cutBytes: totals.repaired.cutBytes + movedBytes };
  }
  if (moved.length > 0) options.logger.warn({ segments: moved }, 'moved segments that follow a cut aside');
}

async function loadSealedSegment(options: ResolvedWalOptions, base: number): Promise<Segment | null> {
  const segment = new Segment(options.dir, base, 0);
  const handle = await options.fileSystem.open(segment.path, {});
  let index;
  try {
    index = await readIndexTrailer(handle, base);
  } finally {
    await handle.close();
  }
  if (index === null) return null;
  segment.recordCount = index.recordCount;
  segment.reservedRecordCount = index.recordCount;
  segment.sizeBytes = index.sizeBytes;
  segment.reservedSizeBytes = index.sizeBytes;
  segment.firstTimestampMs = index.firstTimestampMs;
  segment.lastTimestampMs = index.lastTimestampMs;
  segment.setIndex(index.offsetDeltas, index.positions);
  segment.sealed = true;
  return segment;
}
