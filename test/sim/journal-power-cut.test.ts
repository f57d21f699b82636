/**
 * The shared journal (WalManager `syncStream: 'shared'`) under power cuts:
 * partition logs write their segment files without syncing them and
 * acknowledge once the journal holds the bytes, so after a cut it is the
 * journal's replay that brings acknowledged records back. The power is cut
 * at every I/O step of a run with three partitions appended concurrently,
 * segments rotating every 3 records, journal checkpoints every few hundred
 * bytes, an LRU that closes and reopens logs, and retention deleting old
 * segments. After the reboot the manager opens (replaying the journal) and
 * every acknowledged record is read back byte for byte, unless retention
 * deleted its segment before the cut.
 *
 * Replay one cut: TIDEWAL_SIM_SEED=<seed>:<step> node scripts/run-tests.mjs journal-power-cut
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SimulatedFileSystem } from '../../src/io/simulated-file-system.js';
import { sweepCuts } from './cut-sweep.js';
import { MANAGER_FOLDER_NAME, WalManager } from '../../src/manager/wal-manager.js';
import type { WalManagerOptions } from '../../src/manager/wal-manager.js';

const DIR = '/data';
const TOPIC = 'orders';
const PARTITIONS = 3;
const ROUNDS = 4;

interface Outcome {
  /** Per partition: acknowledged offset -> record. */
  readonly acknowledged: Map<number, string>[];
  /** Per partition: the offset retention was asked to delete below (0: never asked). */
  readonly truncatedBefore: number[];
  /** Journal segment files before the close (a checkpoint deletes those it covered). */
  journalSegmentsBeforeClose: string[];
  unexpected: unknown;
}

function options(fileSystem: SimulatedFileSystem): WalManagerOptions {
  return {
    dir: DIR,
    fileSystem,
    clock: fileSystem.clock,
    fsync: 'always',
    syncStream: 'shared',
    segmentMaxRecords: 3,
    journalCheckpointBytes: 700,
    maxOpenLogs: 2,
    retentionIntervalMs: 0,
  };
}

function record(partition: number, round: number, index: number): string {
  // Up to 400 bytes: the journal's 4 KiB segments fill, so checkpoints delete some.
  return `p${partition}-r${round}-${index}-${'x'.repeat(((partition * 7 + round * 5 + index * 3) % 40) * 10)}`;
}

async function run(fileSystem: SimulatedFileSystem): Promise<Outcome> {
  const outcome: Outcome = {
    acknowledged: Array.from({ length: PARTITIONS }, () => new Map<number, string>()),
    truncatedBefore: new Array<number>(PARTITIONS).fill(0),
    journalSegmentsBeforeClose: [],
    unexpected: null,
  };
  let manager: WalManager | null = null;
  try {
    manager = await WalManager.open(options(fileSystem));
    const open = manager;
    for (let round = 0; round < ROUNDS; round++) {
      await Promise.all(
        Array.from({ length: PARTITIONS }, async (_, partition) => {
          const single = record(partition, round, 0);
          const offset = await open.append(TOPIC, partition, single);
          outcome.acknowledged[partition]?.set(offset, single);
          const batch = [record(partition, round, 1), record(partition, round, 2)];
          const offsets = await open.append(TOPIC, partition, batch);
          offsets.forEach((batchOffset, index) => outcome.acknowledged[partition]?.set(batchOffset, batch[index] ?? ''));
        }),
      );
      if (round === 2) {
        // Set before the call: a cut part way may already have deleted files.
        outcome.truncatedBefore[0] = 4;
        await open.withLog(TOPIC, 0, (wal) => wal.truncateBefore(4));
      }
    }
    outcome.journalSegmentsBeforeClose = journalSegments(fileSystem);
    await manager.close();
    manager = null;
  } catch (error) {
    if (!fileSystem.dead) outcome.unexpected = error;
  }
  if (manager !== null) await manager.close().catch(() => {});
  return outcome;
}

function journalSegments(fileSystem: SimulatedFileSystem): string[] {
  return fileSystem.listFiles().filter((path) => path.includes(`${MANAGER_FOLDER_NAME}/journal/`) && path.endsWith('.wal'));
}

async function check(rebooted: SimulatedFileSystem, outcome: Outcome): Promise<void> {
  const manager = await WalManager.open(options(rebooted));
  try {
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const acknowledged = outcome.acknowledged[partition] ?? new Map<number, string>();
      if (acknowledged.size === 0) continue;
      const wal = await manager.log(TOPIC, partition);
      const read = new Map<number, string>();
      if (wal.nextOffset > wal.firstOffset) {
        for await (const entry of manager.read(TOPIC, partition)) read.set(entry.offset, entry.data.toString());
      }
      for (const [offset, data] of acknowledged) {
        if (offset < wal.firstOffset) {
          const deletable = offset < (outcome.truncatedBefore[partition] ?? 0);
          assert.ok(deletable, `partition ${partition}: acknowledged offset ${offset} is gone (firstOffset ${wal.firstOffset})`);
          continue;
        }
        assert.equal(read.get(offset), data, `partition ${partition}: acknowledged offset ${offset}`);
      }
    }
    const segments = journalSegments(rebooted);
    assert.ok(segments.length <= 1, `the replayed journal is removed; a fresh one starts: ${segments.join(', ')}`);
  } finally {
    await manager.close();
  }
}

/** The recovery after a reboot: the manager's open replays the journal; each partition's log then recovers. */
async function recover(fileSystem: SimulatedFileSystem): Promise<void> {
  const manager = await WalManager.open(options(fileSystem));
  try {
    for (let partition = 0; partition < PARTITIONS; partition++) await manager.log(TOPIC, partition);
  } finally {
    await manager.close();
  }
}

test('a power cut at every step of a journaled manager loses no acknowledged record', { timeout: 10 * 60_000 }, async () => {
  const acknowledgedCount = (outcome: Outcome): number => outcome.acknowledged.reduce((sum, map) => sum + map.size, 0);
  let acknowledgedChecked = 0;
  const { seeds, cutCount, recoveryCutCount, failures } = await sweepCuts({
    seeds: [1, 2],
    run,
    check,
    recover,
    // Each replay has about a hundred steps to cut: a sample of first cuts in CI, more in `npm run torture`.
    recoveryCutEvery: Number(process.env['TIDEWAL_SIM_RECOVERY_CUT_EVERY'] ?? 32),
    checkUncut: (outcome) => {
      assert.equal(acknowledgedCount(outcome), PARTITIONS * ROUNDS * 3, 'the uncut run acknowledges every record');
      // The journal's first segment starts at offset 0: once it is gone, checkpoints deleted journal segments.
      assert.ok(
        outcome.journalSegmentsBeforeClose.length > 0 && !outcome.journalSegmentsBeforeClose.some((path) => path.endsWith('/00000000000000000000.wal')),
        `checkpoints deleted the journal's first segment: ${outcome.journalSegmentsBeforeClose.join(', ')}`,
      );
    },
    onCut: (outcome) => {
      acknowledgedChecked += acknowledgedCount(outcome);
    },
  });
  console.log(`journal power cuts: ${cutCount} cuts over seeds ${seeds.join(',')}, ${recoveryCutCount} more during recoveries, ${acknowledgedChecked} acknowledged records checked`);
  assert.ok(recoveryCutCount > 0, 'some recoveries (journal replays) were cut');
  assert.deepEqual(failures.slice(0, 5), []);
});
