/**
 * Injected I/O errors, through the FileSystem the log is given: a failed
 * fdatasync or write stops the log (fail-stop, never a retry), ENOSPC gives a
 * clear error and a reopen recovers everything acknowledged, short writes are
 * finished, and close() after a failure never hangs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Wal, WalError, WalIOError } from '../../src/index.js';
import { FaultyFileSystem, exactPath } from '../../src/io/faulty-file-system.js';
import type { FaultSpec } from '../../src/io/faulty-file-system.js';
import { NodeFileSystem } from '../../src/io/node-file-system.js';
import { prng, recordFor } from '../crash/records.js';
import { PREPARED_FILE_PREFIX } from '../../src/log/segment-preparer.js';
import { gate } from '../gate.js';
import { until, within } from '../within.js';

/** A call that should settle and has not after this long is a hang. */
const HANG_MS = 5_000;
const SEED = 0x7e57;
const SEGMENT_FILE = /\.wal$/;

type WalOptions = Parameters<typeof Wal.open>[0];
type Settled<T> = { status: 'fulfilled'; value: T } | { status: 'rejected'; reason: unknown };

/** Waits for `promise` to settle, failing the test if it takes longer than {@link HANG_MS}. */
async function settle<T>(promise: Promise<T>, what: string): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${HANG_MS} ms (hang)`)), HANG_MS);
  });
  try {
    return await Promise.race([
      promise.then((value): Settled<T> => ({ status: 'fulfilled', value }), (reason: unknown): Settled<T> => ({ status: 'rejected', reason })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function assertWalFailed(error: unknown, what: string): asserts error is WalIOError {
  assert.ok(error instanceof WalIOError, `${what} rejects with a WalIOError, got ${String(error)}`);
  assert.equal(error.code, 'WAL_FAILED', `${what} rejects with code WAL_FAILED`);
}

async function expectWalFailed(promise: Promise<unknown>, what: string): Promise<WalIOError> {
  const result = await settle(promise, what);
  assert.equal(result.status, 'rejected', `${what} rejects after the log failed`);
  const { reason } = result as { reason: unknown };
  assertWalFailed(reason, what);
  return reason;
}

/** The errno code at the end of an error's cause chain. */
function rootCode(error: unknown): unknown {
  let current: unknown = error;
  for (let depth = 0; depth < 10; depth += 1) {
    if (!(current instanceof Error)) return undefined;
    const code = (current as NodeJS.ErrnoException).code;
    if (code !== undefined && !(current instanceof WalError)) return code;
    current = current.cause;
  }
  return undefined;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A random fault on a random call, firing after a random number of matching calls. */
function randomFault(random: () => number): FaultSpec {
  const skip = random() % 25;
  const times = random() % 2 === 0 ? 1 : Infinity;
  // Not the LOCK file: a failed lock write has its own test below.
  const notLock = /^(?!.*\/LOCK$)/;
  switch (random() % 8) {
    case 0:
      return { call: 'write', code: 'ENOSPC', skip, times, path: notLock };
    case 1:
      return { call: 'write', code: 'EIO', skip, times, writeBytesBeforeError: 1 + (random() % 4000), path: notLock };
    case 2:
      return { call: 'datasync', code: 'EIO', skip: skip % 6, times };
    case 3:
      return { call: 'syncDir', code: 'EIO', skip: skip % 6, times };
    case 4:
      return { call: 'rename', code: 'EIO', skip: skip % 6, times };
    case 5:
      return { call: 'open', code: 'EIO', skip: skip % 8, times };
    case 6:
      return { call: 'truncate', code: 'EIO', skip: skip % 3, times };
    default:
      // Not the LOCK file: a failed lock release has its own test below.
      return { call: 'unlink', code: 'EIO', skip: skip % 3, times, path: /(clean-shutdown|\.tmp|\.wal)$/ };
  }
}

/**
 * Opens a log through a file system armed with `fault`, appends (singles and
 * batches) until the fault stops it or 120 calls are done, closes it, and
 * checks what a reopen on the real file system finds. Every record's bytes
 * are recordFor(SEED, offset), so anything found is checked, acknowledged or not.
 */
async function failAndRecover(roundDir: string, options: WalOptions, fault: FaultSpec, random: () => number): Promise<boolean> {
  const faulty = new FaultyFileSystem(new NodeFileSystem());
  faulty.arm(fault);
  const acknowledged: number[] = [];
  let wal: Wal | null = null;
  try {
    wal = await Wal.open({ ...options, fileSystem: faulty });
  } catch (error) {
    // The fault hit open itself: a typed error, and the folder must still open once it is gone.
    assert.ok(faulty.fired.length > 0, `open failed without the fault: ${String(error)}`);
    assertWalFailed(error, 'an open that met the fault');
  }
  if (wal !== null) {
    let failure: unknown = null;
    for (let call = 0; call < 120 && failure === null; call += 1) {
      const base = wal.nextOffset;
      try {
        if (random() % 5 === 0) {
          acknowledged.push(...(await wal.appendBatch([recordFor(SEED, base), recordFor(SEED, base + 1), recordFor(SEED, base + 2)])));
        } else {
          acknowledged.push((await wal.append(recordFor(SEED, base))).offset);
        }
        if (random() % 10 === 0) await wal.sync();
      } catch (error) {
        failure = error;
      }
    }
    if (failure !== null) {
      assertWalFailed(failure, 'the call that met the fault');
      if (fault.call === 'write') assert.equal(rootCode(failure), fault.code, 'the cause is the injected errno error');
      assert.equal(wal.state, 'failed');
      await expectWalFailed(wal.append(recordFor(SEED, wal.nextOffset)), 'an append after the failure');
    }
    // close() may meet the fault too; it must settle either way.
    await settle(wal.close(), 'close()');
    await wait(5);
    assert.deepEqual(faulty.usedAfterClose, [], 'no I/O reaches a file after close() closed it');
  }
  const reopened = await Wal.open({ dir: roundDir, fsync: 'always' });
  try {
    const largest = Math.max(-1, ...acknowledged);
    assert.ok(reopened.nextOffset > largest, `nextOffset ${reopened.nextOffset} covers every acknowledged offset (largest ${largest})`);
    let expected = reopened.firstOffset;
    assert.equal(expected, 0, 'nothing was truncated, so the log starts at 0');
    if (reopened.nextOffset > reopened.firstOffset) {
      for await (const record of reopened.read({ from: reopened.firstOffset })) {
        assert.equal(record.offset, expected, 'offsets are dense');
        assert.ok(Buffer.from(record.data).equals(recordFor(SEED, record.offset)), `record ${record.offset} is intact`);
        expected += 1;
      }
    }
    assert.equal(expected, reopened.nextOffset);
    assert.equal((await reopened.append(recordFor(SEED, expected))).offset, expected, 'appending continues at nextOffset');
  } finally {
    await reopened.close();
  }
  return faulty.fired.length > 0;
}

describe('I/O faults', () => {
  let dir = '';
  let faulty = new FaultyFileSystem(new NodeFileSystem());
  let wals: Wal[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidewal-faults-'));
    faulty = new FaultyFileSystem(new NodeFileSystem());
    wals = [];
  });

  afterEach(async () => {
    faulty.disarm();
    // Whatever a test left open is closed, so no timer keeps the runner alive.
    for (const wal of wals) await settle(wal.close(), 'close() in cleanup');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function open(options: Omit<WalOptions, 'dir'>): Promise<Wal> {
    const wal = await Wal.open({ dir, ...options });
    wals.push(wal);
    return wal;
  }

  /** Appends the records for offsets [nextOffset, nextOffset + count) one by one; returns their offsets. */
  async function appendSome(wal: Wal, count: number): Promise<number[]> {
    const offsets: number[] = [];
    for (let index = 0; index < count; index += 1) {
      const { offset } = await wal.append(recordFor(SEED, wal.nextOffset));
      offsets.push(offset);
    }
    return offsets;
  }

  /** Appends one record at a time (up to 200), pushing each acknowledged offset, until an append fails; returns that failure, or null. */
  async function appendUntilFailure(wal: Wal, acknowledged: number[]): Promise<unknown> {
    for (let index = 0; index < 200; index += 1) {
      try {
        acknowledged.push((await wal.append(recordFor(SEED, wal.nextOffset))).offset);
      } catch (error) {
        return error;
      }
    }
    return null;
  }

  /** Reopens with the real file system and checks every record against recordFor(); returns the log's range and whether the open found a clean shutdown. */
  async function reopenAndCheck(acknowledged: readonly number[]): Promise<{ firstOffset: number; nextOffset: number; clean: boolean }> {
    const wal = await open({ fsync: 'always' });
    const { firstOffset, nextOffset } = wal;
    const { clean } = wal.recovery;
    const largest = Math.max(-1, ...acknowledged);
    assert.ok(nextOffset > largest, `nextOffset ${nextOffset} is past every acknowledged offset (largest ${largest})`);
    let expected = firstOffset;
    if (nextOffset > firstOffset) {
      for await (const record of wal.read({ from: firstOffset })) {
        assert.equal(record.offset, expected, 'offsets are dense');
        assert.ok(Buffer.from(record.data).equals(recordFor(SEED, record.offset)), `record ${record.offset} reads back intact`);
        expected += 1;
      }
    }
    assert.equal(expected, nextOffset, 'read() returns every record up to nextOffset');
    const { offset } = await wal.append(recordFor(SEED, nextOffset));
    assert.equal(offset, nextOffset, 'appending continues at nextOffset after recovery');
    await wal.close();
    return { firstOffset, nextOffset, clean };
  }

  /** Fires `count` appends at once, each with the record for the offset it should get. */
  function appendConcurrently(wal: Wal, count: number): Promise<Settled<{ offset: number }>[]> {
    const base = wal.nextOffset;
    return Promise.all(
      Array.from({ length: count }, (_, index) => settle(wal.append(recordFor(SEED, base + index)), `append #${index}`)),
    );
  }

  /**
   * After a failure: state, every later call, and how many syncs and writes
   * reached the segment files since. (A segment file being prepared ahead
   * under a temp name may still finish; it holds no records.)
   */
  async function checkFailStop(wal: Wal): Promise<void> {
    assert.equal(wal.state, 'failed');
    const before = faulty.countsFor(SEGMENT_FILE);
    await expectWalFailed(wal.append(recordFor(SEED, wal.nextOffset)), 'a later append()');
    await expectWalFailed(wal.appendBatch([Buffer.from('a'), Buffer.from('b')]), 'a later appendBatch()');
    await expectWalFailed(wal.sync(), 'a later sync()');
    await wait(50);
    const after = faulty.countsFor(SEGMENT_FILE);
    assert.equal(after.datasync, before.datasync, 'fdatasync of a segment is never retried after the failure');
    assert.equal(after.write + after.writeSync, before.write + before.writeSync, 'no segment is written after the failure');
    assert.equal(wal.state, 'failed');
  }

  for (const blockingWrites of [false, true]) {
  test(`'always' acknowledges an append only once its bytes are durable, across rotations (blockingWrites ${blockingWrites})`, async () => {
    const wal = await open({ fsync: 'always', fileSystem: faulty, segmentBytes: 4096, blockingWrites });
    for (let index = 0; index < 60; index += 1) {
      const base = wal.nextOffset;
      if (index % 4 === 3) await wal.appendBatch([recordFor(SEED, base), recordFor(SEED, base + 1)]);
      else await wal.append(recordFor(SEED, base));
      // One producer: when its append resolves nothing else is in flight, so
      // every byte written to a segment must be on stable storage by now.
      assert.equal(faulty.unsyncedBytes(SEGMENT_FILE), 0, `no unsynced segment bytes after acknowledging up to ${wal.nextOffset}`);
      // A rotated segment's own name may still be unsynced here: its file was
      // made durable under its prepared temp name first, and recovery finishes
      // a rename that a power cut lost (tested by the power-cut simulation).
      assert.equal(wal.durableOffset, wal.nextOffset);
    }
    assert.ok(fs.readdirSync(dir).filter((name) => name.endsWith('.wal')).length > 3, 'the log rotated');
  });

  test(`append() rejects every pending and later call after a write fails with EIO under 'always' (blockingWrites ${blockingWrites})`, async () => {
    const wal = await open({ fsync: 'always', fileSystem: faulty, segmentBytes: 16 * 1024, blockingWrites });
    const acknowledged = await appendSome(wal, 20);
    // A blocking write cannot wait: with blockingWrites the delay passes it at once.
    faulty.arm({ call: 'write', code: 'EIO', times: Infinity, delayMs: 10 });
    // Appends from several producers: some join the failing group, some wait behind it.
    const results = await appendConcurrently(wal, 40);
    for (const [index, result] of results.entries()) {
      assert.equal(result.status, 'rejected', `append #${index} was not written, so it is not acknowledged`);
      const reason = (result as { reason: unknown }).reason;
      assertWalFailed(reason, `append #${index}`);
      assert.equal(rootCode(reason), 'EIO', 'the cause is the EIO');
    }
    // Which write path ran: blocking writes on this thread, or the thread pool's.
    const counts = faulty.countsFor(SEGMENT_FILE);
    assert.equal(counts.writeSync > 0, blockingWrites, `segment writes: ${counts.write} on the pool, ${counts.writeSync} blocking`);
    await checkFailStop(wal);
    await settle(wal.close(), 'close() after the failure');
    faulty.disarm();
    await reopenAndCheck(acknowledged);
  });
  }

  test('sync() under { batch } leaves no unsynced segment bytes and moves durableOffset to nextOffset', async () => {
    const wal = await open({ fsync: { batch: { intervalMs: 60_000 } }, fileSystem: faulty, segmentBytes: 4096 });
    await appendSome(wal, 30);
    assert.ok(faulty.unsyncedBytes(SEGMENT_FILE) > 0, '{ batch } acknowledges before syncing');
    await wal.sync();
    assert.equal(wal.durableOffset, wal.nextOffset);
    // Seals go on after sync() returns, each writing an index trailer after
    // its segment's sync; truncateBefore(0) deletes nothing but waits for them.
    await wal.truncateBefore(0);
    // What stays unsynced is the trailers, caches that a scan rebuilds; every frame is synced.
    let trailerBytes = 0;
    for (const segment of await wal.segments()) {
      if (segment.sealed) trailerBytes += fs.statSync(segment.path).size - segment.sizeBytes;
    }
    assert.ok(trailerBytes > 0, 'sealed segments carry index trailers');
    assert.equal(faulty.unsyncedBytes(SEGMENT_FILE), trailerBytes);
  });

  test("sync() rejects and the log fails when fdatasync fails under { batch }", async () => {
    const wal = await open({ fsync: { batch: { intervalMs: 60_000 } }, fileSystem: faulty });
    await appendSome(wal, 5);
    await wal.sync();
    const durableBefore = wal.durableOffset;
    faulty.arm({ call: 'datasync', code: 'EIO', times: Infinity });
    const unsynced = await appendSome(wal, 5);
    assert.equal(unsynced.length, 5, "{ batch } acknowledges after the write, before any sync");
    const syncError = await expectWalFailed(wal.sync(), 'sync()');
    assert.equal(rootCode(syncError), 'EIO');
    assert.equal(wal.durableOffset, durableBefore, 'durableOffset does not move past what was synced');
    assert.ok(faulty.fired.length >= 1, 'the armed fdatasync was reached');
    await checkFailStop(wal);
  });

  test('the { batch } interval sync fails the log by itself and is never retried', async () => {
    const intervalMs = 10;
    const wal = await open({ fsync: { batch: { intervalMs } }, fileSystem: faulty });
    await appendSome(wal, 3);
    await wal.sync();
    faulty.arm({ call: 'datasync', code: 'EIO', times: Infinity });
    // The timer's sync may fail while these are written; an append that a
    // late sync holds back then rejects with the failure.
    await appendSome(wal, 3).catch((error: unknown) => assertWalFailed(error, 'an append held back by the failed sync'));
    const deadline = Date.now() + HANG_MS;
    while (wal.state !== 'failed' && Date.now() < deadline) await wait(intervalMs);
    assert.equal(wal.state, 'failed', 'the timer-driven fdatasync failure fails the log');
    const datasyncCount = faulty.countsFor(SEGMENT_FILE).datasync;
    await wait(intervalMs * 10);
    assert.equal(faulty.countsFor(SEGMENT_FILE).datasync, datasyncCount, 'no fdatasync of a segment runs after the failed one');
    await checkFailStop(wal);
  });

  test('a failing { batch } sync() stops the log: appends written before it stay acknowledged, none is acknowledged after it', async () => {
    const wal = await open({ fsync: { batch: { intervalMs: 60_000 } }, fileSystem: faulty });
    await appendSome(wal, 3);
    faulty.arm({ call: 'datasync', code: 'EIO', times: Infinity, delayMs: 30 });
    const syncing = settle(wal.sync(), 'sync()');
    await wait(5);
    // Written while the sync runs: { batch } acknowledges after the write.
    const during = await appendConcurrently(wal, 10);
    const syncResult = await syncing;
    assert.equal(syncResult.status, 'rejected');
    assertWalFailed((syncResult as { reason: unknown }).reason, 'sync()');
    const acknowledgedCount = during.findIndex((result) => result.status === 'rejected');
    const prefix = acknowledgedCount === -1 ? during.length : acknowledgedCount;
    assert.ok(during.slice(prefix).every((result) => result.status === 'rejected'), 'after the first rejection every append rejects');
    assert.equal(wal.nextOffset, 3 + prefix, 'nextOffset counts exactly the acknowledged appends');
    // After the failure nothing is acknowledged: a new append, batch and sync all reject.
    await checkFailStop(wal);
  });

  test('append() rejects with WAL_FAILED whose cause is ENOSPC, and reopen recovers every acknowledged record', async () => {
    const wal = await open({ fsync: 'always', fileSystem: faulty, segmentBytes: 8 * 1024 });
    const acknowledged = await appendSome(wal, 60);
    faulty.arm({ call: 'write', code: 'ENOSPC', times: Infinity });
    const results = await appendConcurrently(wal, 20);
    const reasons = results.map((result) => (result.status === 'rejected' ? result.reason : null));
    assert.ok(reasons.every((reason) => reason !== null), 'no append is acknowledged once the disk is full');
    const error = reasons[0];
    assertWalFailed(error, 'the append that hit ENOSPC');
    assert.equal((error.cause as NodeJS.ErrnoException | undefined)?.code, 'ENOSPC', 'cause is the ENOSPC errno error');
    assert.match(error.message, /\S/, 'the message says what failed');
    await checkFailStop(wal);
    await settle(wal.close(), 'close() after ENOSPC');
    faulty.disarm();
    await reopenAndCheck(acknowledged);
  });

  test('a log that fails at any I/O call stops cleanly and reopens with every acknowledged record', async (t) => {
    const seed = Number(process.env['TIDEWAL_FAULT_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    const roundCount = Number(process.env['TIDEWAL_FAULT_ROUNDS'] ?? 40);
    t.diagnostic(`seed ${seed} (replay with TIDEWAL_FAULT_SEED=${seed})`);
    const random = prng(seed);
    let firedRounds = 0;
    for (let round = 0; round < roundCount; round += 1) {
      const roundDir = fs.mkdtempSync(path.join(dir, `round-${round}-`));
      const fault = randomFault(random);
      const fsync = (['always', 'os', { batch: { intervalMs: 1 + (random() % 5) } }] as const)[random() % 3] ?? 'always';
      const options = {
        dir: roundDir,
        fsync,
        segmentBytes: 4096,
        preallocate: random() % 3 === 0,
        ...(random() % 2 === 0 ? { segmentMaxRecords: 3 + (random() % 10) } : {}),
        ...(fsync === 'always' && random() % 2 === 0 ? { blockingWrites: true } : {}),
      };
      const { dir: _dir, ...shown } = options;
      const context = `seed ${seed} round ${round}: fault ${JSON.stringify(fault)}, options ${JSON.stringify(shown)}`;
      try {
        if (await failAndRecover(roundDir, options, fault, random)) firedRounds += 1;
      } catch (error) {
        if (error instanceof Error) error.message = `${context}: ${error.message}`;
        throw error;
      }
    }
    // A round whose fault never fired (its call never came) checks only the reopen.
    assert.ok(firedRounds >= roundCount * 0.6, `the fault fired in ${firedRounds} of ${roundCount} rounds`);
  });

  test('short writes are finished: every record reads back intact, before and after reopen', async () => {
    const wal = await open({ fsync: 'always', fileSystem: faulty, segmentBytes: 16 * 1024 });
    // Every write is cut short: to 1000 bytes, and the first 30 to 3 bytes.
    faulty.arm({ call: 'write', shortWrite: 3, times: 30 });
    faulty.arm({ call: 'write', shortWrite: 1000, times: Infinity });
    const acknowledged: number[] = [];
    for (let round = 0; round < 10; round += 1) {
      const results = await appendConcurrently(wal, 8);
      for (const result of results) {
        assert.equal(result.status, 'fulfilled', `a short write is not an error: ${String((result as { reason?: unknown }).reason)}`);
        acknowledged.push((result as { value: { offset: number } }).value.offset);
      }
      const base = wal.nextOffset;
      acknowledged.push(...(await wal.appendBatch([recordFor(SEED, base), recordFor(SEED, base + 1)])));
    }
    assert.ok(faulty.fired.length > 30, `writes were cut short (${faulty.fired.length} times)`);
    assert.equal(wal.state, 'open');
    let expected = 0;
    for await (const record of wal.read({ from: 0 })) {
      assert.equal(record.offset, expected);
      assert.ok(Buffer.from(record.data).equals(recordFor(SEED, record.offset)), `record ${record.offset} reads back intact`);
      expected += 1;
    }
    assert.equal(expected, acknowledged.length);
    await wal.close();
    faulty.disarm();
    const { nextOffset } = await reopenAndCheck(acknowledged);
    assert.equal(nextOffset, acknowledged.length, 'nothing more and nothing less than was acknowledged');
  });

  test('a write that makes no progress fails the log instead of spinning', async () => {
    const wal = await open({ fsync: 'always', fileSystem: faulty });
    const acknowledged = await appendSome(wal, 2);
    faulty.arm({ call: 'write', shortWrite: 0, times: Infinity });
    await expectWalFailed(wal.append(recordFor(SEED, 2)), 'the append whose write returned 0');
    assert.ok(faulty.fired.length < 100, `the engine gave up after ${faulty.fired.length} zero-byte writes`);
    await checkFailStop(wal);
    await settle(wal.close(), 'close()');
    faulty.disarm();
    await reopenAndCheck(acknowledged);
  });

  test('close() after a failure settles without hanging and frees the folder for a reopen', async () => {
    const wal = await open({ fsync: 'always', fileSystem: faulty });
    const acknowledged = await appendSome(wal, 10);
    faulty.arm({ call: 'write', code: 'EIO', times: Infinity });
    faulty.arm({ call: 'datasync', code: 'EIO', times: Infinity });
    await expectWalFailed(wal.append(Buffer.from('lost')), 'the append that hit EIO');
    const closed = await settle(wal.close(), 'close() after the failure');
    if (closed.status === 'rejected') assert.ok(closed.reason instanceof WalError, `close() rejects with a WalError, got ${String(closed.reason)}`);
    assert.notEqual(wal.state, 'open');
    const again = await settle(wal.close(), 'a second close()');
    assert.ok(again.status === 'fulfilled' || again.reason instanceof WalError);
    faulty.disarm();
    await reopenAndCheck(acknowledged);
  });

  test('close() rejects with WAL_FAILED when its final fdatasync fails, and pending appends settle', async () => {
    const wal = await open({ fsync: { batch: { intervalMs: 60_000 } }, fileSystem: faulty });
    const acknowledged = await appendSome(wal, 5);
    await wal.sync();
    faulty.arm({ call: 'datasync', code: 'EIO', times: Infinity, delayMs: 10 });
    const pending = appendConcurrently(wal, 5);
    const closed = await settle(wal.close(), 'close() whose sync fails');
    assert.equal(closed.status, 'rejected', 'close() cannot report a clean shutdown when its sync failed');
    assertWalFailed((closed as { reason: unknown }).reason, 'close()');
    await pending;
    faulty.disarm();
    // The failed close left no clean-shutdown marker: reopen scans and finds
    // the synced records (and maybe the written ones: they were in the page cache).
    const { nextOffset } = await reopenAndCheck(acknowledged);
    assert.ok(nextOffset >= acknowledged.length);
  });

  // After a failed fdatasync the kernel may report the next one on the same
  // file as a success for pages it dropped: close() must not take its own
  // sync's success as durability while another sync failed, and must not
  // write the clean marker that would let the next open skip recovery.
  test('close() does not mark a clean shutdown when the { batch } timer\'s sync fails while close() runs', async () => {
    const wal = await open({ fsync: { batch: { intervalMs: 5 } }, fileSystem: faulty });
    const acknowledged = await appendSome(wal, 5);
    // Synced before the faults are armed: appends made while a failing sync
    // runs late wait for it and fail, which a slow machine made happen here.
    await wal.sync();
    faulty.arm({ call: 'datasync', code: 'EIO', delayMs: 30, path: SEGMENT_FILE });
    // Whatever fdatasync comes next (close()'s own, if it ran) succeeds, later.
    faulty.arm({ call: 'datasync', delayMs: 100, path: SEGMENT_FILE });
    // Acknowledged at its write; the timer's sync of it starts 5 ms later and fails.
    acknowledged.push((await wal.append(recordFor(SEED, wal.nextOffset))).offset);
    while (faulty.fired.length === 0) await wait(1);
    const closed = await settle(wal.close(), 'close() beside a failing timer sync');
    assert.equal(closed.status, 'rejected', 'close() cannot report a clean shutdown after a sync failed');
    assertWalFailed((closed as { reason: unknown }).reason, 'close()');
    assert.equal(faulty.fired[0]?.effect, 'EIO', `the timer's sync failed first, fired: ${JSON.stringify(faulty.fired)}`);
    faulty.disarm();
    assert.equal((await reopenAndCheck(acknowledged)).clean, false, 'the next open runs recovery');
  });

  test("close() does not mark a clean shutdown when a sync() in flight fails under 'os'; that sync() rejects too", async () => {
    const wal = await open({ fsync: 'os', fileSystem: faulty });
    const acknowledged = await appendSome(wal, 5);
    faulty.arm({ call: 'datasync', code: 'EIO', delayMs: 30, path: SEGMENT_FILE });
    faulty.arm({ call: 'datasync', delayMs: 100, path: SEGMENT_FILE });
    const synced = settle(wal.sync(), 'sync() whose fdatasync fails');
    const closed = await settle(wal.close(), 'close() beside a failing sync()');
    assert.equal((await synced).status, 'rejected', 'sync() reports its failure');
    assert.equal(closed.status, 'rejected', 'close() cannot report a clean shutdown after a sync failed');
    assertWalFailed((closed as { reason: unknown }).reason, 'close()');
    assert.equal(wal.durableOffset, 0, 'durableOffset did not move past the failure');
    faulty.disarm();
    assert.equal((await reopenAndCheck(acknowledged)).clean, false, 'the next open runs recovery');
  });

  test('a sync() called just before close() resolves once close() has made everything durable', async () => {
    const wal = await open({ fsync: { batch: { intervalMs: 60_000 } }, fileSystem: faulty });
    const acknowledged = await appendSome(wal, 5);
    const pending = appendConcurrently(wal, 5);
    const synced = settle(wal.sync(), 'sync() racing close()');
    const closed = await settle(wal.close(), 'close()');
    assert.equal(closed.status, 'fulfilled');
    assert.equal((await synced).status, 'fulfilled');
    for (const result of await pending) if (result.status === 'fulfilled') acknowledged.push(result.value.offset);
    assert.equal(acknowledged.length, 10);
    assert.equal((await reopenAndCheck(acknowledged)).clean, true, 'a clean close reopens without recovery');
  });

  test("an open after a crash syncs the parent folder, which holds the log folder's name", async () => {
    // A process killed between creating a new log's first segment and
    // syncing the parent left the folder's name unsynced; the next open
    // finds a segment and must not take the folder for an old one.
    const live = await Wal.open({ dir: path.join(dir, 'live'), fsync: 'always' });
    await live.append(Buffer.from('acknowledged'));
    const image = path.join(dir, 'image', 'log');
    fs.mkdirSync(image, { recursive: true });
    for (const name of fs.readdirSync(live.dir)) if (name !== 'LOCK') fs.writeFileSync(path.join(image, name), fs.readFileSync(path.join(live.dir, name)));
    await live.close();
    const reopened = await Wal.open({ dir: image, fileSystem: faulty, fsync: 'always' });
    wals.push(reopened);
    assert.equal(reopened.recovery.clean, false, 'the copy is a crash image');
    assert.equal(reopened.nextOffset, 1);
    const parent = path.dirname(image);
    assert.ok(faulty.countsFor(exactPath(parent)).syncDir >= 1, `open() synced ${parent}`);
  });

  test('an open that creates missing folders syncs each new one into its parent before it returns', async () => {
    const deep = path.join(dir, 'a', 'b', 'log');
    const wal = await Wal.open({ dir: deep, fileSystem: faulty, fsync: 'always' });
    wals.push(wal);
    for (const parent of [dir, path.join(dir, 'a'), path.join(dir, 'a', 'b')]) {
      assert.equal(faulty.countsFor(exactPath(parent)).syncDir, 1, `open() synced ${parent}, which holds a new folder's name, once`);
    }
  });

  test('an open of an empty folder it did not create (a killed opener may have made it) syncs the folder into its parent', async () => {
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    const wal = await Wal.open({ dir: empty, fileSystem: faulty, fsync: 'always' });
    wals.push(wal);
    assert.equal(wal.recovery.created, true);
    assert.equal(faulty.countsFor(exactPath(dir)).syncDir, 1, `open() synced ${dir}, which holds the folder's name`);
  });

  test('open() that fails to write its LOCK file leaves the folder openable', async () => {
    faulty.arm({ call: 'write', code: 'ENOSPC', path: /LOCK$/ });
    await assert.rejects(Wal.open({ dir, fileSystem: faulty }), (error: unknown) => rootCode(error) === 'ENOSPC');
    assert.equal(faulty.fired.length, 1, 'open() wrote the LOCK file');
    await reopenAndCheck([]);
  });

  test('close() that cannot remove its LOCK file either rejects or leaves the folder reopenable in this process', async () => {
    const wal = await open({ fsync: 'always', fileSystem: faulty });
    const acknowledged = await appendSome(wal, 3);
    faulty.arm({ call: 'unlink', code: 'EIO', path: /LOCK$/ });
    const closed = await settle(wal.close(), 'close() whose LOCK removal fails');
    assert.equal(faulty.fired.length, 1, 'close() removes the LOCK file');
    if (closed.status === 'fulfilled') {
      // close() reported success, so the folder must be usable again.
      await reopenAndCheck(acknowledged);
    } else {
      assert.ok(closed.reason instanceof WalError, `close() rejects with a WalError, got ${String(closed.reason)}`);
    }
  });

  test('close() after a failure waits for the I/O still in flight before it closes the files', async () => {
    const wal = await open({ fsync: 'always', fileSystem: faulty, segmentBytes: 4096, preallocate: true });
    await wal.append(Buffer.alloc(3000, 1));
    // Sealing segment 0 trims its preallocated tail and fails; meanwhile the
    // first write to segment 1 is slow, so it is still in flight at the failure.
    faulty.arm({ call: 'truncate', code: 'EIO', path: '00000000000000000000.wal' });
    // Segment 1 is the first prepared file; its writes start before its
    // rename. The first is held until the test releases it, after the seal's
    // truncate has failed.
    const writeGate = gate();
    faulty.arm({ call: 'write', until: writeGate.opened, path: `prepared-${process.pid}-1.tmp` });
    await expectWalFailed(wal.append(Buffer.alloc(3000, 2)), 'the append whose rotation failed');
    await until(() => faulty.fired.length === 2);
    const closing = settle(wal.close(), 'close()');
    assert.equal(await within(closing, 100), 'timeout', 'close() waits for the held write');
    writeGate.open();
    await closing;
    assert.deepEqual(faulty.usedAfterClose, [], 'no write reaches a file after close() closed it (its descriptor may belong to another file by then)');
  });

  test('a segment file whose preparation fails (ENOSPC filling zeros) is removed at once, not left until the next open', async () => {
    const wal = await open({ fsync: 'always', fileSystem: faulty, segmentBytes: 4096, preallocate: true });
    // The file prepared at open is ready; every later one fails while it is filled.
    faulty.arm({ call: 'write', code: 'ENOSPC', path: new RegExp(`${PREPARED_FILE_PREFIX}${process.pid}-([2-9]|\\d{2,})\\.tmp$`), times: Infinity });
    const acknowledged: number[] = [];
    const failure = await appendUntilFailure(wal, acknowledged);
    assertWalFailed(failure, 'the append whose rotation found no prepared file');
    assert.equal((failure.cause as NodeJS.ErrnoException | undefined)?.code, 'ENOSPC');
    assert.ok(faulty.fired.length > 0, 'the fault fired');
    await settle(wal.close(), 'close()');
    assert.deepEqual(fs.readdirSync(dir).filter((name) => name.startsWith(PREPARED_FILE_PREFIX)), [], 'no prepared file is left');
    faulty.disarm();
    await reopenAndCheck(acknowledged);
  });

  test('a failed folder fsync while rotating fails the log rather than acknowledging records in an undurable file', async () => {
    const wal = await open({ fsync: 'always', fileSystem: faulty, segmentBytes: 4096 });
    const acknowledged = await appendSome(wal, 3);
    faulty.arm({ call: 'syncDir', code: 'EIO', times: Infinity });
    const failure = await appendUntilFailure(wal, acknowledged);
    assert.ok(faulty.fired.length >= 1, 'rotation synced the folder');
    assertWalFailed(failure, 'the append after the failed folder fsync');
    assert.equal(rootCode(failure), 'EIO');
    await checkFailStop(wal);
    await settle(wal.close(), 'close()');
    faulty.disarm();
    await reopenAndCheck(acknowledged);
  });

  for (const fsync of ['os', { batch: { intervalMs: 2 } }] as const) {
    test(`a failed index-trailer write while sealing stops the log under ${JSON.stringify(fsync)} (a page-cache write, never retried)`, async () => {
      const wal = await open({ fsync, fileSystem: faulty, segmentMaxRecords: 2 });
      // Segment 0 (its header is written at open) takes two groups; the next write to it is its trailer.
      faulty.arm({ call: 'write', path: /00000000000000000000\.wal$/, skip: 2, code: 'EIO' });
      // The third append rotates and starts segment 0's seal, which can fail the log before that append is acknowledged.
      const acknowledged: number[] = [];
      const failure = await appendUntilFailure(wal, acknowledged);
      assert.equal(faulty.fired.length, 1, 'the trailer write failed');
      assertWalFailed(failure, 'an append after the failed seal');
      assert.match((failure as Error).message, /seal segment/);
      assert.equal(rootCode(failure), 'EIO');
      await checkFailStop(wal);
      await settle(wal.close(), 'close()');
      faulty.disarm();
      await reopenAndCheck(acknowledged);
    });
  }

  test('truncateBefore() whose unlink or folder fsync fails stops the log with WAL_FAILED; reopen finds a consistent log', async () => {
    for (const call of ['unlink', 'syncDir'] as const) {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir);
      faulty.disarm();
      const wal = await open({ fsync: 'always', fileSystem: faulty, segmentMaxRecords: 5 });
      const acknowledged = await appendSome(wal, 30);
      const firedBefore = faulty.fired.length;
      // Every folder fsync fails from now on: the segment preparer, running
      // beside the truncation, may meet the fault first.
      faulty.arm(call === 'unlink' ? { call, code: 'EIO', path: SEGMENT_FILE } : { call, code: 'EIO', times: Infinity });
      const failure = await expectWalFailed(wal.truncateBefore(12), `truncateBefore() with a failing ${call}`);
      assert.equal(rootCode(failure), 'EIO');
      assert.ok(faulty.fired.length - firedBefore >= 1);
      // (A file being prepared ahead when the failure came may still be finished.)
      await checkFailStop(wal);
      const callsAfterFailure = faulty.countsFor(dir);
      await expectWalFailed(wal.truncateBefore(22), 'a later truncateBefore()');
      await wait(20);
      const callsLater = faulty.countsFor(dir);
      assert.equal(callsLater.syncDir, callsAfterFailure.syncDir, 'no folder fsync after the failure (never retried)');
      assert.equal(callsLater.unlink, callsAfterFailure.unlink, 'no segment is deleted after the failure');
      await settle(wal.close(), 'close()');
      faulty.disarm();
      const { firstOffset, nextOffset } = await reopenAndCheck(acknowledged);
      assert.ok(firstOffset <= 10, `${call}: nothing at or after the cut is gone (firstOffset ${firstOffset})`);
      assert.equal(nextOffset, 30);
    }
  });

  test("truncateBefore() waits for the active segment's rename before it removes the segments below it", async () => {
    const wal = await open({ fsync: 'always', fileSystem: faulty, segmentMaxRecords: 5 });
    await appendSome(wal, 12);
    // The rotation at offset 15 names its prepared file; that rename is held.
    const renameGate = gate();
    faulty.arm({ call: 'rename', path: new RegExp(`${PREPARED_FILE_PREFIX}.*\\.tmp$`), until: renameGate.opened });
    await appendSome(wal, 4);
    await until(() => faulty.fired.length === 1);
    const truncating = wal.truncateBefore(15);
    assert.equal(await within(truncating, 100), 'timeout', 'the truncation waits for the rename');
    assert.equal(faulty.countsFor(SEGMENT_FILE).unlink, 0, 'no segment is removed while the active one has no name');
    renameGate.open();
    await truncating;
    assert.equal(wal.firstOffset, 15);
    assert.equal(faulty.countsFor(SEGMENT_FILE).unlink, 3);
  });

  test('close() waits for a truncateBefore() in flight: no file of the log is removed after close() resolves', async () => {
    const wal = await open({ fsync: 'always', fileSystem: faulty, segmentMaxRecords: 5 });
    await appendSome(wal, 30);
    faulty.arm({ call: 'unlink', path: SEGMENT_FILE, delayMs: 30, times: Infinity });
    const truncating = settle(wal.truncateBefore(25), 'truncateBefore()');
    await wait(5);
    await settle(wal.close(), 'close()');
    const unlinksAtClose = faulty.countsFor(SEGMENT_FILE).unlink;
    const filesAtClose = fs.readdirSync(dir).sort();
    assert.equal((await truncating).status, 'fulfilled');
    await wait(50);
    assert.equal(faulty.countsFor(SEGMENT_FILE).unlink, unlinksAtClose, 'no unlink after close() resolved');
    assert.deepEqual(fs.readdirSync(dir).sort(), filesAtClose);
    faulty.disarm();
    const reopened = await open({ fsync: 'always' });
    assert.equal(reopened.firstOffset, 25);
    assert.equal(reopened.nextOffset, 30);
  });

  test("under 'os' a sync() racing a rotation never fdatasyncs a descriptor the seal closed", async () => {
    const wal = await open({ fsync: 'os', fileSystem: faulty, segmentMaxRecords: 3 });
    await wal.append('a');
    await wal.append('b');
    // The sync's fdatasync of the active segment is slow (a busy thread pool) ...
    faulty.arm({ call: 'datasync', delayMs: 100 });
    const syncing = settle(wal.sync(), 'sync()');
    await wait(10);
    // ... while appends rotate, and the seal of that segment would close its descriptor.
    await wal.append('c');
    await wal.append('d');
    assert.equal((await syncing).status, 'fulfilled');
    assert.deepEqual(faulty.usedAfterClose, []);
    assert.equal(wal.state, 'open');
    assert.equal(wal.durableOffset >= 2, true);
  });

  test('an open that fails part way closes every descriptor it opened', async () => {
    const cases: [name: string, prepare: 'clean' | 'crashed' | 'empty', spec: FaultSpec][] = [
      ['a clean open whose clean-marker unlink fails', 'clean', { call: 'unlink', code: 'EIO', path: 'clean-shutdown' }],
      ['an open after a crash whose clean-marker unlink fails', 'crashed', { call: 'unlink', code: 'EIO', path: 'clean-shutdown' }],
      ['a new log whose parent folder fsync fails', 'empty', { call: 'syncDir', code: 'EIO' }],
    ];
    for (const [name, prepare, spec] of cases) {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir);
      if (prepare !== 'empty') {
        const first = await Wal.open({ dir, fsync: 'always', segmentMaxRecords: 5 });
        for (let index = 0; index < 12; index += 1) await first.append(`r${index}`);
        await first.close();
        if (prepare === 'crashed') fs.rmSync(path.join(dir, 'clean-shutdown'));
      }
      const counting = new FaultyFileSystem(new NodeFileSystem());
      counting.arm(spec);
      const opened = await settle(Wal.open({ dir, fsync: 'always', segmentMaxRecords: 5, fileSystem: counting }), name);
      assert.equal(opened.status, 'rejected', `${name}: open fails`);
      assertWalFailed((opened as { reason: unknown }).reason, name);
      await wait(20);
      const counts = counting.countsFor(/./);
      assert.equal(counts.close, counts.open, `${name}: ${counts.open} opens, ${counts.close} closes`);
    }
  });
});
