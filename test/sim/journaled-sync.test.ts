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
import type { FileHandle, FileSystem, OpenOptions } from '../../src/io/file-system.js';
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

/** The simulated file system, with a gate on the folder fsyncs of one folder and counts of renames and unlinks. */
class FolderGate implements FileSystem {
  readonly #inner: SimulatedFileSystem;
  readonly #dir: string;
  #gate: Promise<void> | null = null;
  #open: () => void = () => {};
  renameCount = 0;
  /** Segment files deleted. */
  unlinkCount = 0;

  constructor(inner: SimulatedFileSystem, dir: string) {
    this.#inner = inner;
    this.#dir = dir;
  }

  holdFolderSyncs(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  releaseFolderSyncs(): void {
    this.#gate = null;
    this.#open();
  }

  open(path: string, options: OpenOptions): Promise<FileHandle> {
    return this.#inner.open(path, options);
  }
  readFile(path: string): Promise<Buffer | null> {
    return this.#inner.readFile(path);
  }
  async rename(fromPath: string, toPath: string): Promise<void> {
    await this.#inner.rename(fromPath, toPath);
    this.renameCount += 1;
  }
  async unlink(path: string): Promise<void> {
    await this.#inner.unlink(path);
    if (path.endsWith('.wal')) this.unlinkCount += 1;
  }
  mkdir(path: string): Promise<void> {
    return this.#inner.mkdir(path);
  }
  readdir(path: string): Promise<string[]> {
    return this.#inner.readdir(path);
  }
  async syncDir(path: string): Promise<void> {
    if (path === this.#dir && this.#gate !== null) await this.#gate;
    return this.#inner.syncDir(path);
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('syncFiles() does not count a segment that a truncation deleted as synced before the deletion is durable', async () => {
  // Segment 0 holds r0 (synced by a first checkpoint) and r1 (never synced);
  // r2 starts segment 2. truncateBefore(2) deletes segment 0, and its folder
  // fsync is slow. A checkpoint that finds segment 0 gone and resolves at
  // once lets the journal forget r2; a power cut then brings segment 0 back
  // with r0 alone, and recovery would take segment 2 for a torn tail.
  const failures: string[] = [];
  for (let cutSeed = 1; cutSeed <= 6; cutSeed++) {
    const simulated = new SimulatedFileSystem({ seed: 7 });
    const fileSystem = new FolderGate(simulated, DIR);
    let releaseJournal: () => void = () => {};
    let holdNextWrite = false;
    const journal: WriteJournal = {
      recordWrite: () => {
        if (!holdNextWrite) return Promise.resolve();
        holdNextWrite = false;
        return new Promise<void>((resolve) => (releaseJournal = resolve));
      },
    };
    const wal = await Wal.open({ dir: DIR, fileSystem, clock: simulated.clock, fsync: 'always', segmentMaxRecords: 2, journal } as never);
    holdNextWrite = true;
    const first = wal.append('r0');
    // Until r0's group is being journaled (held): r1 then starts a group of its own.
    while (holdNextWrite) await turn();
    // r1 joins segment 0 behind the held group; r2 rotates into segment 2.
    const rest = [wal.append('r1'), wal.append('r2')];
    while (fileSystem.renameCount < 1) await turn();
    await wal.syncFiles();
    releaseJournal();
    await Promise.all([first, ...rest]);
    fileSystem.holdFolderSyncs();
    const truncating = wal.truncateBefore(2);
    truncating.catch(() => {});
    while (fileSystem.unlinkCount < 1) await turn();
    let checkpointDone = false;
    const checkpoint = wal.syncFiles().then(() => (checkpointDone = true));
    checkpoint.catch(() => {});
    for (let spin = 0; spin < 20 && !checkpointDone; spin++) await turn();
    // Whenever the checkpoint resolves, the journal may forget r0-r2: cut the power right then.
    if (!checkpointDone) {
      fileSystem.releaseFolderSyncs();
      await checkpoint;
    }
    const rebooted = simulated.powerCut({ weights: { keep: 0, drop: 1, tear: 0, garble: 0 } }, cutSeed);
    rebooted.deleteFile(`${DIR}/LOCK`);
    try {
      const reopened = await Wal.open({ dir: DIR, fileSystem: rebooted, clock: rebooted.clock, fsync: 'always' });
      try {
        const found: string[] = [];
        if (reopened.nextOffset > 2) for await (const record of reopened.read({ from: Math.max(2, reopened.firstOffset) })) found.push(`${record.offset}:${record.data.toString()}`);
        if (found.join() !== '2:r2') failures.push(`cut ${cutSeed}: checkpoint resolved ${checkpointDone ? 'while the deletion was not durable' : 'after it'}, records from 2: [${found.join(', ')}], nextOffset ${reopened.nextOffset}`);
      } finally {
        await reopened.close();
      }
    } catch (error) {
      failures.push(`cut ${cutSeed}: reopen failed: ${String(error)}`);
    }
  }
  assert.deepEqual(failures, []);
});
