import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal } from './wal.js';
import { WalError } from '../errors.js';
import { FaultyFileSystem } from '../io/faulty-file-system.js';
import { NodeFileSystem } from '../io/node-file-system.js';

function temporaryDir(): string {
  return mkdtempSync(join(tmpdir(), 'tidewal-backpressure-'));
}

describe('backpressure', () => {
  // Under 'os' and batch the flusher acknowledges queued groups back to back
  // without yielding, so waiters it admits have not reserved their bytes yet
  // when it admits more: the bound must count them (it went to 1.7x here).
  for (const fsync of ['always', 'os', { batch: { intervalMs: 5 } }] as const) {
    it(`keeps pending bytes within maxPendingBytes with 10,000 concurrent producers, and acknowledges every record (fsync ${JSON.stringify(fsync)})`, async () => {
      const dir = temporaryDir();
      const maxPendingBytes = 256 * 1024;
      const wal = await Wal.open({ dir, fsync, maxPendingBytes, maxRecordBytes: 4096, segmentBytes: 1024 * 1024 });
      try {
        let maxSeenBytes = 0;
        const producerCount = 10_000;
        const appends: Promise<unknown>[] = [];
        for (let producerIndex = 0; producerIndex < producerCount; producerIndex++) {
          const record = Buffer.alloc(1000, producerIndex % 251);
          appends.push(
            wal.append(record).then(() => {
              maxSeenBytes = Math.max(maxSeenBytes, wal.pendingBytes);
            }),
          );
          maxSeenBytes = Math.max(maxSeenBytes, wal.pendingBytes);
        }
        await Promise.all(appends);
        assert.ok(maxSeenBytes <= maxPendingBytes, `pending bytes reached ${maxSeenBytes}, limit ${maxPendingBytes}`);
        assert.ok(maxSeenBytes > 0, 'the test produced pending bytes');
        assert.equal(wal.nextOffset, producerCount);
        assert.equal(wal.pendingBytes, 0);
        let count = 0;
        for await (const record of wal.read()) {
          assert.equal(record.data[0], record.offset % 251);
          count += 1;
        }
        assert.equal(count, producerCount);
      } finally {
        await wal.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('appendBatch() refuses a batch larger than maxPendingBytes with INVALID_ARGUMENT and writes nothing', async () => {
    const dir = temporaryDir();
    const wal = await Wal.open({ dir, maxPendingBytes: 64 * 1024, maxRecordBytes: 16 * 1024 });
    try {
      const batch = Array.from({ length: 10 }, () => Buffer.alloc(8 * 1024, 1));
      await assert.rejects(wal.appendBatch(batch), (error: unknown) => error instanceof WalError && error.code === 'INVALID_ARGUMENT');
      assert.equal(wal.nextOffset, 0);
      assert.equal((await wal.append('after')).offset, 0);
    } finally {
      await wal.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const fsync of ['always', 'os', { batch: { intervalMs: 5 } }] as const) {
    it(`close() lets in the appends that wait for room when it is called: they resolve, and the log holds them (fsync ${JSON.stringify(fsync)})`, async () => {
      const dir = temporaryDir();
      const options = { dir, fsync, maxRecordBytes: 64 * 1024, maxPendingBytes: 200 * 1024 } as const;
      try {
        const wal = await Wal.open(options);
        const record = (index: number): Buffer => Buffer.alloc(60 * 1024, index);
        const appends: Promise<number>[] = [];
        for (let index = 0; index < 40; index++) {
          appends.push(index % 10 === 9 ? wal.appendBatch([record(index)]).then(([offset]) => offset ?? -1) : wal.append(record(index)).then(({ offset }) => offset));
        }
        assert.ok(wal.pendingBytes < 4 * 60 * 1024, `at most three of the 40 appends are in (${wal.pendingBytes} bytes pending); the others wait for room`);
        const closing = wal.close();
        await assert.rejects(wal.append('late'), (error: unknown) => error instanceof WalError && error.code === 'WAL_CLOSED', 'an append after close() is refused');
        assert.deepEqual(await Promise.all(appends), Array.from({ length: 40 }, (_, index) => index), 'every append called before close() resolves, in call order');
        await closing;
        const reopened = await Wal.open(options);
        assert.equal(reopened.recovery.clean, true);
        let index = 0;
        for await (const stored of reopened.read()) assert.ok(Buffer.from(stored.data).equals(record(index++)), `record ${index - 1}`);
        assert.equal(index, 40);
        await reopened.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('a record that waits for room is copied: the caller may reuse its buffer once append() or appendBatch() returns', async () => {
    const dir = temporaryDir();
    try {
      const wal = await Wal.open({ dir, fsync: 'always', maxRecordBytes: 64 * 1024, maxPendingBytes: 200 * 1024 });
      const fillers = Array.from({ length: 4 }, (_, index) => wal.append(Buffer.alloc(60 * 1024, index)));
      const single = Buffer.from('single, as given');
      const batched = [Buffer.from('first of batch'), Buffer.from('second of batch')];
      // The fourth filler already waits (4 x 60 KiB > 200 KiB), so these two queue behind it.
      const waiting = [wal.append(single), wal.appendBatch(batched)];
      single.fill(0x2a);
      for (const buffer of batched) buffer.fill(0x2a);
      await Promise.all([...fillers, ...waiting]);
      const stored: string[] = [];
      for await (const record of wal.read({ from: 4 })) stored.push(Buffer.from(record.data).toString());
      assert.deepEqual(stored, ['single, as given', 'first of batch', 'second of batch']);
      await wal.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // sync() covered only the groups that existed when it was called; appends
  // still waiting for room joined later groups, and under 'os' and batch
  // they were even acknowledged before sync() resolved, yet not synced.
  for (const fsync of ['always', 'os', { batch: { intervalMs: 5 } }] as const) {
    it(`sync() covers appends that were still waiting for room when it was called (fsync ${JSON.stringify(fsync)})`, async () => {
      const dir = temporaryDir();
      try {
        const wal = await Wal.open({ dir, fsync, maxRecordBytes: 2048, maxPendingBytes: 4200 });
        const appends = [
          wal.append(Buffer.alloc(1500, 1)),
          wal.append(Buffer.alloc(1500, 2)),
          wal.append(Buffer.alloc(1500, 3)),
          wal.appendBatch([Buffer.alloc(1000, 4), Buffer.alloc(1000, 5)]),
        ];
        await wal.sync();
        assert.equal(wal.nextOffset, 5, 'every append called before sync() is in the log when it resolves');
        assert.equal(wal.durableOffset, 5, 'and durable');
        await Promise.all(appends);
        await wal.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('a sync() waiting for appends that wait for room rejects with the failure when the log fails, rather than hang', async () => {
    const dir = temporaryDir();
    try {
      const fileSystem = new FaultyFileSystem(new NodeFileSystem());
      const wal = await Wal.open({ dir, fsync: 'always', fileSystem, maxRecordBytes: 2048, maxPendingBytes: 4200, preallocate: false });
      // The first group's durable write fails after the others queued behind it.
      fileSystem.arm({ call: 'write', code: 'EIO', path: /\.wal$|prepared/, delayMs: 50 });
      const appends = [1, 2, 3, 4].map((fill) => wal.append(Buffer.alloc(1500, fill)));
      const synced = wal.sync();
      await assert.rejects(synced, (error: unknown) => error instanceof WalError && error.code === 'WAL_FAILED');
      for (const append of appends) await assert.rejects(append, (error: unknown) => error instanceof WalError && error.code === 'WAL_FAILED');
      await wal.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
