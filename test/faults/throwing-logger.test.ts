/**
 * A logger is the caller's code, called from the middle of the log's own
 * failure paths. One that throws (a pino stream ended during shutdown) or
 * returns a rejected promise must change nothing: pending appends still get
 * their WAL_FAILED, close() still releases the folder, and nothing rejects
 * unhandled. A throw from the failure log used to leave every pending append
 * and close() waiting for ever, with the folder locked.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { Wal, WalManager } from '../../src/index.js';
import type { Logger } from '../../src/index.js';
import { FaultyFileSystem } from '../../src/io/faulty-file-system.js';
import { NodeFileSystem } from '../../src/io/node-file-system.js';
import { freshFolders } from '../temp-folders.js';
import { within } from '../within.js';

const freshDir = freshFolders('tidewal-throwing-logger-');

/** `promise`'s value, or a failure naming `what` if it has not settled within `ms` (a hang). */
async function settled<T>(what: string, promise: Promise<T>, ms = 5000): Promise<T> {
  const result = await within(promise, ms);
  if (result === 'timeout') assert.fail(`${what} did not settle within ${ms} ms`);
  return result as T;
}

/** What a settled call gave: its value's kind, or its error's code. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return (error as { code?: string }).code ?? `uncoded: ${String(error)}`;
  }
}

const loggers: Record<string, () => Logger & { calls: number }> = {
  'throws': () => {
    const logger = { calls: 0, debug: fail, info: fail, warn: fail, error: fail };
    function fail(): never {
      logger.calls += 1;
      throw new Error('logger: write after end');
    }
    return logger;
  },
  'returns a rejected promise': () => {
    const logger = { calls: 0, debug: fail, info: fail, warn: fail, error: fail };
    function fail(): void {
      logger.calls += 1;
      return Promise.reject(new Error('logger transport down')) as unknown as void;
    }
    return logger;
  },
};

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
before(() => process.on('unhandledRejection', onUnhandled));
after(() => process.off('unhandledRejection', onUnhandled));

for (const fsync of ['always', 'os', { batch: { intervalMs: 5 } }] as const) {
  for (const [kind, makeLogger] of Object.entries(loggers)) {
    test(`a logger that ${kind}: a write failure still rejects pending appends with WAL_FAILED and close() releases the folder (fsync ${JSON.stringify(fsync)})`, async () => {
      const dir = freshDir();
      const logger = makeLogger();
      const faulty = new FaultyFileSystem(new NodeFileSystem());
      const wal = await Wal.open({ dir, fsync, logger, fileSystem: faulty });
      assert.equal((await wal.append('before')).offset, 0);
      faulty.arm({ call: 'write', code: 'EIO', path: `${dir}/`, times: Infinity });
      const pending = [wal.append('lost 1'), wal.append('lost 2')];
      assert.deepEqual(await settled('pending appends', Promise.all(pending.map(outcome))), ['WAL_FAILED', 'WAL_FAILED']);
      assert.ok(logger.calls >= 1, 'the failure was logged');
      assert.equal(await outcome(wal.append('after')), 'WAL_FAILED');
      await settled('close()', wal.close());
      faulty.disarm();
      const reopened = await Wal.open({ dir, fsync, logger });
      const records: string[] = [];
      for await (const record of reopened.read()) records.push(Buffer.from(record.data).toString());
      assert.equal(records[0], 'before', 'the acknowledged record is there');
      await reopened.close();
      await sleep(5);
      assert.deepEqual(unhandled, [], 'nothing rejected unhandled');
    });
  }
}

test('a manager with a logger that throws: a journal write failure rejects appends with WAL_FAILED and mgr.close() settles', async () => {
  const dir = freshDir();
  const logger = loggers['throws']!();
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  const mgr = await WalManager.open({ dir, fsync: 'always', logger, fileSystem: faulty, retentionIntervalMs: 0 });
  assert.equal(await mgr.append('t', 0, 'before'), 0);
  faulty.arm({ call: 'write', code: 'EIO', path: `${join(dir, '~manager')}/`, times: Infinity });
  assert.deepEqual(await settled('appends', Promise.all([mgr.append('t', 0, 'lost'), mgr.append('t', 1, 'lost')].map(outcome))), ['WAL_FAILED', 'WAL_FAILED']);
  assert.notEqual(await settled('mgr.close()', outcome(mgr.close())), 'resolved', 'close reports the failed journal');
  faulty.disarm();
  const reopened = await WalManager.open({ dir, fsync: 'always', logger, retentionIntervalMs: 0 });
  const records: string[] = [];
  for await (const record of reopened.read('t', 0)) records.push(record.data.toString());
  // A rejected append's outcome is unknown, as a crash's: its record may have reached the file.
  assert.equal(records[0], 'before', 'the acknowledged record is there');
  assert.ok(records.slice(1).every((record) => record === 'lost'), `only appended records: ${records.join(', ')}`);
  await reopened.close();
  await sleep(5);
  assert.deepEqual(unhandled, [], 'nothing rejected unhandled');
});
