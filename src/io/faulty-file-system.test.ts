import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { gate } from '../../test/gate.js';
import { FaultyFileSystem, errnoError } from './faulty-file-system.js';
import { NodeFileSystem } from './node-file-system.js';

describe('FaultyFileSystem', () => {
  let dir = '';
  let faulty = new FaultyFileSystem(new NodeFileSystem());

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidewal-faulty-'));
    faulty = new FaultyFileSystem(new NodeFileSystem());
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function openFile(name: string) {
    return faulty.open(path.join(dir, name), { write: true, create: true });
  }

  test('passes every call through and counts it when nothing is armed', async () => {
    const handle = await openFile('a');
    assert.equal(await handle.write(Buffer.from('hello'), 0, 5, 0), 5);
    assert.equal(handle.writeSync(Buffer.from('!'), 0, 1, 5), 1);
    await handle.datasync();
    assert.equal(await handle.sizeBytes(), 6);
    const buffer = Buffer.alloc(6);
    assert.equal(await handle.read(buffer, 0, 6, 0), 6);
    assert.equal(buffer.toString(), 'hello!');
    await handle.close();
    await faulty.syncDir(dir);
    assert.deepEqual((await faulty.readFile(path.join(dir, 'a')))?.toString(), 'hello!');
    assert.equal(faulty.counts.open, 1);
    assert.equal(faulty.counts.write, 1);
    assert.equal(faulty.counts.writeSync, 1);
    assert.equal(faulty.counts.datasync, 1);
    assert.equal(faulty.counts.read, 1);
    assert.equal(faulty.counts.syncDir, 1);
    assert.equal(faulty.counts.readFile, 1);
    assert.equal(faulty.fired.length, 0);
    assert.equal(faulty.countsFor(/a$/).write, 1);
    assert.equal(faulty.countsFor('nothing').write, 0);
    faulty.resetCounts();
    assert.equal(faulty.counts.write, 0);
    assert.equal(faulty.countsFor(/a$/).write, 0);
  });

  test('datasync fails the next call with an errno error shaped like Node\'s, then passes again', async () => {
    const handle = await openFile('a');
    faulty.arm({ call: 'datasync', code: 'EIO' });
    await assert.rejects(handle.datasync(), (error: NodeJS.ErrnoException) => {
      assert.equal(error.code, 'EIO');
      assert.equal(error.syscall, 'fdatasync');
      assert.equal(error.errno, -os.constants.errno.EIO);
      assert.equal(error.message, 'EIO: i/o error, fdatasync');
      return true;
    });
    await handle.datasync();
    assert.equal(faulty.counts.datasync, 2);
    assert.deepEqual(faulty.fired, [{ call: 'datasync', path: path.join(dir, 'a'), effect: 'EIO' }]);
    await handle.close();
  });

  test('skip lets the first matching calls pass and fails the Nth', async () => {
    const handle = await openFile('a');
    faulty.arm({ call: 'datasync', code: 'EIO', skip: 2 });
    await handle.datasync();
    await handle.datasync();
    await assert.rejects(handle.datasync(), { code: 'EIO' });
    await handle.datasync();
    await handle.close();
  });

  test('times Infinity fails every later call', async () => {
    const handle = await openFile('a');
    faulty.arm({ call: 'datasync', code: 'EIO', times: Infinity });
    for (let index = 0; index < 5; index += 1) await assert.rejects(handle.datasync(), { code: 'EIO' });
    assert.equal(faulty.armedCount, 1);
    faulty.disarm();
    await handle.datasync();
    await handle.close();
  });

  test('a path filter fails only the matching files', async () => {
    const log = await openFile('0.wal');
    const other = await openFile('LOCK');
    faulty.arm({ call: 'write', code: 'ENOSPC', path: /\.wal$/, times: Infinity });
    assert.equal(await other.write(Buffer.from('x'), 0, 1, 0), 1);
    await assert.rejects(log.write(Buffer.from('x'), 0, 1, 0), { code: 'ENOSPC', syscall: 'write' });
    assert.throws(() => log.writeSync(Buffer.from('x'), 0, 1, 0), { code: 'ENOSPC', errno: -os.constants.errno.ENOSPC });
    assert.equal(fs.statSync(path.join(dir, '0.wal')).size, 0);
    await log.close();
    await other.close();
  });

  test('the path filter follows a handle the engine renamed', async () => {
    const handle = await openFile('next.tmp');
    faulty.arm({ call: 'datasync', code: 'EIO', path: '.wal' });
    await handle.datasync();
    await faulty.rename(path.join(dir, 'next.tmp'), path.join(dir, '1.wal'));
    handle.path = path.join(dir, '1.wal');
    await assert.rejects(handle.datasync(), { code: 'EIO' });
    await handle.close();
  });

  test('a short write writes only part of the request and returns the short count', async () => {
    const handle = await openFile('a');
    faulty.arm({ call: 'write', shortWrite: 3, times: 2 });
    const data = Buffer.from('0123456789');
    assert.equal(await handle.write(data, 0, 10, 0), 3);
    assert.equal(handle.writeSync(data, 3, 7, 3), 3);
    assert.equal(await handle.write(data, 6, 4, 6), 4);
    assert.equal(fs.readFileSync(path.join(dir, 'a')).toString(), '0123456789');
    await handle.close();
  });

  test('a short write never writes the whole request', async () => {
    const handle = await openFile('a');
    faulty.arm({ call: 'write', shortWrite: 100 });
    assert.equal(await handle.write(Buffer.from('abcd'), 0, 4, 0), 3);
    faulty.arm({ call: 'write', shortWrite: 100 });
    assert.equal(await handle.write(Buffer.from('z'), 0, 1, 3), 1);
    await handle.close();
  });

  test('shortWrite 0 makes a write that writes nothing and returns 0', async () => {
    const handle = await openFile('a');
    faulty.arm({ call: 'write', shortWrite: 0, times: 2 });
    assert.equal(await handle.write(Buffer.from('abcd'), 0, 4, 0), 0);
    assert.equal(handle.writeSync(Buffer.from('abcd'), 0, 4, 0), 0);
    assert.equal(fs.statSync(path.join(dir, 'a')).size, 0);
    await handle.close();
  });

  test('a torn write writes some bytes and then fails', async () => {
    const handle = await openFile('a');
    faulty.arm({ call: 'write', code: 'ENOSPC', writeBytesBeforeError: 2 });
    await assert.rejects(handle.write(Buffer.from('abcd'), 0, 4, 0), { code: 'ENOSPC' });
    assert.equal(fs.readFileSync(path.join(dir, 'a')).toString(), 'ab');
    await handle.close();
  });

  test('delayMs holds a failing call back before it rejects', async () => {
    const handle = await openFile('a');
    faulty.arm({ call: 'datasync', code: 'EIO', delayMs: 50 });
    const started = performance.now();
    await assert.rejects(handle.datasync(), { code: 'EIO' });
    assert.ok(performance.now() - started >= 45);
    await handle.close();
  });

  test('syncDir, open, rename, unlink and truncate can fail too', async () => {
    const handle = await openFile('a');
    faulty.arm({ call: 'syncDir', code: 'EIO' });
    await assert.rejects(faulty.syncDir(dir), { code: 'EIO', syscall: 'fsync', path: dir });
    faulty.arm({ call: 'open', code: 'EROFS' });
    await assert.rejects(openFile('b'), { code: 'EROFS', syscall: 'open' });
    faulty.arm({ call: 'rename', code: 'EIO' });
    await assert.rejects(faulty.rename(path.join(dir, 'a'), path.join(dir, 'c')), { code: 'EIO' });
    faulty.arm({ call: 'unlink', code: 'EIO' });
    await assert.rejects(faulty.unlink(path.join(dir, 'a')), { code: 'EIO' });
    faulty.arm({ call: 'truncate', code: 'EIO' });
    await assert.rejects(handle.truncate(0), { code: 'EIO', syscall: 'ftruncate' });
    assert.ok(fs.existsSync(path.join(dir, 'a')));
    assert.ok(!fs.existsSync(path.join(dir, 'b')));
    await handle.close();
  });

  test('a stall delays a call and then runs it', async () => {
    const handle = await openFile('a');
    faulty.arm({ call: 'write', delayMs: 40 });
    faulty.arm({ call: 'datasync', delayMs: 40 });
    const started = performance.now();
    assert.equal(await handle.write(Buffer.from('abc'), 0, 3, 0), 3);
    await handle.datasync();
    assert.ok(performance.now() - started >= 75);
    assert.deepEqual(faulty.fired.map((fault) => fault.effect), ['stall', 'stall']);
    assert.equal(fs.readFileSync(path.join(dir, 'a')).toString(), 'abc');
    await handle.close();
  });

  test('until holds a call until the test releases it, then runs or fails it', async () => {
    const handle = await openFile('a');
    const writeGate = gate();
    const syncGate = gate();
    faulty.arm({ call: 'write', until: writeGate.opened });
    faulty.arm({ call: 'datasync', code: 'EIO', until: syncGate.opened });
    let written = false;
    const writing = handle.write(Buffer.from('abc'), 0, 3, 0).then((sizeBytes) => {
      written = true;
      return sizeBytes;
    });
    const syncing = handle.datasync();
    syncing.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(written, false, 'the write waits for its gate');
    assert.equal(fs.readFileSync(path.join(dir, 'a')).length, 0);
    writeGate.open();
    assert.equal(await writing, 3);
    assert.equal(fs.readFileSync(path.join(dir, 'a')).toString(), 'abc');
    // Released, the held call takes the fault's own effect.
    syncGate.open();
    await assert.rejects(syncing, { code: 'EIO' });
    await handle.close();
  });

  test('usedAfterClose names a call that reaches a handle after its close()', async () => {
    const handle = await openFile('a');
    const closed = gate();
    faulty.arm({ call: 'write', until: closed.opened });
    const writing = handle.write(Buffer.from('abc'), 0, 3, 0);
    writing.catch(() => {});
    await handle.close();
    closed.open();
    await assert.rejects(writing, { code: 'EBADF' });
    assert.deepEqual(faulty.usedAfterClose, [`write ${path.join(dir, 'a')}`]);
  });

  test('arm() refuses a fault that names no effect or a short non-write', () => {
    assert.throws(() => faulty.arm({ call: 'datasync' }), TypeError);
    assert.throws(() => faulty.arm({ call: 'datasync', delayMs: 0 }), TypeError);
    assert.throws(() => faulty.arm({ call: 'datasync', shortWrite: 1 }), RangeError);
    assert.throws(() => faulty.arm({ call: 'write', code: 'EIO', shortWrite: 1 }), TypeError);
    assert.throws(() => faulty.arm({ call: 'write', code: 'EIO', times: 0 }), RangeError);
    assert.throws(() => faulty.arm({ call: 'write', shortWrite: -1 }), RangeError);
    assert.equal(faulty.armedCount, 0);
  });

  test('unsyncedBytes() counts writes until a datasync covers them, and never for O_DSYNC handles', async () => {
    const plain = await openFile('a.wal');
    const dsync = await faulty.open(path.join(dir, 'b.wal'), { write: true, create: true, dsync: true });
    await plain.write(Buffer.from('abc'), 0, 3, 0);
    plain.writeSync(Buffer.from('de'), 0, 2, 3);
    await dsync.write(Buffer.from('xyz'), 0, 3, 0);
    assert.equal(faulty.unsyncedBytes(), 5);
    assert.equal(faulty.unsyncedBytes('b.wal'), 0);
    faulty.arm({ call: 'datasync', code: 'EIO' });
    await assert.rejects(plain.datasync());
    assert.equal(faulty.unsyncedBytes(/\.wal$/), 5, 'a failed datasync covers nothing');
    await plain.datasync();
    assert.equal(faulty.unsyncedBytes(), 0);
    await plain.close();
    await dsync.close();
  });

  test('unsyncedEntries() lists creates, renames and unlinks until their folder is fsynced', async () => {
    const a = path.join(dir, 'a.tmp');
    const b = path.join(dir, '0.wal');
    const handle = await faulty.open(a, { write: true, exclusive: true });
    await handle.close();
    assert.deepEqual(faulty.unsyncedEntries(), [a]);
    await faulty.syncDir(dir);
    assert.deepEqual(faulty.unsyncedEntries(), []);
    await faulty.rename(a, b);
    assert.deepEqual(faulty.unsyncedEntries(/\.wal$/), [b]);
    faulty.arm({ call: 'syncDir', code: 'EIO' });
    await assert.rejects(faulty.syncDir(dir));
    assert.equal(faulty.unsyncedEntries().length, 2, 'a failed folder fsync covers nothing');
    await faulty.syncDir(dir);
    await faulty.unlink(b);
    assert.deepEqual(faulty.unsyncedEntries(), [b]);
    await faulty.syncDir(path.join(dir, '..'));
    assert.deepEqual(faulty.unsyncedEntries(), [b], 'only the folder holding the entry counts');
  });

  test('errnoError() names the path when given', () => {
    const error = errnoError('ENOSPC', 'open', '/x/y');
    assert.equal(error.message, "ENOSPC: no space left on device, open '/x/y'");
    assert.equal(error.path, '/x/y');
  });
});
