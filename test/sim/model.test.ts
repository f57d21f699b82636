/**
 * Model test: random sequences of append, appendBatch, concurrent appends,
 * read, truncateBefore, close/reopen and crash, run against a real Wal on
 * real files and checked after every step against an in-memory array of
 * records. fast-check prints the seed and path of a failure; replay with
 * TIDEWAL_MODEL_SEED=<seed> TIDEWAL_MODEL_PATH=<path> node scripts/run-tests.mjs model
 *
 * A crash is simulated in-process: once every append has been acknowledged,
 * the folder is copied as it is (a disk image of a process that died
 * without close()), the copy is opened by a new Wal, and the old one is
 * closed and forgotten.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Wal } from '../../src/log/wal.js';
import type { FsyncPolicy, WalOptions } from '../../src/log/options.js';
import { WalError } from '../../src/errors.js';
import { copyLiveFolder } from '../copy-live-folder.js';

interface Model {
  /** records[i] holds the bytes of offset i; offsets below firstOffset are gone. */
  readonly records: Buffer[];
  firstOffset: number;
}

interface Real {
  wal: Wal;
  dir: string;
  readonly options: Omit<WalOptions, 'dir'>;
  readonly dirs: string[];
}

type WalCommand = fc.AsyncCommand<Model, Real>;

function tempDir(dirs: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidewal-model-'));
  dirs.push(dir);
  return dir;
}

/** Copies a live log folder as a crash image (test/copy-live-folder.ts). */
function copyImage(fromDir: string, dirs: string[]): string {
  return copyLiveFolder(fromDir, () => tempDir(dirs));
}

function describeSize(data: Uint8Array): string {
  return `${data.length}B`;
}

/** After every command the Wal's offsets match the model's. */
function assertOffsets(model: Model, real: Real, step: string): void {
  assert.equal(real.wal.nextOffset, model.records.length, `${step}: nextOffset`);
  assert.equal(real.wal.firstOffset, model.firstOffset, `${step}: firstOffset`);
}

async function assertReadMatches(model: Model, real: Real, from: number, to: number, step: string): Promise<void> {
  const options = to === model.records.length ? { from } : { from, to };
  let offset = from;
  for await (const record of real.wal.read(options)) {
    assert.equal(record.offset, offset, `${step}: offset`);
    const expected = model.records[offset];
    assert.ok(expected !== undefined, `${step}: read yielded offset ${offset} past the end ${model.records.length}`);
    assert.ok(Buffer.from(record.data).equals(expected), `${step}: bytes of offset ${offset}`);
    offset += 1;
  }
  assert.equal(offset, to, `${step}: read of [${from}, ${to}) ended at ${offset}`);
}

async function assertWholeLog(model: Model, real: Real, step: string): Promise<void> {
  assertOffsets(model, real, step);
  if (model.firstOffset < model.records.length) {
    await assertReadMatches(model, real, model.firstOffset, model.records.length, step);
  }
  let count = 0;
  for await (const record of real.wal.read({})) {
    assert.equal(record.offset, model.firstOffset + count, `${step}: read without from`);
    count += 1;
  }
  assert.equal(count, model.records.length - model.firstOffset, `${step}: read without from yields every record`);
}

class AppendCommand implements WalCommand {
  constructor(readonly data: Uint8Array) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const { offset } = await real.wal.append(this.data);
    assert.equal(offset, model.records.length, 'append offset');
    model.records.push(Buffer.from(this.data));
    assertOffsets(model, real, this.toString());
  }
  toString(): string {
    return `append(${describeSize(this.data)})`;
  }
}

class AppendBatchCommand implements WalCommand {
  constructor(readonly datas: Uint8Array[]) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const offsets = await real.wal.appendBatch(this.datas);
    assert.deepEqual(offsets, this.datas.map((_, index) => model.records.length + index), 'appendBatch offsets');
    model.records.push(...this.datas.map((data) => Buffer.from(data)));
    assertOffsets(model, real, this.toString());
  }
  toString(): string {
    return `appendBatch([${this.datas.map(describeSize).join(', ')}])`;
  }
}

/** Appends issued together: they share groups, and their offsets follow call order. */
class ConcurrentAppendsCommand implements WalCommand {
  constructor(readonly datas: Uint8Array[]) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const results = await Promise.all(this.datas.map((data) => real.wal.append(data)));
    assert.deepEqual(results.map((result) => result.offset), this.datas.map((_, index) => model.records.length + index));
    model.records.push(...this.datas.map((data) => Buffer.from(data)));
    assertOffsets(model, real, this.toString());
  }
  toString(): string {
    return `concurrentAppends([${this.datas.map(describeSize).join(', ')}])`;
  }
}

class ReadCommand implements WalCommand {
  constructor(readonly fromFraction: number, readonly lengthFraction: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const first = model.firstOffset;
    const next = model.records.length;
    if (first === next) {
      for await (const record of real.wal.read({})) assert.fail(`empty log yielded offset ${record.offset}`);
    } else {
      const from = first + Math.floor(this.fromFraction * (next - first));
      const to = from + 1 + Math.floor(this.lengthFraction * (next - from));
      await assertReadMatches(model, real, from, Math.min(to, next), this.toString());
    }
    const outside = first > 0 ? [first - 1, next] : [next];
    for (const from of outside) {
      await assert.rejects(
        async () => {
          for await (const record of real.wal.read({ from })) assert.fail(`out-of-range read yielded ${record.offset}`);
        },
        (error: unknown) => error instanceof WalError && error.code === 'OFFSET_OUT_OF_RANGE',
        `read from ${from} outside [${first}, ${next})`,
      );
    }
  }
  toString(): string {
    return `read(${this.fromFraction.toFixed(2)}, ${this.lengthFraction.toFixed(2)})`;
  }
}

class TruncateBeforeCommand implements WalCommand {
  constructor(readonly fraction: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const next = model.records.length;
    const target = model.firstOffset + Math.floor(this.fraction * (next - model.firstOffset + 1));
    await real.wal.truncateBefore(target);
    const segments = await real.wal.segments();
    const firstSegment = segments[0];
    assert.ok(firstSegment !== undefined, 'a log always has its active segment');
    const firstOffset = real.wal.firstOffset;
    assert.equal(firstOffset, firstSegment.baseOffset, 'firstOffset is the first remaining segment base');
    assert.ok(firstOffset >= model.firstOffset, 'firstOffset never moves back');
    assert.ok(firstOffset <= target, `truncateBefore(${target}) deleted records at or above it (firstOffset ${firstOffset})`);
    assert.ok(
      firstSegment.nextOffset > target || segments.length === 1,
      `truncateBefore(${target}) left segment [${firstSegment.baseOffset}, ${firstSegment.nextOffset}) that is wholly below it`,
    );
    model.firstOffset = firstOffset;
    assertOffsets(model, real, this.toString());
  }
  toString(): string {
    return `truncateBefore(${this.fraction.toFixed(2)})`;
  }
}

class ReopenCommand implements WalCommand {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    await real.wal.close();
    real.wal = await Wal.open({ ...real.options, dir: real.dir });
    assert.equal(real.wal.recovery.clean, true, 'open after close is clean');
    assert.equal(real.wal.recovery.scannedBytes, 0, 'open after close scans nothing');
    await assertWholeLog(model, real, this.toString());
  }
  toString(): string {
    return 'closeAndReopen';
  }
}

class CrashCommand implements WalCommand {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    // The dead process's lock is dropped: this process is alive, so only a reboot would free it.
    const image = copyImage(real.dir, real.dirs);
    await real.wal.close();
    fs.rmSync(real.dir, { recursive: true, force: true });
    real.dir = image;
    real.wal = await Wal.open({ ...real.options, dir: image });
    assert.equal(real.wal.recovery.truncatedBytes, 0, 'every acknowledged group was whole in the image');
    await assertWholeLog(model, real, this.toString());
  }
  toString(): string {
    return 'crash';
  }
}

/**
 * A crash while appends are in flight: the image is copied once the first of
 * them is acknowledged. It must hold every record acknowledged before the
 * copy, then possibly some later ones, as a prefix: nothing invented, no gap.
 */
class CrashInFlightCommand implements WalCommand {
  constructor(readonly datas: Uint8Array[]) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const baseCount = model.records.length;
    let acknowledgedCount = baseCount;
    const appends = this.datas.map((data) =>
      real.wal.append(data).then(({ offset }) => {
        acknowledgedCount = Math.max(acknowledgedCount, offset + 1);
      }),
    );
    await appends[0];
    const acknowledgedAtCopy = acknowledgedCount;
    const image = copyImage(real.dir, real.dirs);
    await Promise.all(appends);
    await real.wal.close();
    fs.rmSync(real.dir, { recursive: true, force: true });
    real.dir = image;
    real.wal = await Wal.open({ ...real.options, dir: image });
    const recoveredCount = real.wal.nextOffset;
    assert.ok(recoveredCount >= acknowledgedAtCopy, `image holds ${recoveredCount} records, ${acknowledgedAtCopy} were acknowledged`);
    assert.ok(recoveredCount <= baseCount + this.datas.length, 'image holds no invented records');
    model.records.push(...this.datas.slice(0, recoveredCount - baseCount).map((data) => Buffer.from(data)));
    await assertWholeLog(model, real, this.toString());
  }
  toString(): string {
    return `crashInFlight([${this.datas.map(describeSize).join(', ')}])`;
  }
}

const recordArbitrary = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }) },
  { weight: 3, arbitrary: fc.uint8Array({ minLength: 65, maxLength: 1500 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1500, maxLength: 6000 }) },
);

function weighted(weight: number, arbitrary: fc.Arbitrary<WalCommand>): fc.WeightedArbitrary<WalCommand> {
  return { weight, arbitrary };
}

const commandArbitrary: fc.Arbitrary<WalCommand> = fc.oneof(
  weighted(6, recordArbitrary.map((data) => new AppendCommand(data))),
  weighted(3, fc.array(recordArbitrary, { minLength: 1, maxLength: 8 }).map((datas) => new AppendBatchCommand(datas))),
  weighted(2, fc.array(recordArbitrary, { minLength: 2, maxLength: 10 }).map((datas) => new ConcurrentAppendsCommand(datas))),
  weighted(
    3,
    fc
      .tuple(fc.double({ min: 0, max: 0.999, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }))
      .map(([from, length]) => new ReadCommand(from, length)),
  ),
  weighted(1, fc.double({ min: 0, max: 1, noNaN: true }).map((fraction) => new TruncateBeforeCommand(fraction))),
  weighted(1, fc.constant(new ReopenCommand())),
  weighted(1, fc.constant(new CrashCommand())),
  weighted(1, fc.array(recordArbitrary, { minLength: 2, maxLength: 40 }).map((datas) => new CrashInFlightCommand(datas))),
);

const optionsArbitrary = fc.record({
  fsync: fc.constantFrom<FsyncPolicy>('os', 'always', { batch: { intervalMs: 5 } }),
  segmentBytes: fc.constantFrom(4096, 8192, 32_768),
  segmentMaxRecords: fc.constantFrom(3, 7, 1000),
  maxRecordBytes: fc.constant(8192),
  preallocate: fc.boolean(),
  blockingWrites: fc.boolean(),
});

function replayParameters(): { numRuns: number; seed?: number; path?: string; verbose: 0; interruptAfterTimeLimit: number } {
  const seed = process.env['TIDEWAL_MODEL_SEED'];
  const replayPath = process.env['TIDEWAL_MODEL_PATH'];
  return {
    numRuns: Number(process.env['TIDEWAL_MODEL_RUNS'] ?? 30),
    ...(seed === undefined ? {} : { seed: Number(seed) }),
    ...(replayPath === undefined ? {} : { path: replayPath }),
    verbose: 0,
    // Crash-in-flight failures depend on timing, so shrinking them can take long: cap the whole run.
    interruptAfterTimeLimit: 90_000,
  };
}

test('random sequences of append, appendBatch, read, truncateBefore, reopen and crash match an in-memory model', async () => {
  await fc.assert(
    fc.asyncProperty(optionsArbitrary, fc.commands([commandArbitrary], { maxCommands: 40 }), async (options, commands) => {
      const dirs: string[] = [];
      const dir = tempDir(dirs);
      const real: Real = { wal: await Wal.open({ ...options, dir }), dir, options, dirs };
      const model: Model = { records: [], firstOffset: 0 };
      try {
        await fc.asyncModelRun(() => ({ model, real }), commands);
        await assertWholeLog(model, real, 'end of run');
        await real.wal.close();
        real.wal = await Wal.open({ ...options, dir: real.dir });
        await assertWholeLog(model, real, 'reopen at end of run');
      } finally {
        await real.wal.close().catch(() => {});
        for (const used of dirs) fs.rmSync(used, { recursive: true, force: true });
      }
    }),
    replayParameters(),
  );
});
