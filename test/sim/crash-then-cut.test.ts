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
import { KillableFileSystem } from './killable-file-system.js';

const DIR = '/log';
const DROP_UNSYNCED: PowerCutOptions = { weights: { keep: 0, drop: 1, tear: 0, garble: 0 } };
const ANY_ORDER: PowerCutOptions = { order: 'any' };

interface Case {
  readonly seed: number;
  /** The policy of the process that crashes with unsynced writes. */
  readonly first: FsyncPolicy;
  /** The policy of the process that recovers and appends; it syncs before the cut. */
  readonly second: 'always' | 'os';
  readonly cut: PowerCutOptions;
  /** Records the second process appends before its sync; with none, only recovery itself can have made the recovered records durable. */
  readonly secondAppends: number;
}

async function runCase({ seed, first, second, cut, secondAppends }: Case): Promise<string | null> {
  const simulated = new SimulatedFileSystem({ seed });
  const process1 = new KillableFileSystem(simulated);
  const crashed = await Wal.open({ dir: DIR, fileSystem: process1, clock: simulated.clock, fsync: first, segmentMaxRecords: 4 });
  const written: string[] = [];
  for (let index = 0; index < 10; index++) {
    const data = `first process ${index}`;
    await crashed.append(data);
    written.push(data);
  }
  // kill -9: the process is gone with its seals and syncs in flight (a
  // rotated segment may have no trailer and unsynced data); its page cache
  // is not gone.
  await process1.kill();
  simulated.deleteFile(`${DIR}/LOCK`);
  const recovered = await Wal.open({ dir: DIR, fileSystem: simulated, clock: simulated.clock, fsync: second, segmentMaxRecords: 4 });
  for (let index = 0; index < secondAppends; index++) {
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
    try {
      for await (const record of reopened.read({ to: promisedOffset })) found.push(record.data.toString());
    } catch (error) {
      return `reading the records durableOffset promised failed: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (found.join('|') !== written.slice(0, promisedOffset).join('|')) return `records differ: ${found.join(', ')}`;
    return null;
  } finally {
    await reopened.close();
  }
}

test('records recovered after a kill -9 are made durable before the log counts them: a later power cut loses none and open never refuses', { timeout: 5 * 60_000 }, async () => {
  const failures: string[] = [];
  let cases = 0;
  // Under batch the first process's seals wait for its timer's sync, so a
  // kill leaves rotated segments without trailers and with unsynced data:
  // recovery must sync them before it writes their trailers.
  const firstPolicies: FsyncPolicy[] = ['os', { batch: { intervalMs: 2 } }];
  for (let seed = 1; seed <= 60; seed++) {
    for (const first of firstPolicies) {
      for (const second of ['always', 'os'] as const) {
        for (const cut of [DROP_UNSYNCED, ANY_ORDER]) {
          // A first append syncs the folder anyway; recovery's own folder sync shows only without one.
          for (const secondAppends of seed <= 30 ? [6, 0] : [6]) {
            cases += 1;
            const failure = await runCase({ seed, first, second, cut, secondAppends });
            if (failure !== null) {
              failures.push(`seed ${seed}, first ${JSON.stringify(first)}, then ${second} with ${secondAppends} appends, cut ${JSON.stringify(cut)}: ${failure}`);
            }
          }
        }
      }
    }
  }
  console.log(`crash then power cut: ${cases} cases`);
  assert.deepEqual(failures.slice(0, 5), []);
});
