/**
 * Crash points in WalManager checkpoint commits and deletes: the power is
 * cut at every I/O step of a run that appends and commits checkpoints over
 * the SimulatedFileSystem. After a reboot the manager opens, each checkpoint
 * holds the last committed value or a later attempted one (never garbage,
 * never older than a resolved commit), a resolved delete stays deleted, no
 * temp file is left, and every acknowledged record is there.
 *
 * Replay one cut: TIDEWAL_SIM_SEED=<seed>:<step> node scripts/run-tests.mjs checkpoint-power-cut
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SimulatedFileSystem } from '../../src/io/simulated-file-system.js';
import { sweepCuts } from './cut-sweep.js';
import { MANAGER_FOLDER_NAME, WalManager } from '../../src/manager/wal-manager.js';

const DIR = '/data';
const TOPIC = 'orders';

interface Outcome {
  /** Values attempted for checkpoint 'a', in order; resolvedIndex is the last that resolved. */
  readonly attempted: number[];
  resolvedIndex: number;
  bDeleteStarted: boolean;
  bDeleted: boolean;
  acknowledged: number;
  unexpected: unknown;
}

async function run(fileSystem: SimulatedFileSystem): Promise<Outcome> {
  const outcome: Outcome = { attempted: [], resolvedIndex: -1, bDeleteStarted: false, bDeleted: false, acknowledged: 0, unexpected: null };
  let manager: WalManager | null = null;
  try {
    manager = await WalManager.open({ dir: DIR, fileSystem, clock: fileSystem.clock, fsync: 'always', segmentBytes: 4096 });
    await manager.checkpoints.commit('b', { [`${TOPIC}/0`]: 0 });
    for (let round = 0; round < 4; round++) {
      const offsets = await manager.append(TOPIC, 0, [`r${round}-1`, `r${round}-2`]);
      outcome.acknowledged = (offsets[1] ?? 0) + 1;
      const value = outcome.acknowledged;
      outcome.attempted.push(value);
      await manager.checkpoints.commit('a', { [`${TOPIC}/0`]: value });
      outcome.resolvedIndex = outcome.attempted.length - 1;
      if (round === 2) {
        outcome.bDeleteStarted = true;
        await manager.checkpoints.delete('b');
        outcome.bDeleted = true;
      }
    }
    await manager.close();
    manager = null;
  } catch (error) {
    if (!fileSystem.dead) outcome.unexpected = error;
  }
  if (manager !== null) await manager.close().catch(() => {});
  return outcome;
}

async function check(rebooted: SimulatedFileSystem, outcome: Outcome): Promise<void> {
  const manager = await WalManager.open({ dir: DIR, fileSystem: rebooted, clock: rebooted.clock, fsync: 'always', segmentBytes: 4096 });
  try {
    const value = manager.checkpoints.get('a')?.[`${TOPIC}/0`];
    if (outcome.resolvedIndex >= 0) {
      assert.ok(value !== undefined, 'a resolved checkpoint survives');
      const index = outcome.attempted.indexOf(value);
      assert.ok(index >= outcome.resolvedIndex, `checkpoint a is ${value}: older than the resolved ${outcome.attempted[outcome.resolvedIndex]}`);
    } else if (value !== undefined) {
      assert.ok(outcome.attempted.includes(value), `checkpoint a is ${value}, never committed`);
    }
    if (outcome.bDeleted) assert.equal(manager.checkpoints.get('b'), undefined, 'a deleted checkpoint stays deleted');
    else if (!outcome.bDeleteStarted && outcome.resolvedIndex >= 0) assert.deepEqual(manager.checkpoints.get('b'), { [`${TOPIC}/0`]: 0 });
    // The open journal keeps a prepared next segment; checkpoint temp files must be gone.
    const stray = rebooted.listFiles().filter((path) => path.includes(`${MANAGER_FOLDER_NAME}/checkpoints`) && path.endsWith('.tmp'));
    assert.deepEqual(stray, [], 'no temp checkpoint files after open');
    if (outcome.acknowledged > 0) {
      const log = await manager.log(TOPIC, 0);
      assert.ok(log.nextOffset >= outcome.acknowledged, `acknowledged records survive: nextOffset ${log.nextOffset}, acknowledged ${outcome.acknowledged}`);
    }
    await manager.checkpoints.commit('a', { [`${TOPIC}/0`]: 0 });
  } finally {
    await manager.close();
  }
}

test('a power cut at every step of checkpoint commits and deletes leaves old or new, never a mix', { timeout: 5 * 60_000 }, async () => {
  const { seeds, cutCount, failures } = await sweepCuts({ seeds: [1, 2, 3, 4], run, check });
  console.log(`checkpoint crash points: ${cutCount} cuts over seeds ${seeds.join(',')}`);
  assert.deepEqual(failures, []);
});
