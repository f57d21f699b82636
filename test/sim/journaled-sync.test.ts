/**
 * Wal.syncFiles, the promise a shared journal's checkpoint rests on: once it
 * resolves, everything the log acknowledged before the call is durable in
 * the log's own files (sealed segments, the active one, their names), so
 * the journal may forget it. Checked by cutting the power right after it,
 * with a journal that keeps nothing, over many seeds, including rotations
 * that happen while the sync runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedFileSystem } from '../../src/io/simulated-file-system.js';
import { Wal } from '../../src/log/wal.js';
import type { WriteJournal } from '../../src/log/write-journal.js';

const DIR = '/log';
/** A journal that keeps nothing: whatever survives the cut, the log's own files hold. */
const forgetfulJournal: WriteJournal = { recordWrite: async () => {} };

test('after syncFiles() a journaled log holds every record acknowledged before it, across rotations during the sync', async () => {
  const failures: string[] = [];
  for (let seed = 1; seed <= 60; seed++) {
    const fileSystem = new SimulatedFileSystem({ seed });
    const wal = await Wal.open({ dir: DIR, fileSystem, clock: fileSystem.clock, fsync: 'always', segmentMaxRecords: 2, journal: forgetfulJournal } as never);
    const records: string[] = [];
    for (let index = 0; index < 7; index++) {
      const data = `s${seed}-r${index}`;
      assert.equal((await wal.append(data)).offset, index);
      records.push(data);
    }
    const syncing = wal.syncFiles();
    // Rotations while the sync runs: segment [6, 8) is sealed under it.
    await Promise.all([wal.append('late-7'), wal.append('late-8'), wal.append('late-9')]);
    await syncing;
    const rebooted = fileSystem.powerCut();
    rebooted.deleteFile(`${DIR}/LOCK`);
    const reopened = await Wal.open({ dir: DIR, fileSystem: rebooted, clock: rebooted.clock, fsync: 'always' });
    try {
      const found: string[] = [];
      if (reopened.nextOffset > 0) for await (const record of reopened.read({ to: Math.min(7, reopened.nextOffset) })) found.push(record.data.toString());
      if (found.join() !== records.join()) failures.push(`seed ${seed}: found [${found.join(', ')}]`);
    } finally {
      await reopened.close();
    }
  }
  assert.deepEqual(failures, []);
});

test('syncFiles() covers a group journaled just before the call, whose file write has not run yet', async () => {
  // The shared journal starts a checkpoint inside recordWrite: when log B
  // journals a group, log A may have journaled one in the same tick and not
  // yet written it into its file (it writes once the journal's write is under way).
  const failures: string[] = [];
  for (let seed = 1; seed <= 20; seed++) {
    const fileSystem = new SimulatedFileSystem({ seed });
    const logs: Wal[] = [];
    let checkpoint: Promise<unknown> | null = null;
    const journal: WriteJournal = {
      recordWrite: async (dir) => {
        if (dir === '/b' && checkpoint === null) checkpoint = Promise.all(logs.map((wal) => wal.syncFiles()));
      },
    };
    const open = (dir: string): Promise<Wal> => Wal.open({ dir, fileSystem, clock: fileSystem.clock, fsync: 'always', journal } as never);
    const a = await open('/a');
    const b = await open('/b');
    logs.push(a, b);
    await Promise.all([a.append(`a-${seed}`), b.append(`b-${seed}`)]);
    assert.ok(checkpoint !== null, 'log B journaled a group');
    await checkpoint;
    const rebooted = fileSystem.powerCut();
    rebooted.deleteFile('/a/LOCK');
    const reopened = await Wal.open({ dir: '/a', fileSystem: rebooted, clock: rebooted.clock, fsync: 'always' });
    try {
      const found: string[] = [];
      if (reopened.nextOffset > 0) for await (const record of reopened.read()) found.push(record.data.toString());
      if (found.join() !== `a-${seed}`) failures.push(`seed ${seed}: log A holds [${found.join(', ')}]`);
    } finally {
      await reopened.close();
    }
  }
  assert.deepEqual(failures, []);
});

test('a journal whose recordWrite throws fails the log: the append rejects, and syncFiles() and close() settle', async () => {
  const fileSystem = new SimulatedFileSystem({ seed: 7 });
  const journal: WriteJournal = {
    recordWrite: () => {
      throw new Error('journal broke');
    },
  };
  const wal = await Wal.open({ dir: DIR, fileSystem, clock: fileSystem.clock, fsync: 'always', journal } as never);
  await assert.rejects(wal.append('a'), { code: 'WAL_FAILED', message: /journal broke/ });
  assert.equal(wal.state, 'failed');
  await assert.rejects(wal.syncFiles(), { code: 'WAL_FAILED' });
  await wal.close();
});
