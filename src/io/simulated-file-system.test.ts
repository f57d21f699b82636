import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng, SECTOR_SIZE_BYTES, SimulatedFileSystem } from './simulated-file-system.js';
import { writeFully } from './write-fully.js';

const ALL_KEPT = { weights: { keep: 1, drop: 0, tear: 0, garble: 0 } } as const;
const ALL_DROPPED = { weights: { keep: 0, drop: 1, tear: 0, garble: 0 } } as const;

async function writeFile(fileSystem: SimulatedFileSystem, path: string, content: Buffer, options: { dsync?: boolean; sync?: boolean } = {}) {
  const handle = await fileSystem.open(path, { write: true, create: true, dsync: options.dsync === true });
  await writeFully(handle, content, 0, content.length, 0);
  if (options.sync === true) await handle.datasync();
  await handle.close();
}

test('Prng gives the same sequence for the same seed and another for another seed', () => {
  const a = new Prng(7);
  const b = new Prng(7);
  const c = new Prng(8);
  const sequenceA = Array.from({ length: 20 }, () => a.below(1000));
  assert.deepEqual(Array.from({ length: 20 }, () => b.below(1000)), sequenceA);
  assert.notDeepEqual(Array.from({ length: 20 }, () => c.below(1000)), sequenceA);
});

test('reads see every write at once, synced or not', async () => {
  const fileSystem = new SimulatedFileSystem({ seed: 1 });
  await fileSystem.mkdir('/d');
  const handle = await fileSystem.open('/d/f', { write: true, create: true });
  await handle.write(Buffer.from('hello'), 0, 5, 0);
  handle.writeSync(Buffer.from('XY'), 0, 2, 7);
  const buffer = Buffer.alloc(16);
  assert.equal(await handle.read(buffer, 0, 16, 0), 9);
  assert.deepEqual(buffer.subarray(0, 9), Buffer.from('hello\0\0XY'));
  assert.equal(await handle.sizeBytes(), 9);
  await handle.truncate(3);
  assert.deepEqual(await fileSystem.readFile('/d/f'), Buffer.from('hel'));
  assert.deepEqual(await fileSystem.readdir('/d'), ['f']);
  assert.equal(await fileSystem.readFile('/d/missing'), null);
  await assert.rejects(fileSystem.open('/d/missing', { write: true }), { code: 'ENOENT' });
  await assert.rejects(fileSystem.open('/d/f', { write: true, exclusive: true }), { code: 'EEXIST' });
});

test('a power cut keeps synced data and names whatever the fates', async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const fileSystem = new SimulatedFileSystem({ seed });
    await fileSystem.mkdir('/d');
    await writeFile(fileSystem, '/d/synced', Buffer.from('durable'), { sync: true });
    await writeFile(fileSystem, '/d/dsync', Buffer.from('direct'), { dsync: true });
    await fileSystem.syncDir('/d');
    const rebooted = fileSystem.powerCut(ALL_DROPPED);
    assert.deepEqual(rebooted.fileContent('/d/synced'), Buffer.from('durable'));
    assert.deepEqual(rebooted.fileContent('/d/dsync'), Buffer.from('direct'));
  }
});

test('a power cut drops unsynced writes and undoes unsynced creates when told to', async () => {
  const fileSystem = new SimulatedFileSystem({ seed: 3 });
  await fileSystem.mkdir('/d');
  await writeFile(fileSystem, '/d/a', Buffer.from('old'), { sync: true });
  await fileSystem.syncDir('/d');
  const handle = await fileSystem.open('/d/a', { write: true });
  await handle.write(Buffer.from('new'), 0, 3, 3);
  const rebooted = fileSystem.powerCut(ALL_DROPPED, 1);
  assert.deepEqual(rebooted.fileContent('/d/a'), Buffer.from('old'));
  // A synced file whose name no folder fsync covered may vanish, across seeds.
  let vanished = 0;
  let survived = 0;
  for (let seed = 0; seed < 40; seed++) {
    const other = new SimulatedFileSystem({ seed });
    await other.mkdir('/d');
    await writeFile(other, '/d/new', Buffer.from('data'), { sync: true });
    const after = other.powerCut(ALL_KEPT, seed);
    const content = after.fileContent('/d/new');
    if (content === null) vanished += 1;
    else {
      survived += 1;
      assert.deepEqual(content, Buffer.from('data'));
    }
  }
  assert.ok(vanished > 0 && survived > 0, `vanished ${vanished}, survived ${survived}`);
});

test('every call fails with EIO after a power cut, on the file system and its handles', async () => {
  const fileSystem = new SimulatedFileSystem({ seed: 1 });
  await fileSystem.mkdir('/d');
  const handle = await fileSystem.open('/d/f', { write: true, create: true });
  fileSystem.powerCut();
  assert.equal(fileSystem.dead, true);
  await assert.rejects(handle.write(Buffer.from('x'), 0, 1, 0), { code: 'EIO' });
  assert.throws(() => handle.writeSync(Buffer.from('x'), 0, 1, 0), { code: 'EIO' });
  await assert.rejects(handle.datasync(), { code: 'EIO' });
  await assert.rejects(fileSystem.readdir('/d'), { code: 'EIO' });
  await assert.rejects(fileSystem.rename('/d/f', '/d/g'), { code: 'EIO' });
});

test('a rename is atomic across a power cut: the old name or the new one, never neither or a mix', async () => {
  const outcomes = new Set<string>();
  for (let seed = 0; seed < 60; seed++) {
    const fileSystem = new SimulatedFileSystem({ seed });
    await fileSystem.mkdir('/d');
    await writeFile(fileSystem, '/d/target', Buffer.from('old'), { sync: true });
    await fileSystem.syncDir('/d');
    await writeFile(fileSystem, '/d/target.tmp', Buffer.from('new'), { sync: true });
    await fileSystem.rename('/d/target.tmp', '/d/target');
    const rebooted = fileSystem.powerCut({}, seed);
    const target = rebooted.fileContent('/d/target')?.toString();
    const temporary = rebooted.fileContent('/d/target.tmp')?.toString();
    assert.ok(target === 'old' || target === 'new', `target is ${target}`);
    if (target === 'new') assert.equal(temporary, undefined);
    outcomes.add(`${target} ${temporary}`);
  }
  // Undone create, undone rename, kept rename all happen.
  assert.deepEqual([...outcomes].sort(), ['new undefined', 'old new', 'old undefined']);
});

test('syncDir makes entry operations durable; unlink without it may be undone', async () => {
  let resurrected = 0;
  for (let seed = 0; seed < 30; seed++) {
    const fileSystem = new SimulatedFileSystem({ seed });
    await fileSystem.mkdir('/d');
    await writeFile(fileSystem, '/d/a', Buffer.from('a'), { sync: true });
    await writeFile(fileSystem, '/d/b', Buffer.from('b'), { sync: true });
    await fileSystem.syncDir('/d');
    await fileSystem.unlink('/d/a');
    await fileSystem.syncDir('/d');
    await fileSystem.unlink('/d/b');
    const rebooted = fileSystem.powerCut({}, seed);
    assert.equal(rebooted.fileContent('/d/a'), null);
    if (rebooted.fileContent('/d/b') !== null) resurrected += 1;
  }
  assert.ok(resurrected > 0);
});

test('a torn write keeps whole sectors only, and garbling is confined to the write', async () => {
  const size = SECTOR_SIZE_BYTES * 8;
  const payload = Buffer.alloc(size, 0xab);
  let partial = 0;
  for (let seed = 0; seed < 30; seed++) {
    const fileSystem = new SimulatedFileSystem({ seed });
    await fileSystem.mkdir('/d');
    const handle = await fileSystem.open('/d/f', { write: true, create: true });
    await handle.write(Buffer.alloc(size, 0x11), 0, size, 0);
    await handle.datasync();
    await fileSystem.syncDir('/d');
    await handle.write(payload, 0, size, size);
    const torn = fileSystem.powerCut({ weights: { keep: 0, drop: 0, tear: 1, garble: 0 } }, seed).fileContent('/d/f');
    assert.ok(torn !== null);
    assert.deepEqual(torn.subarray(0, size), Buffer.alloc(size, 0x11));
    assert.equal(torn.length % SECTOR_SIZE_BYTES, 0);
    for (let sector = size / SECTOR_SIZE_BYTES; sector * SECTOR_SIZE_BYTES < torn.length; sector++) {
      const bytes = torn.subarray(sector * SECTOR_SIZE_BYTES, (sector + 1) * SECTOR_SIZE_BYTES);
      assert.ok(bytes.equals(Buffer.alloc(SECTOR_SIZE_BYTES, 0xab)) || bytes.equals(Buffer.alloc(SECTOR_SIZE_BYTES)));
    }
    if (torn.length > size && torn.length < 2 * size) partial += 1;
  }
  assert.ok(partial > 0);
});

test('a dsync write is durable when it returns; an earlier unsynced write of the same file is not', async () => {
  for (let seed = 0; seed < 20; seed++) {
    const fileSystem = new SimulatedFileSystem({ seed });
    await fileSystem.mkdir('/d');
    const plain = await fileSystem.open('/d/f', { write: true, create: true });
    await fileSystem.syncDir('/d');
    await plain.write(Buffer.from('aaaa'), 0, 4, 0);
    const direct = await fileSystem.open('/d/f', { write: true, dsync: true });
    await direct.write(Buffer.from('bb'), 0, 2, 4);
    const content = fileSystem.powerCut(ALL_DROPPED, seed).fileContent('/d/f');
    assert.deepEqual(content, Buffer.from('\0\0\0\0bb'));
  }
});

test('datasync covers only writes made before it', async () => {
  const fileSystem = new SimulatedFileSystem({ seed: 5 });
  await fileSystem.mkdir('/d');
  const handle = await fileSystem.open('/d/f', { write: true, create: true });
  await fileSystem.syncDir('/d');
  handle.writeSync(Buffer.from('one'), 0, 3, 0);
  const syncing = handle.datasync();
  handle.writeSync(Buffer.from('two'), 0, 3, 3);
  await syncing;
  assert.deepEqual(fileSystem.powerCut(ALL_DROPPED, 1).fileContent('/d/f'), Buffer.from('one'));
});

test('cutAtStep cuts at that mutating call, fails it with EIO, and offers the rebooted state', async () => {
  const fileSystem = new SimulatedFileSystem({ seed: 9, cutAtStep: 3, powerCut: ALL_KEPT });
  await fileSystem.mkdir('/d');
  const handle = await fileSystem.open('/d/f', { write: true, create: true }); // step 1
  await handle.write(Buffer.from('abc'), 0, 3, 0); // step 2
  await assert.rejects(handle.write(Buffer.from('def'), 0, 3, 3), { code: 'EIO' }); // step 3: the cut
  assert.equal(fileSystem.stepCount, 3);
  const rebooted = fileSystem.afterCut;
  assert.ok(rebooted !== null);
  const content = rebooted.fileContent('/d/f');
  // Everything was kept, the write in flight too; only the name may be lost.
  assert.ok(content === null || content.equals(Buffer.from('abcdef')), String(content));
  assert.equal(rebooted.unsynced().fileOpCount, 0);
});

test('the same seed gives the same rebooted state', async () => {
  async function run(seed: number): Promise<string> {
    const fileSystem = new SimulatedFileSystem({ seed });
    await fileSystem.mkdir('/d');
    for (let index = 0; index < 5; index++) {
      const handle = await fileSystem.open(`/d/f${index}`, { write: true, create: true });
      await handle.write(Buffer.alloc(1500, index + 1), 0, 1500, 0);
      if (index % 2 === 0) await fileSystem.syncDir('/d');
    }
    const rebooted = fileSystem.powerCut();
    return rebooted.listFiles().map((path) => `${path}:${rebooted.fileContent(path)?.toString('hex')}`).join(',');
  }
  assert.equal(await run(11), await run(11));
  assert.notEqual(await run(11), await run(12));
});

test('the simulated clock moves only with calls, by callMs each, and goes on across a power cut', async () => {
  const fileSystem = new SimulatedFileSystem({ seed: 1, callMs: 0.5, clockStartMs: 1_000 });
  assert.equal(fileSystem.clock.monotonicMs(), 0);
  assert.equal(fileSystem.clock.wallMs(), 1_000);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(fileSystem.clock.monotonicMs(), 0, 'real time does not move it');
  await fileSystem.mkdir('/d');
  await writeFile(fileSystem, '/d/f', Buffer.from('x'));
  const calls = fileSystem.callCount;
  assert.ok(calls >= 3);
  assert.equal(fileSystem.clock.monotonicMs(), calls * 0.5);
  assert.equal(fileSystem.clock.wallMs(), 1_000 + calls * 0.5);
  const rebooted = fileSystem.powerCut();
  assert.equal(rebooted.clock.wallMs(), 1_000 + calls * 0.5, 'wall time does not go back at a reboot');
  await rebooted.readdir('/d');
  assert.equal(rebooted.clock.wallMs(), 1_000 + (calls + 1) * 0.5, 'and moves at the same pace');
});

test('trace records each call in order when asked, and nothing otherwise', async () => {
  const traced = new SimulatedFileSystem({ seed: 1, trace: true });
  await traced.mkdir('/d');
  await writeFile(traced, '/d/f', Buffer.from('x'), { sync: true });
  await traced.rename('/d/f', '/d/g');
  assert.deepEqual(traced.trace, ['mkdir /d', 'open /d/f', 'write /d/f', 'fdatasync /d/f', 'close /d/f', 'rename /d/f']);
  const untraced = new SimulatedFileSystem({ seed: 1 });
  await writeFile(untraced, '/f', Buffer.from('x'));
  assert.deepEqual(untraced.trace, []);
});
