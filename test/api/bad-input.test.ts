/**
 * The public surface refuses bad input with a typed error that names what
 * was wrong, and changes nothing: one table per entry point, for the cases
 * the module tests do not already cover.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileCache, NodeFileSystem, SharedAppendChannel, SharedAppender, Wal, WalError, WalManager } from '../../src/index.js';
import type { WalErrorCode } from '../../src/index.js';
import { freshFolders } from '../temp-folders.js';

const freshDir = freshFolders('tidewal-bad-input-');

/** Runs `call` (a value, a promise or an async iterable to drain) and checks that it fails with `code` and a message matching `message`. */
async function refuses(label: string, call: () => unknown, code: WalErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(
    async () => {
      const result = call();
      if (result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
        for await (const item of result as AsyncIterable<unknown>) void item;
      } else {
        await result;
      }
    },
    (error: unknown) => {
      assert.ok(error instanceof WalError, `${label}: a WalError, got ${String(error)}`);
      assert.equal(error.code, code, `${label}: ${error.message}`);
      assert.match(error.message, message, label);
      return true;
    },
  );
}

test('Wal: internal options, records of other types, offsets past the end, calls after close', async () => {
  const dir = freshDir();
  const wal = await Wal.open({ dir });
  await wal.append('a');
  await refuses('a Symbol record', () => wal.append(Symbol('x') as never), 'INVALID_ARGUMENT', /must be a Uint8Array \(a Buffer\) or a string, got symbol$/);
  await refuses('a bigint record', () => wal.append(5n as never), 'INVALID_ARGUMENT', /must be a Uint8Array \(a Buffer\) or a string/);
  await refuses('an ArrayBuffer record', () => wal.append(new ArrayBuffer(4) as never), 'INVALID_ARGUMENT', /got an ArrayBuffer; wrap it: new Uint8Array\(buffer\)$/);
  for (const view of [new DataView(new ArrayBuffer(4)), new Uint16Array(2)]) {
    await refuses(`a ${view.constructor.name} record`, () => wal.append(view as never), 'INVALID_ARGUMENT', new RegExp(`got a ${view.constructor.name}; pass its bytes: new Uint8Array\\(view\\.buffer, view\\.byteOffset, view\\.byteLength\\)$`));
  }
  await refuses('an empty record', () => wal.append(''), 'INVALID_ARGUMENT', /a record must not be empty \(give at least one byte/);
  await refuses('a string with a lone surrogate', () => wal.append('ok\ud800'), 'INVALID_ARGUMENT', /lone UTF-16 surrogate/);
  await refuses('a batch whose last string has a lone surrogate', () => wal.appendBatch(['fine', '\udc00']), 'INVALID_ARGUMENT', /lone UTF-16 surrogate/);
  assert.equal(wal.nextOffset, 1, 'nothing of the refused records was appended');
  await refuses('an empty batch', () => wal.appendBatch([]), 'INVALID_ARGUMENT', /non-empty array/);
  await refuses('truncateBefore past nextOffset', () => wal.truncateBefore(5), 'OFFSET_OUT_OF_RANGE', /offset 5 is outside the log's range \[0, 1\); the highest offset accepted here is 1 \(nextOffset\)$/);
  await refuses('a tail from past nextOffset', () => wal.tail({ from: 3 }), 'OFFSET_OUT_OF_RANGE', /offset 3 is outside the log's range \[0, 1\); the highest offset accepted here is 1 \(nextOffset\)$/);
  const paired = await Wal.open({ dir: freshDir() });
  assert.equal((await paired.append('\u{1F30A} tide')).offset, 0, 'a well-formed string with a surrogate pair is a record');
  for await (const record of paired.read()) assert.equal(Buffer.from(record.data).toString('utf8'), '\u{1F30A} tide');
  await paired.close();
  const empty = await Wal.open({ dir: freshDir() });
  await refuses('a read from 0 of an empty log', () => empty.read({ from: 0 }), 'OFFSET_OUT_OF_RANGE', /range \[0, 0\); the log holds no records: read without from, or tail it$/);
  await empty.close();
  await refuses('a fileCache that is not one', () => Wal.open({ dir: freshDir(), fileCache: {} } as never), 'INVALID_ARGUMENT', /"fileCache" must be a FileCache/);
  await refuses('a journal that is not one', () => Wal.open({ dir: freshDir(), journal: 5 } as never), 'INVALID_ARGUMENT', /"journal" must be a WriteJournal/);
  const sharedCache = new FileCache(new NodeFileSystem(), 4);
  await refuses('a fileCache together with maxOpenFiles', () => Wal.open({ dir: freshDir(), fileCache: sharedCache, maxOpenFiles: 99 }), 'INVALID_ARGUMENT', /"fileCache" and "maxOpenFiles" exclude each other \(the FileCache's bound, 4, applies/);
  const sharing = await Wal.open({ dir: freshDir(), fileCache: sharedCache });
  assert.equal(sharing.fileCache.maxOpenFiles, 4, 'a fileCache alone is the log\'s handle cache');
  await sharing.close();
  assert.equal(wal.nextOffset, 1, 'nothing was appended by the refused calls');
  await wal.close();
  await refuses('segments() after close', () => wal.segments(), 'WAL_CLOSED', /the log is closed; open it again with Wal\.open\(\)/);
});

test('WalManager.open: each bad option is refused and no folder is made', async () => {
  const dir = freshDir();
  const cases: Array<[label: string, options: unknown, message: RegExp]> = [
    ['options null', null, /options must be an object/],
    ['maxPartitions 0', { dir, maxPartitions: 0 }, /"maxPartitions" must be an integer in \[1, /],
    ['maxOpenFiles 1.5', { dir, maxOpenFiles: 1.5 }, /"maxOpenFiles"/],
    ['retentionIntervalMs -1', { dir, retentionIntervalMs: -1 }, /"retentionIntervalMs"/],
    ['logOptions not a function', { dir, logOptions: 5 }, /"logOptions" must be a function/],
    ['retention not an object', { dir, retention: 5 }, /"retention" must be an object/],
    ['retention with an unknown key', { dir, retention: { maxByte: 1 } }, /unknown retention option "maxByte"/],
    ['retention guarded by a bad name', { dir, retention: { checkpoint: '../x' } }, /retention.checkpoint must be a checkpoint name/],
  ];
  for (const [label, options, message] of cases) {
    await refuses(label, () => WalManager.open(options as never), 'INVALID_ARGUMENT', message);
  }
  assert.equal(existsSync(dir), false);
});

test('WalManager: bad names and logOptions answers are refused, calls after close say the manager is closed', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({
    dir,
    retentionIntervalMs: 0,
    logOptions: (topic) => (topic === 'number' ? 5 : topic === 'array' ? [] : topic === 'cache' ? { fileCache: 1 } : topic === 'files' ? { maxOpenFiles: 3 } : {}) as never,
  });
  await refuses('withLog with a bad topic', () => mgr.withLog('../x', 0, () => 1), 'INVALID_ARGUMENT', /topic "\.\.\/x" is not valid/);
  await refuses('partitions of a bad topic', () => mgr.partitions('a/b'), 'INVALID_ARGUMENT', /topic "a\/b" is not valid/);
  await refuses('logOptions returning a number', () => mgr.append('number', 0, 'x'), 'INVALID_ARGUMENT', /^Cannot open log number\/0: logOptions returned 5, not an object/);
  await refuses('logOptions returning an array', () => mgr.append('array', 0, 'x'), 'INVALID_ARGUMENT', /logOptions returned an array of 0 items, not an object/);
  await refuses('logOptions setting fileCache', () => mgr.append('cache', 0, 'x'), 'INVALID_ARGUMENT', /logOptions may not set "fileCache"/);
  await refuses('logOptions setting maxOpenFiles', () => mgr.append('files', 0, 'x'), 'INVALID_ARGUMENT', /logOptions may not set "maxOpenFiles"/);
  await refuses('a tail from 5 of a partition that does not exist', () => mgr.tail('new', 3, { from: 5 }), 'OFFSET_OUT_OF_RANGE', /offset 5 is outside the log's range \[0, 0\); the highest offset accepted here is 0 \(nextOffset\)$/);
  const aborted = [];
  for await (const record of mgr.tail('new', 0, { signal: AbortSignal.abort() })) aborted.push(record);
  assert.deepEqual(aborted, [], 'a tail aborted before it began yields nothing');
  assert.deepEqual(readdirSync(dir), ['~manager'], 'no topic folder was made');
  await mgr.close();
  const closed = /the manager is closed; open it again with WalManager\.open\(\)$/;
  await refuses('log() after close', () => mgr.log('t', 0), 'WAL_CLOSED', closed);
  await refuses('withLog() after close', () => mgr.withLog('t', 0, () => 1), 'WAL_CLOSED', closed);
  await refuses('readBlocks() after close', () => mgr.readBlocks('t', 0), 'WAL_CLOSED', closed);
  await refuses('tail() after close', () => mgr.tail('t', 0), 'WAL_CLOSED', closed);
  await refuses('partitions() after close', () => mgr.partitions('t'), 'WAL_CLOSED', closed);
  await refuses('consume() after close', () => mgr.consume({ group: 'g', topics: ['t'] }), 'WAL_CLOSED', closed);
  await refuses('enforceRetention() after close', () => mgr.enforceRetention(), 'WAL_CLOSED', closed);
  await refuses('checkpoints.delete() after close', () => mgr.checkpoints.delete('c'), 'WAL_CLOSED', closed);
  assert.equal(existsSync(join(dir, 't')), false);
});

test('shared append: bad targets and ring sizes, and an appender used after its own close', async () => {
  const wal = await Wal.open({ dir: freshDir(), fsync: 'os' });
  try {
    await refuses('a string target', () => SharedAppendChannel.open('wal' as never), 'INVALID_ARGUMENT', /the target must be a Wal, got "wal"/);
    await refuses('an object target', () => SharedAppendChannel.open({} as never), 'INVALID_ARGUMENT', /the target must be a Wal/);
    await refuses('a target with append() alone', () => SharedAppendChannel.open({ append: async () => ({ offset: 0 }) } as never), 'INVALID_ARGUMENT', /the target must be a Wal \(or have a string dir, a positive integer maxRecordBytes and append\(\)\)/);
    await refuses('ringBytes NaN', () => SharedAppendChannel.open(wal, { ringBytes: Number.NaN }), 'INVALID_ARGUMENT', /ringBytes must be a multiple of 8/);
    const channel = SharedAppendChannel.open(wal, { ringBytes: 4096 });
    const appender = SharedAppender.attach(channel.handle);
    appender.close();
    await refuses('append after the appender closed', () => appender.append('x'), 'WAL_CLOSED', /shared append channel is closed/);
    await channel.close();
    assert.equal(wal.nextOffset, 0);
  } finally {
    await wal.close();
  }
  await refuses('a closed Wal as the target', () => SharedAppendChannel.open(wal), 'WAL_CLOSED', /Cannot open shared append channel: the log is closed/);
});

test('paths, option shapes, number kinds and read bounds: each refused with what to do, nothing created', { timeout: 60_000 }, async () => {
  const root = freshDir();
  mkdirSync(root);
  const file = join(root, 'file');
  writeFileSync(file, 'not a folder');
  for (const dir of [file, join(file, 'log')]) {
    await refuses(`Wal.open on ${dir}`, () => Wal.open({ dir }), 'INVALID_ARGUMENT', /it, or a folder above it, is not a folder but a file or a symlink to nothing \(ENOTDIR\); give the path of a folder, new or existing$/);
  }
  // A symlink to nothing above the folder made Node's recursive mkdir spin for good: open never settled.
  symlinkSync(join(root, 'nowhere'), join(root, 'link'));
  for (const dir of [join(root, 'link'), join(root, 'link', 'topic', 'log')]) {
    const notAFolder = /it, or a folder above it, is not a folder but a file or a symlink to nothing \(ENOTDIR\); give the path of a folder, new or existing$/;
    await refuses(`Wal.open on ${dir}`, () => Wal.open({ dir }), 'INVALID_ARGUMENT', notAFolder);
    await refuses(`WalManager.open on ${dir}`, () => WalManager.open({ dir }), 'INVALID_ARGUMENT', notAFolder);
  }
  await refuses('Wal.open under /proc', () => Wal.open({ dir: '/proc/tidewal-no-such-folder/log' }), 'WAL_FAILED', /cannot hold it/);
  symlinkSync(join(root, 'loop-b'), join(root, 'loop-a'));
  symlinkSync(join(root, 'loop-a'), join(root, 'loop-b'));
  for (const [label, dir, pattern] of [
    ['a name too long', join(root, 'x'.repeat(300)), /its path, or a name in it, is too long \(ENAMETOOLONG\); give a shorter path/],
    ['a loop of symlinks', join(root, 'loop-a', 'log'), /its path runs into a loop of symlinks \(ELOOP\); give a shorter path, or one without the loop$/],
  ] as const) {
    await refuses(`Wal.open on ${label}`, () => Wal.open({ dir }), 'INVALID_ARGUMENT', pattern);
    await refuses(`WalManager.open on ${label}`, () => WalManager.open({ dir }), 'INVALID_ARGUMENT', pattern);
  }
  await refuses('options an array', () => Wal.open([] as never), 'INVALID_ARGUMENT', /options must be an object, got an array of 0 items/);
  await refuses('a bigint option', () => Wal.open({ dir: join(root, 'big'), segmentBytes: 8192n as never }), 'INVALID_ARGUMENT', /"segmentBytes" must be an integer in \[4096, \d+\], got 8192n \(a bigint\)/);
  assert.deepEqual(readdirSync(root).sort(), ['file', 'link', 'loop-a', 'loop-b'], 'no folder was made');
  const wal = await Wal.open({ dir: join(root, 'log') });
  try {
    await wal.appendBatch(['a', 'b', 'c', 'd']);
    await refuses('read from an unsafe integer', () => wal.read({ from: 2 ** 60 }), 'INVALID_ARGUMENT', /from must be a non-negative safe integer \(at most 2\^53 - 1\), got 1152921504606847000/);
    await refuses('truncateBefore 2^53', () => wal.truncateBefore(2 ** 53), 'INVALID_ARGUMENT', /safe integer/);
    await refuses('read with to below from', () => wal.read({ from: 3, to: 1 }), 'INVALID_ARGUMENT', /to \(1\) is below from \(3\); give a to at or above from/);
    const read: number[] = [];
    for await (const record of wal.read({ from: 1, to: 100 })) read.push(record.offset);
    assert.deepEqual(read, [1, 2, 3], 'a to past the end stops at the end');
  } finally {
    await wal.close();
  }
  await refuses('new FileCache with no file system', () => new FileCache(null as never, 5), 'INVALID_ARGUMENT', /"fileSystem" must be an object, got null/);
  await refuses('new FileCache with no file system', () => new FileCache(undefined as never, 5), 'INVALID_ARGUMENT', /fileSystem must be given/);
  await refuses('new FileCache with maxOpenFiles 0', () => new FileCache(new NodeFileSystem(), 0), 'INVALID_ARGUMENT', /"maxOpenFiles" must be an integer in \[1, 1000000\], got 0/);
  await refuses('new FileCache with maxOpenFiles "5"', () => new FileCache(new NodeFileSystem(), '5' as never), 'INVALID_ARGUMENT', /got "5"/);
});

test('consume: null option values are refused, not taken for defaults; a closed consumer says so when iterated again, and commit() after the manager closed', async () => {
  const mgr = await WalManager.open({ dir: freshDir(), retentionIntervalMs: 0 });
  const idle = mgr.consume({ group: 'idle', topics: ['t'] });
  try {
    await mgr.append('t', 0, 'x');
    await refuses('from null', () => mgr.consume({ group: 'g', topics: ['t'], from: null as never }), 'INVALID_ARGUMENT', /from must be 'checkpoint', 'earliest' or 'latest', got null/);
    await refuses('batchSize null', () => mgr.consume({ group: 'g', topics: ['t'], batchSize: null as never }), 'INVALID_ARGUMENT', /batchSize must be a positive integer, got null/);
    const consumer = mgr.consume({ group: 'g', topics: ['t'], from: 'earliest' });
    const first = consumer[Symbol.asyncIterator]();
    assert.equal((await first.next()).value?.offset, 0);
    await consumer.close();
    await refuses('a second iteration after close()', () => consumer, 'WAL_CLOSED', /the consumer is closed; start a new one with mgr\.consume\(\)/);
    await first.return?.();
    assert.deepEqual(await idle.commit(), {}, 'a consumer with nothing handed out commits nothing while the manager is open');
  } finally {
    await mgr.close();
  }
  await refuses('commit() with no positions after the manager closed', () => idle.commit(), 'WAL_CLOSED', /^Cannot commit consumer positions: the manager is closed/);
});

test("a Wal is not opened in a manager's folder, nor a manager in a log's folder, and neither leaves a file there", async () => {
  const managerDir = freshDir();
  const mgr = await WalManager.open({ dir: managerDir, retentionIntervalMs: 0 });
  await mgr.append('t', 0, 'x');
  await mgr.close();
  const managerEntries = readdirSync(managerDir).sort();
  await refuses('Wal.open on a manager folder', () => Wal.open({ dir: managerDir }), 'INVALID_ARGUMENT', /it is a WalManager's folder \(it holds ~manager\); open it with WalManager\.open\(\)/);
  assert.deepEqual(readdirSync(managerDir).sort(), managerEntries);

  const logDir = freshDir();
  const wal = await Wal.open({ dir: logDir });
  await wal.append('x');
  await wal.close();
  const logEntries = readdirSync(logDir).sort();
  await refuses('WalManager.open on a log folder', () => WalManager.open({ dir: logDir }), 'INVALID_ARGUMENT', /it is a log's folder \(it holds .*\); open it with Wal\.open\(\)/);
  assert.deepEqual(readdirSync(logDir).sort(), logEntries);
  // A manager's topics may carry a log's file names; ~manager decides, whatever the listing order.
  const named = await WalManager.open({ dir: managerDir, retentionIntervalMs: 0 });
  for (const topic of ['LOCK', 'clean-shutdown', '00000000000000000000.wal']) await named.append(topic, 0, 'x');
  await named.close();
  const reopened = await WalManager.open({ dir: managerDir, retentionIntervalMs: 0 });
  assert.deepEqual(reopened.topics(), ['00000000000000000000.wal', 'LOCK', 'clean-shutdown', 't']);
  await reopened.close();
  await refuses('Wal.open on that manager folder', () => Wal.open({ dir: managerDir }), 'INVALID_ARGUMENT', /it is a WalManager's folder/);
  // A manager's topic and partition folders are its own: a Wal opened there
  // on its own would miss what only the manager's journal holds, and fork from it.
  const beforeEntries = readdirSync(join(managerDir, 't')).sort();
  for (const inside of [join(managerDir, 't', '0'), join(managerDir, 't', '7'), join(managerDir, 't'), join(managerDir, 'new-topic'), join(managerDir, 't', '0', 'x'), join(managerDir, 't', '0', 'x', 'y')]) {
    await refuses(`Wal.open on ${inside}`, () => Wal.open({ dir: inside }), 'INVALID_ARGUMENT', new RegExp(`it is inside the WalManager folder ${managerDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*WalManager\\.open\\(\\) and use mgr\\.log\\(\\)`));
  }
  assert.deepEqual(readdirSync(join(managerDir, 't')).sort(), beforeEntries, 'no partition folder was created');
  assert.equal(existsSync(join(managerDir, 't', '0', 'x')), false, 'nothing was created in a partition folder');
  // A relative path names its folders above only once resolved.
  const cwd = process.cwd();
  process.chdir(join(managerDir, 't'));
  try {
    await refuses('Wal.open on a relative partition folder', () => Wal.open({ dir: '5' }), 'INVALID_ARGUMENT', /inside the WalManager folder/);
    await refuses('WalManager.open on a relative folder in a topic', () => WalManager.open({ dir: 'inner' }), 'INVALID_ARGUMENT', /inside the WalManager folder/);
  } finally {
    process.chdir(cwd);
  }
  assert.deepEqual(readdirSync(join(managerDir, 't')).sort(), beforeEntries, 'a relative path created nothing either');
  // The manager's own opens pass a token no caller can name: a plain flag does not get a caller in.
  await refuses('Wal.open on a partition, claiming to be the manager', () => Wal.open({ dir: join(managerDir, 't', '0'), managerOwned: true } as never), 'INVALID_ARGUMENT', /inside the WalManager folder/);
  // Nor a manager: its topics would land among the outer manager's partitions.
  for (const inside of [join(managerDir, 't'), join(managerDir, 'new-topic'), join(managerDir, 't', '0', 'x')]) {
    await refuses(`WalManager.open on ${inside}`, () => WalManager.open({ dir: inside }), 'INVALID_ARGUMENT', /it is inside the WalManager folder .*; use that manager's topics, or give this manager a folder of its own$/);
  }
  assert.deepEqual(readdirSync(join(managerDir, 't')).sort(), beforeEntries, 'no ~manager folder was made in a topic folder');
  assert.equal(existsSync(join(managerDir, 'new-topic')), false, 'no topic folder was created by a refused manager');
  assert.equal(existsSync(join(managerDir, 'new-topic')), false, 'no topic folder was created');
  // ... and the same while the manager is open and has closed the idle log.
  const running = await WalManager.open({ dir: managerDir, retentionIntervalMs: 0, maxOpenLogs: 1 });
  await running.append('t', 0, 'y');
  await running.append('LOCK', 0, 'y');
  await refuses('Wal.open on a partition the running manager closed as idle', () => Wal.open({ dir: join(managerDir, 't', '0') }), 'INVALID_ARGUMENT', /inside the WalManager folder/);
  assert.deepEqual(await running.append('t', 0, 'z'), 2, 'the manager still owns its partition');
  await running.close();
});

// They failed as WAL_FAILED asking to check that the folder "is writable and has space".
test('a folder where the log keeps one of its files is INVALID_ARGUMENT naming it, not an I/O failure', async () => {
  for (const name of ['LOCK', '00000000000000000000.wal', 'leftover.tmp']) {
    const dir = freshDir();
    const wal = await Wal.open({ dir });
    await wal.append('kept');
    await wal.close();
    if (name === '00000000000000000000.wal') rmSync(join(dir, name));
    mkdirSync(join(dir, name));
    const named = name === 'LOCK' ? /one of its file names \(LOCK, clean-shutdown, a segment or a \.tmp file\)/ : new RegExp(`${join(dir, name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a folder`);
    await refuses(`Wal.open with a folder named ${name}`, () => Wal.open({ dir }), 'INVALID_ARGUMENT', named);
    await refuses(`Wal.open with a folder named ${name}`, () => Wal.open({ dir }), 'INVALID_ARGUMENT', /where the log keeps a file of its own \(EISDIR\); move that folder out of/);
  }
});

// The manager used to open, leaving the lone log refused by Wal.open (it now
// lay inside a manager's folder) and unseen by the manager, which reads
// topic folders of partition folders.
test("a manager is not opened on the parent of a lone log's folder, and makes nothing there", async () => {
  const parent = freshDir();
  const logDir = join(parent, 'events');
  const wal = await Wal.open({ dir: logDir });
  await wal.append('kept');
  await wal.close();
  const before = readdirSync(parent).sort();
  const logBefore = readdirSync(logDir).sort();
  await refuses(
    'WalManager.open on the parent of a log folder',
    () => WalManager.open({ dir: parent }),
    'INVALID_ARGUMENT',
    new RegExp(`${logDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a log's own folder \\(it holds .*\\), not a topic folder of partition folders; open that log with Wal\\.open\\(\\), or move it out of`),
  );
  assert.deepEqual(readdirSync(parent).sort(), before, 'no ~manager was made');
  assert.deepEqual(readdirSync(logDir).sort(), logBefore);
  const reopened = await Wal.open({ dir: logDir });
  assert.equal(reopened.nextOffset, 1, 'the log still opens on its own');
  await reopened.close();
});

test('only errno errors of an open become WalIOError: a fileSystem that throws something else is not disguised as I/O', async () => {
  const fileSystem = new NodeFileSystem();
  const broken = Object.assign(Object.create(fileSystem) as NodeFileSystem, {
    mkdir: async (): Promise<void> => {
      throw new TypeError('a bug in the caller\'s file system');
    },
  });
  for (const open of [() => Wal.open({ dir: freshDir(), fileSystem: broken }), () => WalManager.open({ dir: freshDir(), fileSystem: broken })]) {
    await assert.rejects(open(), (error: unknown) => error instanceof TypeError && !(error instanceof WalError) && /a bug in the caller/.test(error.message));
  }
});

test('a Wal handed out by mgr.log() and closed by the manager says how to get it back', async () => {
  const mgr = await WalManager.open({ dir: freshDir(), fsync: 'os', maxOpenLogs: 1, retentionIntervalMs: 0 });
  const first = await mgr.log('t', 0);
  await first.append('a');
  // Opening a second log evicts the idle first one (maxOpenLogs 1).
  await mgr.append('t', 1, 'b');
  await refuses('append to an evicted log', () => first.append('c'), 'WAL_CLOSED', /the log is closed; get it again with mgr\.log\(\) or mgr\.withLog\(\)/);
  const again = await mgr.log('t', 0);
  assert.equal((await again.append('c')).offset, 1);
  await mgr.close();
  // A Wal opened by the caller keeps the plain advice.
  const wal = await Wal.open({ dir: freshDir() });
  await wal.close();
  await refuses('append after close', () => wal.append('x'), 'WAL_CLOSED', /open it again with Wal\.open\(\)$/);
});
