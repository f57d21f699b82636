/**
 * Tests of option validation: every option's defaults and every kind of bad
 * value, each refused with INVALID_ARGUMENT and a message naming the option.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  OPEN_FILES_DEFAULT_MAX,
  PENDING_SIZE_BYTES_DEFAULT_MAX,
  RECORD_SIZE_BYTES_DEFAULT_MAX,
  RECORD_SIZE_BYTES_LIMIT,
  SEGMENT_AGE_MS_DEFAULT_MAX,
  SEGMENT_SIZE_BYTES_DEFAULT,
  SEGMENT_SIZE_BYTES_MIN,
} from '../constants.js';
import { InvalidArgumentError, WalError } from '../errors.js';
import { systemClock } from '../io/clock.js';
import { NodeFileSystem } from '../io/node-file-system.js';
import { describe as describeValue, resolveWalOptions } from './options.js';

function assertInvalid(options: unknown, message: RegExp): void {
  assert.throws(
    () => resolveWalOptions(options),
    (error: unknown) => {
      assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(error)}`);
      assert.ok(error instanceof WalError);
      assert.equal(error.code, 'INVALID_ARGUMENT');
      assert.match(error.message, /^Cannot open log: /);
      assert.match(error.message, message);
      return true;
    },
  );
}

describe('resolveWalOptions', () => {
  test('fills in every default when only dir is given', () => {
    const resolved = resolveWalOptions({ dir: '/tmp/x' });
    assert.equal(resolved.dir, '/tmp/x');
    assert.equal(resolved.syncMode, 'always');
    assert.equal(resolved.segmentBytes, SEGMENT_SIZE_BYTES_DEFAULT);
    assert.equal(resolved.segmentMaxAgeMs, SEGMENT_AGE_MS_DEFAULT_MAX);
    assert.equal(resolved.segmentMaxRecords, Infinity);
    assert.equal(resolved.maxRecordBytes, RECORD_SIZE_BYTES_DEFAULT_MAX);
    assert.equal(resolved.maxPendingBytes, PENDING_SIZE_BYTES_DEFAULT_MAX);
    assert.equal(resolved.maxOpenFiles, OPEN_FILES_DEFAULT_MAX);
    assert.equal(resolved.preallocate, true, 'preallocation is on by default for synced appends');
    assert.equal(resolveWalOptions({ dir: '/tmp/x', fsync: 'os' }).preallocate, false, 'and off under fsync os');
    assert.equal(resolveWalOptions({ dir: '/tmp/x', fsync: { batch: { intervalMs: 5 } } }).preallocate, false, 'and under batch');
    assert.equal(resolved.blockingWrites, false, 'durable writes go to the thread pool by default');
    assert.equal(resolved.repair, false);
    assert.ok(resolved.fileSystem instanceof NodeFileSystem);
    assert.equal(typeof resolved.logger, 'object');
    assert.equal(resolved.clock, systemClock);
  });

  test('takes every valid option as given', () => {
    const fileSystem = new NodeFileSystem();
    const logger = { info() {}, warn() {}, error() {}, debug() {} };
    const clock = { monotonicMs: () => 1, wallMs: () => 2 };
    const resolved = resolveWalOptions({
      dir: 'rel/dir',
      fsync: 'os',
      segmentBytes: SEGMENT_SIZE_BYTES_MIN,
      segmentMaxAgeMs: 1,
      segmentMaxRecords: 10,
      maxRecordBytes: 1,
      maxPendingBytes: 64,
      maxOpenFiles: 1,
      preallocate: true,
      blockingWrites: true,
      repair: true,
      fileSystem,
      logger,
      clock,
    });
    assert.equal(resolved.syncMode, 'os');
    assert.equal(resolved.segmentBytes, SEGMENT_SIZE_BYTES_MIN);
    assert.equal(resolved.segmentMaxAgeMs, 1);
    assert.equal(resolved.segmentMaxRecords, 10);
    assert.equal(resolved.maxRecordBytes, 1);
    assert.equal(resolved.maxPendingBytes, 64);
    assert.equal(resolved.maxOpenFiles, 1);
    assert.equal(resolved.preallocate, true);
    assert.equal(resolved.blockingWrites, true);
    assert.equal(resolved.repair, true);
    assert.equal(resolved.fileSystem, fileSystem);
    // The caller's logger, shielded (a throwing logger must not break the log: logger.ts): calls reach it.
    const calls: string[] = [];
    logger.warn = () => void calls.push('warn');
    resolved.logger.warn({}, 'reaches the caller');
    assert.deepEqual(calls, ['warn']);
    assert.equal(resolved.clock, clock);
  });

  const fsyncTable: Array<[value: unknown, mode: 'always' | 'batch' | 'os', intervalMs: number]> = [
    [undefined, 'always', 0],
    ['always', 'always', 0],
    ['os', 'os', 0],
    [{ batch: { intervalMs: 1 } }, 'batch', 1],
    [{ batch: { intervalMs: 5 } }, 'batch', 5],
    [{ batch: { intervalMs: 3_600_000 } }, 'batch', 3_600_000],
  ];
  for (const [value, mode, intervalMs] of fsyncTable) {
    test(`fsync ${JSON.stringify(value) ?? 'undefined'} resolves to mode ${mode} with interval ${intervalMs} ms`, () => {
      const resolved = resolveWalOptions(value === undefined ? { dir: 'd' } : { dir: 'd', fsync: value });
      assert.equal(resolved.syncMode, mode);
      assert.equal(resolved.batchIntervalMs, intervalMs);
    });
  }

  test('segmentMaxRecords accepts Infinity explicitly', () => {
    assert.equal(resolveWalOptions({ dir: 'd', segmentMaxRecords: Infinity }).segmentMaxRecords, Infinity);
  });

  test('the default pending budget grows to hold two of the largest records', () => {
    const maxRecordBytes = 100 * 1024 * 1024;
    const resolved = resolveWalOptions({ dir: 'd', maxRecordBytes });
    assert.ok(resolved.maxPendingBytes >= 2 * (maxRecordBytes + 32));
  });

  test('extra known option names are accepted when a caller passes them, and only shown when they are public', () => {
    assert.doesNotThrow(() => resolveWalOptions({ dir: 'd', topic: 'x' }, { action: 'open log', internal: new Set(['topic']) }));
    assertInvalid({ dir: 'd', topic: 'x' }, /unknown option "topic"/);
    assert.throws(() => resolveWalOptions({ dir: 'd', partitons: 3 }, { action: 'open manager', alsoKnown: new Set(['partitions']) }), {
      code: 'INVALID_ARGUMENT',
      message: /^Cannot open manager: unknown option "partitons"; known options are partitions, dir, fsync/,
    });
  });

  test('a fileSystem or logger without the methods tidewal calls is refused before anything runs', () => {
    assertInvalid({ dir: 'd', fileSystem: {} }, /"fileSystem" must have the methods open, readFile, rename, unlink, mkdir, readdir, syncDir; it lacks open/);
    assertInvalid({ dir: 'd', logger: { info() {}, warn() {} } }, /"logger" must have the methods debug, info, warn, error; it lacks debug, error/);
    assertInvalid({ dir: 'd', logger: 'console' }, /"logger" must be an object/);
  });

  test('a dir with a NUL byte is refused as bad input, not met as an I/O error', () => {
    assertInvalid({ dir: 'data\0/log' }, /"dir" must be a non-empty path without NUL bytes, got a path with a NUL byte/);
  });

  const notObjects: unknown[] = [undefined, null, 'dir', 42, true, Symbol('x')];
  for (const value of notObjects) {
    test(`refuses options that are ${describeValue(value)} instead of an object`, () => {
      assertInvalid(value, /options must be an object/);
    });
  }

  const badTable: Array<[name: string, options: Record<string, unknown>, message: RegExp]> = [
    ['an unknown option', { dir: 'd', segmentSize: 4096 }, /unknown option "segmentSize"/],
    ['an unknown option spelled in another case', { dir: 'd', Fsync: 'os' }, /unknown option "Fsync"/],
    ['a missing dir', {}, /"dir" must be a non-empty path/],
    ['an empty dir', { dir: '' }, /"dir"/],
    ['a numeric dir', { dir: 5 }, /"dir"/],
    ['a null dir', { dir: null }, /"dir"/],
    ['a Buffer dir', { dir: Buffer.from('d') }, /"dir"/],
    ['fsync true', { dir: 'd', fsync: true }, /"fsync"/],
    ['fsync "never"', { dir: 'd', fsync: 'never' }, /"fsync"/],
    ['fsync "ALWAYS"', { dir: 'd', fsync: 'ALWAYS' }, /"fsync"/],
    ['fsync null', { dir: 'd', fsync: null }, /"fsync"/],
    ['fsync batch without intervalMs', { dir: 'd', fsync: { batch: {} } }, /intervalMs/],
    ['fsync batch with intervalMs 0', { dir: 'd', fsync: { batch: { intervalMs: 0 } } }, /intervalMs/],
    ['fsync batch with a negative intervalMs', { dir: 'd', fsync: { batch: { intervalMs: -5 } } }, /intervalMs/],
    ['fsync batch with a fractional intervalMs', { dir: 'd', fsync: { batch: { intervalMs: 1.5 } } }, /intervalMs/],
    ['fsync batch with an hour and a millisecond', { dir: 'd', fsync: { batch: { intervalMs: 3_600_001 } } }, /intervalMs/],
    ['fsync batch with a string intervalMs', { dir: 'd', fsync: { batch: { intervalMs: '5' } } }, /intervalMs/],
    ['fsync batch null', { dir: 'd', fsync: { batch: null } }, /intervalMs/],
    ['fsync batch with a misspelt key inside', { dir: 'd', fsync: { batch: { intervalMs: 5, intervalMS: 1 } } }, /"fsync" takes \{ batch: \{ intervalMs \} \} and nothing else, got a key "intervalMS"/],
    ['fsync batch with a key beside batch', { dir: 'd', fsync: { batch: { intervalMs: 5 }, always: 1 } }, /got a key "always"/],
    ['segmentBytes below the minimum', { dir: 'd', segmentBytes: SEGMENT_SIZE_BYTES_MIN - 1 }, /"segmentBytes"/],
    ['segmentBytes zero', { dir: 'd', segmentBytes: 0 }, /"segmentBytes"/],
    ['segmentBytes negative', { dir: 'd', segmentBytes: -4096 }, /"segmentBytes"/],
    ['segmentBytes fractional', { dir: 'd', segmentBytes: 4096.5 }, /"segmentBytes"/],
    ['segmentBytes NaN', { dir: 'd', segmentBytes: NaN }, /"segmentBytes"/],
    ['segmentBytes Infinity', { dir: 'd', segmentBytes: Infinity }, /"segmentBytes"/],
    ['segmentBytes as a string', { dir: 'd', segmentBytes: '65536' }, /"segmentBytes"/],
    ['segmentBytes of 4 GiB', { dir: 'd', segmentBytes: 2 ** 32 }, /"segmentBytes"/],
    ['segmentMaxAgeMs zero', { dir: 'd', segmentMaxAgeMs: 0 }, /"segmentMaxAgeMs"/],
    ['segmentMaxAgeMs negative', { dir: 'd', segmentMaxAgeMs: -1 }, /"segmentMaxAgeMs"/],
    ['segmentMaxAgeMs NaN', { dir: 'd', segmentMaxAgeMs: NaN }, /"segmentMaxAgeMs"/],
    ['segmentMaxRecords zero', { dir: 'd', segmentMaxRecords: 0 }, /"segmentMaxRecords"/],
    ['segmentMaxRecords fractional', { dir: 'd', segmentMaxRecords: 2.5 }, /"segmentMaxRecords"/],
    ['segmentMaxRecords -Infinity', { dir: 'd', segmentMaxRecords: -Infinity }, /"segmentMaxRecords"/],
    ['segmentMaxRecords null', { dir: 'd', segmentMaxRecords: null }, /"segmentMaxRecords"/],
    ['maxRecordBytes zero', { dir: 'd', maxRecordBytes: 0 }, /"maxRecordBytes"/],
    ['maxRecordBytes above the hard limit', { dir: 'd', maxRecordBytes: RECORD_SIZE_BYTES_LIMIT + 1 }, /"maxRecordBytes"/],
    ['maxRecordBytes as a bigint', { dir: 'd', maxRecordBytes: 1024n }, /"maxRecordBytes"/],
    ['maxPendingBytes smaller than one frame', { dir: 'd', maxRecordBytes: 1024, maxPendingBytes: 1024 }, /"maxPendingBytes"/],
    ['maxPendingBytes negative', { dir: 'd', maxPendingBytes: -1 }, /"maxPendingBytes"/],
    ['maxOpenFiles zero', { dir: 'd', maxOpenFiles: 0 }, /"maxOpenFiles"/],
    ['maxOpenFiles fractional', { dir: 'd', maxOpenFiles: 1.5 }, /"maxOpenFiles"/],
    ['preallocate as a string', { dir: 'd', preallocate: 'true' }, /"preallocate"/],
    ['preallocate as a number', { dir: 'd', preallocate: 1 }, /"preallocate"/],
    ['blockingWrites as a string', { dir: 'd', blockingWrites: 'yes' }, /"blockingWrites" must be a boolean/],
    ['repair as a string', { dir: 'd', repair: 'yes' }, /"repair"/],
    ['repair null', { dir: 'd', repair: null }, /"repair"/],
    ['fileSystem as a string', { dir: 'd', fileSystem: 'node' }, /"fileSystem"/],
    ['fileSystem null', { dir: 'd', fileSystem: null }, /"fileSystem"/],
    ['logger as a number', { dir: 'd', logger: 3 }, /"logger"/],
    ['clock as a function', { dir: 'd', clock: () => 0 }, /"clock".*monotonicMs\(\) and wallMs\(\)/],
    ['clock without wallMs', { dir: 'd', clock: { monotonicMs: () => 0 } }, /"clock"/],
    ['clock null', { dir: 'd', clock: null }, /"clock"/],
  ];
  for (const [name, options, message] of badTable) {
    test(`refuses ${name} with INVALID_ARGUMENT naming it`, () => {
      assertInvalid(options, message);
    });
  }

  test('error messages describe a long bad string by its length, not its contents', () => {
    assertInvalid({ dir: 'd', fsync: 'x'.repeat(1000) }, /a string of 1000 characters/);
  });
});
