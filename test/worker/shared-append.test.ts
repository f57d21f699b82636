/**
 * Producers in worker threads append to a log owned by the main thread
 * through shared memory (docs/decisions.md, "Producers in worker threads"): real workers, a real Wal, a
 * ring small enough that records wrap around it and producers wait for
 * space, and every record read back against what its worker sent.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { WalError, WalIOError } from '../../src/errors.js';
import { FaultyFileSystem } from '../../src/io/faulty-file-system.js';
import { NodeFileSystem } from '../../src/io/node-file-system.js';
import { Wal } from '../../src/log/wal.js';
import type { FsyncPolicy } from '../../src/log/options.js';
import { SharedAppendChannel } from '../../src/worker/shared-append-channel.js';
import { SharedAppender } from '../../src/worker/shared-appender.js';
import { recordFor } from './append-worker.js';
import { freshFolders } from '../temp-folders.js';

const freshDir = freshFolders('tidewal-shared-append-');

interface WorkerResult {
  readonly workerId?: number;
  readonly offsets?: number[];
  readonly error?: string;
}

async function runWorkers(fsync: FsyncPolicy, workerCount: number, count: number, ringBytes: number): Promise<void> {
  const wal = await Wal.open({ dir: freshDir(), fsync });
  const channels: SharedAppendChannel[] = [];
  try {
    const results = await Promise.all(
      Array.from({ length: workerCount }, async (_, workerId) => {
        const channel = SharedAppendChannel.open(wal, { ringBytes });
        channels.push(channel);
        const worker = new Worker(new URL('./append-worker.js', import.meta.url), {
          workerData: { handle: channel.handle, workerId, count, concurrency: 8 },
        });
        // Both listeners before any await: 'exit' may follow 'message' in the same turn.
        const exited = once(worker, 'exit');
        const [message] = (await once(worker, 'message')) as [WorkerResult];
        await exited;
        return message;
      }),
    );
    for (const channel of channels) await channel.close();
    const byOffset = new Map<number, Buffer>();
    for (const result of results) {
      assert.equal(result.error, undefined, `a worker failed: ${result.error}`);
      const offsets = result.offsets ?? [];
      assert.equal(offsets.length, count);
      offsets.forEach((offset, index) => {
        assert.ok(Number.isSafeInteger(offset) && offset >= 0, `worker ${result.workerId} record ${index} got offset ${offset}`);
        assert.equal(byOffset.has(offset), false, `offset ${offset} given twice`);
        byOffset.set(offset, recordFor(result.workerId ?? -1, index));
      });
    }
    assert.equal(byOffset.size, workerCount * count);
    assert.equal(wal.nextOffset, workerCount * count, 'offsets are dense');
    // Under 'always' a record is acknowledged only once synced: nothing acknowledged waits for a sync.
    if (fsync === 'always') assert.equal(wal.durableOffset, wal.nextOffset, 'every acknowledged record is durable');
    let readCount = 0;
    for await (const record of wal.read()) {
      assert.deepEqual(record.data, byOffset.get(record.offset), `record ${record.offset} holds what its worker sent`);
      readCount += 1;
    }
    assert.equal(readCount, workerCount * count);
  } finally {
    for (const channel of channels) await channel.close();
    await wal.close();
  }
}

test("four worker threads append through shared memory: every record acknowledged once, dense offsets, bytes equal ('os')", async () => {
  // A 16 KiB ring against records up to 3 KiB: entries wrap and producers wait for space.
  await runWorkers('os', 4, 1500, 16 * 1024);
});

test("worker threads through shared memory under 'always': what was acknowledged is durable, records read back exactly", async () => {
  await runWorkers('always', 2, 300, 64 * 1024);
});

test('a bad record is refused in the producer with INVALID_ARGUMENT, before anything is shared', async () => {
  const wal = await Wal.open({ dir: freshDir(), fsync: 'os', maxRecordBytes: 5000 });
  const channel = SharedAppendChannel.open(wal, { ringBytes: 8192 });
  const appender = SharedAppender.attach(channel.handle);
  try {
    // The last: a lone surrogate, which the owner's Wal refuses too (UTF-8 cannot store it).
    for (const bad of [Buffer.alloc(0), '', 42, null, { length: 3 }, Buffer.alloc(5001), Buffer.alloc(4090), 'a\ud800b']) {
      await assert.rejects(appender.append(bad as never), (error: unknown) => error instanceof WalError && error.code === 'INVALID_ARGUMENT');
    }
    assert.equal((await appender.append('fine')).offset, 0);
    assert.equal(wal.nextOffset, 1, 'only the good record reached the log');
  } finally {
    appender.close();
    await channel.close();
    await wal.close();
  }
});

test('bad channel options and bad handles are INVALID_ARGUMENT', async () => {
  const wal = await Wal.open({ dir: freshDir(), fsync: 'os' });
  try {
    for (const ringBytes of [0, 4095, 4100, 1.5, 2 ** 31, '4096']) {
      assert.throws(() => SharedAppendChannel.open(wal, { ringBytes: ringBytes as never }), { code: 'INVALID_ARGUMENT', message: /ringBytes/ });
    }
    // Multiples of 8 that are not multiples of 16 are valid sizes.
    for (const ringBytes of [4104, 8200]) {
      const channel = SharedAppendChannel.open(wal, { ringBytes });
      const appender = SharedAppender.attach(channel.handle);
      assert.equal((await appender.append(`ring ${ringBytes}`)).offset, wal.nextOffset - 1);
      appender.close();
      await channel.close();
    }
    assert.throws(() => SharedAppendChannel.open(null as never), { code: 'INVALID_ARGUMENT' });
    for (const options of [null, 'x', 5]) {
      assert.throws(() => SharedAppendChannel.open(wal, options as never), { code: 'INVALID_ARGUMENT', message: /options must be an object/ });
    }
    assert.throws(() => SharedAppendChannel.open(wal, { ringByte: 4096 } as never), { code: 'INVALID_ARGUMENT', message: /unknown option "ringByte"/ });
    for (const handle of [null, {}, { version: 1 }, { version: 2, control: new SharedArrayBuffer(32) }]) {
      assert.throws(() => SharedAppender.attach(handle as never), { code: 'INVALID_ARGUMENT', message: /handle/ });
    }
  } finally {
    await wal.close();
  }
});

test('a channel takes one producer: a second attach to its handle is refused, and the first producer loses nothing', async () => {
  const wal = await Wal.open({ dir: freshDir(), fsync: 'os' });
  const channel = SharedAppendChannel.open(wal, { ringBytes: 4096 });
  try {
    const appender = SharedAppender.attach(channel.handle);
    // The ring has one writer: a second appender would publish over the first one's records.
    assert.throws(() => SharedAppender.attach(channel.handle), { code: 'INVALID_ARGUMENT', message: /already attached; open one SharedAppendChannel per producer thread/ });
    const results = await Promise.all(['first', 'second', 'third'].map((data) => appender.append(data)));
    assert.deepEqual(results, [{ offset: 0 }, { offset: 1 }, { offset: 2 }]);
    const stored: string[] = [];
    for await (const record of wal.read({ from: 0 })) stored.push(Buffer.from(record.data).toString());
    assert.deepEqual(stored, ['first', 'second', 'third']);
    appender.close();
  } finally {
    await channel.close();
    await wal.close();
  }
});

test('closing the channel settles what was published and rejects later appends with WAL_CLOSED', async () => {
  const wal = await Wal.open({ dir: freshDir(), fsync: 'os' });
  const channel = SharedAppendChannel.open(wal, { ringBytes: 8192 });
  const appender = SharedAppender.attach(channel.handle);
  try {
    const first = appender.append('one');
    const second = appender.append('two');
    assert.deepEqual(await Promise.all([first, second]), [{ offset: 0 }, { offset: 1 }]);
    await channel.close();
    await assert.rejects(appender.append('three'), { code: 'WAL_CLOSED' });
    assert.equal(wal.nextOffset, 2);
  } finally {
    appender.close();
    await wal.close();
  }
});

test("a log closed under the channel rejects the producer's appends with WAL_CLOSED", async () => {
  const wal = await Wal.open({ dir: freshDir(), fsync: 'os' });
  const channel = SharedAppendChannel.open(wal, { ringBytes: 8192 });
  const appender = SharedAppender.attach(channel.handle);
  assert.equal((await appender.append('before')).offset, 0);
  await wal.close();
  await assert.rejects(appender.append('after'), { code: 'WAL_CLOSED' });
  appender.close();
  await channel.close();
  // The channel closed with its log: 'after' was refused in the producer, never taken.
  assert.equal(channel.settledCount, 1);
});

test('a log closed while a group is in flight: earlier records are acknowledged, later ones rejected, in order and without a crash', async () => {
  const wal = await Wal.open({ dir: freshDir(), fsync: 'always' });
  const channel = SharedAppendChannel.open(wal, { ringBytes: 65536 });
  const appender = SharedAppender.attach(channel.handle);
  const outcomes: Promise<string>[] = [];
  const publish = (count: number): void => {
    for (let index = 0; index < count; index++) {
      outcomes.push(appender.append(Buffer.alloc(100, index)).then(({ offset }) => `offset ${offset}`, (error: WalError) => error.code));
    }
  };
  try {
    publish(50);
    // The owner takes the first 50 and starts their durable write.
    await new Promise<void>((resolve) => setImmediate(resolve));
    // Published before close() but taken after it began: the Wal rejects
    // these at once, before the first group is acknowledged, so results
    // settle out of order.
    publish(50);
    const closing = wal.close();
    await closing;
    const settled = await Promise.all(outcomes);
    const acknowledged = settled.filter((outcome) => outcome.startsWith('offset'));
    assert.ok(acknowledged.length >= 1, 'the group in flight when close began is acknowledged');
    assert.deepEqual(acknowledged, acknowledged.map((_, index) => `offset ${index}`), 'acknowledged offsets are dense and come first');
    assert.deepEqual(settled.slice(acknowledged.length), settled.slice(acknowledged.length).map(() => 'WAL_CLOSED'));
    assert.equal(wal.nextOffset, acknowledged.length);
  } finally {
    appender.close();
    await channel.close();
  }
  assert.equal(channel.settledCount, 100);
});

test('a producer that appends a second burst before reading the first one\'s results gets each record\'s own offset', async () => {
  // 4 KiB ring: 256 entries of 16 bytes fill it, and 256 result slots.
  const wal = await Wal.open({ dir: freshDir(), fsync: 'os' });
  const channel = SharedAppendChannel.open(wal, { ringBytes: 4096 });
  try {
    const worker = new Worker(new URL('./burst-worker.js', import.meta.url), { workerData: { handle: channel.handle, burstCount: 256, busyMs: 300 } });
    const exited = once(worker, 'exit');
    const [message] = (await once(worker, 'message')) as [{ firstOffsets?: number[]; secondOffsets?: number[]; error?: string }];
    await exited;
    assert.equal(message.error, undefined);
    await channel.close();
    const stored: string[] = [];
    for await (const record of wal.read()) stored.push(Buffer.from(record.data).toString());
    const wrong: string[] = [];
    for (const [prefix, offsets] of [['a', message.firstOffsets ?? []], ['b', message.secondOffsets ?? []]] as const) {
      assert.equal(offsets.length, 256);
      offsets.forEach((offset, index) => {
        if (stored[offset] !== `${prefix}${index}`) wrong.push(`${prefix}${index} acknowledged at ${offset}, which holds ${stored[offset]}`);
      });
    }
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} records acknowledged with another record's offset`);
  } finally {
    await channel.close();
    await wal.close();
  }
});

test('a failed log reaches the producer as a WalIOError with code WAL_FAILED', async () => {
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const wal = await Wal.open({ dir: freshDir(), fsync: 'os', fileSystem: faulty });
  const channel = SharedAppendChannel.open(wal, { ringBytes: 8192 });
  const appender = SharedAppender.attach(channel.handle);
  try {
    assert.equal((await appender.append('before')).offset, 0);
    // `write` covers the blocking writes that 'os' uses too.
    faulty.arm({ call: 'write', code: 'EIO', times: Infinity });
    await assert.rejects(appender.append('lost'), (error: unknown) => error instanceof WalIOError && error.code === 'WAL_FAILED' && /worker thread/.test(error.message));
  } finally {
    appender.close();
    await channel.close();
    await wal.close().catch(() => {});
  }
});

test('a channel closes with its log: a process that closes its Wal but not the channel still exits on its own', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./abandoned-channel-child.js', import.meta.url)), freshDir()], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // It used to wait for its producer for good: a keep-alive timer per channel.
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [exitCode, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(killer);
  assert.equal(signal, null, `the child exited on its own (stdout: ${stdout.trim()}, stderr: ${stderr.trim()})`);
  assert.equal(exitCode, 0, stderr);
  assert.equal(stdout.trim(), 'appended 0; log closed');
});

test('a closed channel is not kept by its Wal: channels opened and closed on a long-lived log are collected', async () => {
  v8.setFlagsFromString('--expose-gc');
  const collectGarbage = vm.runInNewContext('gc') as () => void;
  const wal = await Wal.open({ dir: freshDir(), fsync: 'os' });
  const openAndClose = async (): Promise<WeakRef<SharedAppendChannel>> => {
    const channel = SharedAppendChannel.open(wal, { ringBytes: 64 * 1024 });
    await channel.close();
    return new WeakRef(channel);
  };
  const closed: WeakRef<SharedAppendChannel>[] = [];
  for (let index = 0; index < 20; index++) closed.push(await openAndClose());
  for (let round = 0; round < 5 && closed.some((ref) => ref.deref() !== undefined); round += 1) {
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
  }
  assert.equal(closed.filter((ref) => ref.deref() !== undefined).length, 0, 'the Wal let go of every closed channel');
  await wal.close();
});
