/**
 * The crash test: a child process appends with fsync 'always' and reports
 * every acknowledgement; this process kills it with SIGKILL at random
 * moments, reopens the log, and checks the promises of the README:
 * acknowledged means durable, nothing invented, offsets dense, appendBatch
 * all or nothing, offsets never reused, appending continues at nextOffset.
 * Every cycle reuses the same folder, so each child recovers what the kill
 * before it left behind.
 *
 * TIDEWAL_CRASH_CYCLES sets the number of kills (default 50);
 * TIDEWAL_CRASH_SEED replays a run (the seed is printed): it fixes the
 * record contents, each child's producers and options, and the kill delays;
 * where in the child's work a kill lands still depends on timing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Wal } from '../../src/index.js';
import { runAndKill } from './child-io.js';
import { prng, recordFor } from './records.js';

const CHILD_PATH = fileURLToPath(new URL('./append-child.js', import.meta.url));
const CYCLE_COUNT = Number(process.env['TIDEWAL_CRASH_CYCLES'] ?? 50);
const SEED = Number(process.env['TIDEWAL_CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const SEGMENT_SIZE_BYTES = 64 * 1024;
/** Keep the log this short (in records) by truncating between cycles, so a check reads a bounded amount. */
const LOG_RECORD_COUNT_MAX = 8000;
/** How long a child may take to start and open before the test gives up on it. */
const CHILD_READY_TIMEOUT_MS = 20_000;

/** What one child reported before it died. */
interface ChildReport {
  /** `R` line: nextOffset and firstOffset the child saw at open; null if killed before. */
  ready: { nextOffset: number; firstOffset: number } | null;
  /** Offsets of acknowledged records (single appends and batch members). */
  acked: number[];
  /** Every appendBatch the child started: offsets [first, first + count). */
  batches: { first: number; count: number }[];
  signal: NodeJS.Signals | null;
  exitCode: number | null;
  stderr: string;
}

function parseLine(line: string, report: ChildReport): void {
  const [kind, first, second] = line.split(' ');
  const a = Number(first);
  const b = Number(second);
  switch (kind) {
    case 'R':
      report.ready = { nextOffset: a, firstOffset: b };
      break;
    case 'A':
      report.acked.push(a);
      break;
    case 'I':
      report.batches.push({ first: a, count: b });
      break;
    case 'B':
      for (let offset = a; offset < a + b; offset += 1) report.acked.push(offset);
      break;
    default:
      throw new Error(`crash test: child wrote an unknown line ${JSON.stringify(line)}`);
  }
}

/**
 * Runs one child and kills it: either at a random moment after spawn (which
 * may land inside Wal.open and its recovery), or a random time after its
 * first acknowledgement (timed from there, not from its ready line, so that
 * the kill lands on a busy log however slowly a loaded machine starts it).
 */
async function runChild(dir: string, behaviourSeed: number, random: () => number): Promise<ChildReport> {
  const report: ChildReport = { ready: null, acked: [], batches: [], signal: null, exitCode: null, stderr: '' };
  const killEarly = random() % 10 === 0;
  const delayMs = killEarly ? random() % 150 : random() % 5 === 0 ? random() % 10 : random() % 250;
  // A line cut by the kill cannot be an acknowledgement (lines are written whole).
  const exit = await runAndKill(
    CHILD_PATH,
    [dir, String(SEED), String(behaviourSeed)],
    { startAfter: killEarly ? null : ['A ', 'B '], delayMs, readyTimeoutMs: CHILD_READY_TIMEOUT_MS },
    (line) => parseLine(line, report),
  );
  return { ...report, ...exit };
}

/** What the parent knows across cycles. */
interface History {
  /** firstOffset the log must have at the next open. */
  firstOffset: number;
  /** nextOffset the log had when this process last closed it. */
  closedNextOffset: number;
  /** Largest offset ever acknowledged (by a child or by this process); -1 before any. */
  maxAckedOffset: number;
  /** For the summary: the most segments one recovery scanned, and the torn bytes cut in all. */
  scannedSegmentsMax: number;
  truncatedBytesTotal: number;
}

/** Reads [firstOffset, nextOffset) and checks every record's offset and bytes. */
async function checkEveryRecord(wal: Wal, testStartedMs: number): Promise<void> {
  const { firstOffset, nextOffset } = wal;
  if (nextOffset === firstOffset) return;
  let expected = firstOffset;
  for await (const record of wal.read({ from: firstOffset })) {
    assert.equal(record.offset, expected, 'offsets are dense and in order');
    const want = recordFor(SEED, record.offset);
    if (!Buffer.from(record.data).equals(want)) {
      assert.fail(
        `record ${record.offset} has ${record.data.length} bytes that differ from the ${want.length} bytes appended`,
      );
    }
    assert.ok(
      record.timestamp >= testStartedMs - 60_000 && record.timestamp <= Date.now() + 60_000,
      `record ${record.offset} has a plausible timestamp (${record.timestamp})`,
    );
    expected += 1;
  }
  assert.equal(expected, nextOffset, 'read() returns every record up to nextOffset');
}

async function checkCycle(dir: string, report: ChildReport, history: History, testStartedMs: number): Promise<void> {
  assert.equal(report.signal, 'SIGKILL', `the child died only by the kill (exit ${report.exitCode}): ${report.stderr}`);
  if (report.ready !== null) {
    assert.equal(report.ready.nextOffset, history.closedNextOffset, 'the child opened at the nextOffset of the last clean close');
    assert.equal(report.ready.firstOffset, history.firstOffset, 'the child opened at the expected firstOffset');
  }
  const wal = await Wal.open({ dir, fsync: 'always', segmentBytes: SEGMENT_SIZE_BYTES });
  try {
    if (report.acked.length > 0) {
      assert.equal(wal.recovery.clean, false, 'recovery is not clean after a kill mid-append');
      assert.ok(wal.recovery.scannedSegments >= 1, 'recovery after a kill scans the active segment');
    }
    history.scannedSegmentsMax = Math.max(history.scannedSegmentsMax, wal.recovery.scannedSegments);
    history.truncatedBytesTotal += wal.recovery.truncatedBytes;
    const { firstOffset, nextOffset } = wal;
    const maxAcked = report.acked.reduce((largest, offset) => Math.max(largest, offset), history.maxAckedOffset);
    assert.equal(firstOffset, history.firstOffset, 'firstOffset does not move across a crash');
    assert.ok(nextOffset >= history.closedNextOffset, `nextOffset ${nextOffset} never goes below the last clean close's ${history.closedNextOffset}`);
    assert.ok(nextOffset >= maxAcked + 1, `nextOffset ${nextOffset} is past every acknowledged offset (largest ${maxAcked})`);
    for (const batch of report.batches) {
      const inside = batch.first < nextOffset && nextOffset < batch.first + batch.count;
      assert.ok(!inside, `appendBatch [${batch.first}, ${batch.first + batch.count}) is all there or all gone, but nextOffset is ${nextOffset}`);
    }
    await checkEveryRecord(wal, testStartedMs);

    // Appending continues exactly at nextOffset, single and batched.
    const { offset } = await wal.append(recordFor(SEED, nextOffset));
    assert.equal(offset, nextOffset, 'the first append after reopen gets nextOffset');
    const batchOffsets = await wal.appendBatch([recordFor(SEED, nextOffset + 1), recordFor(SEED, nextOffset + 2)]);
    assert.deepEqual(batchOffsets, [nextOffset + 1, nextOffset + 2]);
    history.maxAckedOffset = nextOffset + 2;

    if (wal.nextOffset - wal.firstOffset > LOG_RECORD_COUNT_MAX) {
      await wal.truncateBefore(wal.nextOffset - LOG_RECORD_COUNT_MAX / 2);
      assert.ok(wal.firstOffset <= wal.nextOffset - LOG_RECORD_COUNT_MAX / 2, 'truncateBefore keeps the offset it was given');
    }
    history.firstOffset = wal.firstOffset;
    history.closedNextOffset = wal.nextOffset;
  } finally {
    await wal.close();
  }
}

test('every acknowledged record survives SIGKILL at random moments, across many kills in one folder', { timeout: 600_000 }, async (t) => {
  t.diagnostic(`seed ${SEED} (replay with TIDEWAL_CRASH_SEED=${SEED}), cycles ${CYCLE_COUNT}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidewal-crash-'));
  const random = prng(SEED);
  const history: History = { firstOffset: 0, closedNextOffset: 0, maxAckedOffset: -1, scannedSegmentsMax: 0, truncatedBytesTotal: 0 };
  const testStartedMs = Date.now();
  let ackedTotal = 0;
  let killedMidAppend = 0;
  try {
    for (let cycle = 0; cycle < CYCLE_COUNT; cycle += 1) {
      const report = await runChild(dir, random(), random);
      try {
        await checkCycle(dir, report, history, testStartedMs);
      } catch (error) {
        if (error instanceof Error) error.message = `[seed ${SEED}, cycle ${cycle}] ${error.message}`;
        throw error;
      }
      ackedTotal += report.acked.length;
      if (report.acked.length > 0) killedMidAppend += 1;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  t.diagnostic(`${ackedTotal} records acknowledged by children; ${killedMidAppend} of ${CYCLE_COUNT} kills landed mid-append`);
  t.diagnostic(`recovery scanned at most ${history.scannedSegmentsMax} segments and cut ${history.truncatedBytesTotal} torn bytes in all`);
  // The test is only worth something if most kills hit a busy log.
  assert.ok(killedMidAppend >= CYCLE_COUNT / 2, `most kills land while appending (${killedMidAppend} of ${CYCLE_COUNT})`);
});
