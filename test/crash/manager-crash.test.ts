/**
 * The manager crash test: a child appends to 8 partitions with fsync
 * 'always' and commits checkpoints; this process kills it with SIGKILL at
 * random moments and checks, after reopening, that every acknowledged record
 * of every partition is there (and nothing else: every record has the bytes
 * its offset was given), and that the checkpoint is the last acknowledged
 * one or the one whose commit was in flight at the kill, never anything else.
 *
 * TIDEWAL_MANAGER_CRASH_CYCLES sets the number of kills (default 15);
 * TIDEWAL_CRASH_SEED replays a run (the seed is printed).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { WalManager } from '../../src/index.js';
import { runAndKill } from './child-io.js';
import { prng, recordFor } from './records.js';

const CHILD_PATH = fileURLToPath(new URL('./manager-child.js', import.meta.url));
const CYCLE_COUNT = Number(process.env['TIDEWAL_MANAGER_CRASH_CYCLES'] ?? 15);
const SEED = Number(process.env['TIDEWAL_CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const PARTITION_COUNT = 8;

interface CycleReport {
  ready: number[] | null;
  /** One past the largest acknowledged offset, per partition. */
  ackedNext: number[];
  /** Checkpoints in the order the child started committing them, and how many resolved. */
  commits: Record<string, number>[];
  resolvedCommitCount: number;
}

function parseLine(line: string, report: CycleReport): void {
  const [kind, ...rest] = line.split(' ');
  switch (kind) {
    case 'R':
      report.ready = rest.map(Number);
      break;
    case 'A': {
      const [partition, first, count] = rest.map(Number);
      assert.ok(partition !== undefined && first !== undefined && count !== undefined);
      report.ackedNext[partition] = Math.max(report.ackedNext[partition] ?? 0, first + count);
      break;
    }
    case 'P':
      report.commits.push(JSON.parse(rest.join(' ')) as Record<string, number>);
      break;
    case 'C':
      report.resolvedCommitCount += 1;
      break;
    default:
      throw new Error(`manager crash test: child wrote an unknown line ${JSON.stringify(line)}`);
  }
}

/** A checkpoint as text with sorted keys, so that key order does not matter. */
function canonical(offsets: Readonly<Record<string, number>> | undefined): string {
  return offsets === undefined ? 'none' : JSON.stringify(Object.entries(offsets).sort(([left], [right]) => left.localeCompare(right)));
}

test('every acknowledged record and the last acknowledged checkpoint survive SIGKILL across 8 partitions', { timeout: 600_000 }, async (t) => {
  t.diagnostic(`seed ${SEED} (replay with TIDEWAL_CRASH_SEED=${SEED}), cycles ${CYCLE_COUNT}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidewal-manager-crash-'));
  const random = prng(SEED);
  /** One past every offset ever acknowledged, per partition. */
  const ackedNext = new Array<number>(PARTITION_COUNT).fill(0);
  let lastAckedCheckpoint: Record<string, number> | undefined;
  let ackedTotal = 0;
  let cyclesWithAcks = 0;
  let cyclesWithCommits = 0;
  try {
    for (let cycle = 0; cycle < CYCLE_COUNT; cycle += 1) {
      const report: CycleReport = { ready: null, ackedNext: [], commits: [], resolvedCommitCount: 0 };
      // Some kills land while the child opens the manager (from spawn); the
      // others a while after its first acknowledged append or commit, so that
      // the checks below see cycles of each however slowly a loaded machine
      // starts the child.
      const startAfter = cycle % 8 === 0 ? null : cycle % 2 === 1 ? 'A' : 'C';
      const delayMs = startAfter === null ? random() % 200 : 30 + (random() % 300);
      const exit = await runAndKill(CHILD_PATH, [dir, String(SEED), String(random())], { startAfter, delayMs, readyTimeoutMs: 20_000 }, (line) =>
        parseLine(line, report),
      );
      const where = `[seed ${SEED}, cycle ${cycle}]`;
      assert.equal(exit.signal, 'SIGKILL', `${where} the child died only by the kill (exit ${exit.exitCode}): ${exit.stderr}`);
      const ackedBefore = ackedTotal;
      if (report.resolvedCommitCount > 0) cyclesWithCommits += 1;
      const mgr = await WalManager.open({ dir, fsync: 'always', retentionIntervalMs: 0 });
      try {
        for (let partition = 0; partition < PARTITION_COUNT; partition += 1) {
          const before = ackedNext[partition] ?? 0;
          if (report.ready !== null) assert.ok((report.ready[partition] ?? 0) >= before, `${where} partition ${partition} opened below acknowledged data`);
          const acked = Math.max(before, report.ackedNext[partition] ?? 0);
          ackedTotal += acked - before;
          ackedNext[partition] = acked;
          const wal = await mgr.log('t', partition);
          assert.ok(wal.nextOffset >= acked, `${where} partition ${partition}: nextOffset ${wal.nextOffset} is below acknowledged ${acked}`);
          let expected = 0;
          for await (const record of mgr.read('t', partition)) {
            assert.equal(record.offset, expected, `${where} partition ${partition}: offsets are dense`);
            if (!record.data.equals(recordFor(SEED + partition, record.offset))) {
              assert.fail(`${where} partition ${partition}: record ${record.offset} differs from what was appended`);
            }
            expected += 1;
          }
          assert.equal(expected, wal.nextOffset, `${where} partition ${partition}: read() returns every record`);
          // What the next child builds on is what is there now.
          ackedNext[partition] = Math.max(acked, wal.nextOffset);
        }
        const stored = mgr.checkpoints.get('cp');
        const acknowledged = report.commits[report.resolvedCommitCount - 1] ?? lastAckedCheckpoint;
        const inFlight = report.commits[report.resolvedCommitCount];
        const matches = (candidate: Record<string, number> | undefined): boolean => canonical(candidate) === canonical(stored);
        assert.ok(
          matches(acknowledged) || (inFlight !== undefined && matches(inFlight)),
          `${where} checkpoint is ${JSON.stringify(stored)}; expected the last acknowledged ${JSON.stringify(acknowledged)} or the in-flight ${JSON.stringify(inFlight)}`,
        );
        lastAckedCheckpoint = stored === undefined ? undefined : { ...stored };
      } finally {
        await mgr.close();
      }
      if (ackedTotal > ackedBefore) cyclesWithAcks += 1;
    }
    t.diagnostic(`${ackedTotal} acknowledged records checked over ${CYCLE_COUNT} kills`);
    // The checks above compare against what children acknowledged: they prove something only if children did work.
    assert.ok(cyclesWithAcks >= CYCLE_COUNT / 2, `children acknowledged records in ${cyclesWithAcks} of ${CYCLE_COUNT} cycles`);
    assert.ok(cyclesWithCommits >= CYCLE_COUNT / 4, `children acknowledged a checkpoint commit in ${cyclesWithCommits} of ${CYCLE_COUNT} cycles`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
