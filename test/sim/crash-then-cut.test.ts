/**
 * A process crash, then a power cut. After `kill -9` the page cache
 * survives, so recovery finds records that were written but never synced,
 * and keeps them. The reopened log then counts them as durable (its
 * `durableOffset`, and the synced offset its new frames record), so it must
 * make them durable first: otherwise a power cut later loses records that
 * `durableOffset` promised, or leaves a hole before frames that claim it
 * was synced, which the next open reads as corruption.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedFileSystem } from '../../src/io/simulated-file-system.js';
import type { PowerCutOptions } from '../../src/io/simulated-file-system.js';
import { Wal } from '../../src/log/wal.js';
import type { FsyncPolicy } from '../../src/log/options.js';

const DIR = '/log';
const DROP_UNSYNCED: PowerCutOptions = { weights: { keep: 0, drop: 1, tear: 0, garble: 0 } };
const ANY_ORDER: PowerCutOptions = { order: 'any' };

interface Case {
  readonly seed: number;
  /** The policy of the process that crashes with unsynced writes ('os': nothing syncs them). */
  readonly first: FsyncPolicy;
  /** The policy of the process that recovers and appends; it syncs before the cut. */
  readonly second: 'always' | 'os';
  readonly cut: PowerCutOptions;
}

async function runCase({ seed, first, second, cut }: Case): Promise<string | null> {
  const simulated = new SimulatedFileSystem({ seed });
  const crashed = await Wal.open({ dir: DIR, fileSystem: simulated, clock: simulated.clock, fsync: first, segmentMaxRecords: 4 });
  const written: string[] = [];
  for (let index = 0; index < 10; index++) {
    const data = `first process ${index}`;
    await crashed.append(data);
    written.push(data);
  }
  // kill -9: the process is gone, its page cache is not. (The abandoned Wal
  // under 'os' arms no timer and does nothing more.)
  simulated.deleteFile(`${DIR}/LOCK`);
  const recovered = await Wal.open({ dir: DIR, fileSystem: simulated, clock: simulated.clock, fsync: second, segmentMaxRecords: 4 });
  for (let index = 0; index < 6; index++) {
    const data = `second process ${index}`;
    await recovered.append(data);
    written.push(data);
  }
  await recovered.sync();
  const promisedOffset = recovered.durableOffset;
  const rebooted = simulated.powerCut(cut, seed);
  rebooted.deleteFile(`${DIR}/LOCK`);
  let reopened: Wal;
  try {
    reopened = await Wal.open({ dir: DIR, fileSystem: rebooted, clock: rebooted.clock, fsync: second, segmentMaxRecords: 4 });
  } catch (error) {
    return `open after the cut failed: ${error instanceof Error ? error.message : String(error)}`;
  }
  try {
    if (reopened.nextOffset < promisedOffset) return `durableOffset was ${promisedOffset}, the cut kept ${reopened.nextOffset} records`;
    const found: string[] = [];
    for await (const record of reopened.read({ to: promisedOffset })) found.push(record.data.toString());
    if (found.join('|') !== written.slice(0, promisedOffset).join('|')) return `records differ: ${found.join(', ')}`;
    return null;
  } finally {
    await reopened.close();
  }
}

test('records recovered after a kill -9 are made durable before the log counts them: a later power cut loses none and open never refuses', { timeout: 5 * 60_000 }, async () => {
  const failures: string[] = [];
  let cases = 0;
  for (let seed = 1; seed <= 60; seed++) {
    for (const second of ['always', 'os'] as const) {
      for (const cut of [DROP_UNSYNCED, ANY_ORDER]) {
        cases += 1;
        const failure = await runCase({ seed, first: 'os', second, cut });
        if (failure !== null) failures.push(`seed ${seed}, then ${second}, cut ${JSON.stringify(cut)}: ${failure}`);
      }
    }
  }
  console.log(`crash then power cut: ${cases} cases`);
  assert.deepEqual(failures.slice(0, 5), []);
});
