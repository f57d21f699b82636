/**
 * Decoder fuzzing: arbitrary bytes and mutations of valid segments, fed to
 * recovery (Wal.open on a folder holding that segment) and to readers, over
 * the SimulatedFileSystem. Every outcome must be a typed WalError
 * (CorruptionError, FormatUnsupportedError, …) or records that are exactly
 * the ones appended at those offsets; each case ends within a time bound and
 * never allocates a buffer larger than the bound below (a length field of
 * 0xFFFFFFFF must be damage, not a request for 4 GiB).
 *
 * fast-check prints the seed and path of a failure; replay with
 *   TIDEWAL_FUZZ_SEED=<seed> TIDEWAL_FUZZ_PATH=<path> node scripts/run-tests.mjs decoder-fuzz
 * TIDEWAL_FUZZ_RUNS=<n> runs more cases per property.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SimulatedFileSystem } from '../../src/io/simulated-file-system.js';
import { Wal } from '../../src/log/wal.js';
import { WalError } from '../../src/errors.js';
import { FRAME_HEADER_SIZE_BYTES, SEGMENT_HEADER_SIZE_BYTES } from '../../src/constants.js';

const DIR = '/log';
const SEGMENT = `${DIR}/00000000000000000000.wal`;
const RUNS = Number(process.env['TIDEWAL_FUZZ_RUNS'] ?? 150);
/** No single buffer may exceed this (the read chunk is 1 MiB; fuzzed files stay under 64 KiB). */
const ALLOCATION_BYTES_MAX = 8 * 1024 * 1024;
const CASE_TIME_MS_MAX = 5_000;

function fcParameters(): fc.Parameters<unknown> {
  const seed = process.env['TIDEWAL_FUZZ_SEED'];
  const path = process.env['TIDEWAL_FUZZ_PATH'];
  return {
    numRuns: RUNS,
    ...(seed === undefined ? {} : { seed: Number(seed) }),
    ...(path === undefined ? {} : { path }),
  };
}

// Guard every Buffer allocation while the fuzz runs: an unchecked length
// would ask for up to 4 GiB here, and fail the case instead of the machine.
const originals = { alloc: Buffer.alloc, allocUnsafe: Buffer.allocUnsafe, allocUnsafeSlow: Buffer.allocUnsafeSlow };
let largestAllocationBytes = 0;
function guard<F extends (size: number, ...rest: never[]) => Buffer>(original: F): F {
  return ((size: number, ...rest: never[]) => {
    largestAllocationBytes = Math.max(largestAllocationBytes, size);
    if (size > ALLOCATION_BYTES_MAX) throw new Error(`allocation of ${size} bytes during fuzzing`);
    return original.call(Buffer, size, ...rest);
  }) as F;
}
before(() => {
  Buffer.alloc = guard(originals.alloc);
  Buffer.allocUnsafe = guard(originals.allocUnsafe);
  Buffer.allocUnsafeSlow = guard(originals.allocUnsafeSlow);
});
after(() => {
  Object.assign(Buffer, originals);
  console.log(`decoder fuzz: largest allocation ${largestAllocationBytes} bytes`);
});

interface BaseLog {
  /** The log's files after a crash (no clean marker): path -> bytes. */
  readonly files: Map<string, Buffer>;
  /** records[offset]: the bytes appended there. */
  readonly records: Buffer[];
}

/** A crashed log with one segment of several groups and frames, built on the simulated fs. */
async function buildBaseLog(): Promise<BaseLog> {
  const fileSystem = new SimulatedFileSystem({ seed: 77 });
  const wal = await Wal.open({ dir: DIR, fileSystem, fsync: 'always', preallocate: false });
  const records: Buffer[] = [];
  for (let index = 0; index < 40; index++) {
    const data = Buffer.alloc(1 + ((index * 37) % 300), index + 1);
    records.push(data);
  }
  for (let index = 0; index < records.length; index += 5) {
    const group = records.slice(index, index + 5);
    if (index % 10 === 0) await wal.appendBatch(group);
    else await Promise.all(group.map((data) => wal.append(data)));
  }
  const image = fileSystem.snapshot();
  await wal.close();
  const files = new Map<string, Buffer>();
  for (const path of image.listFiles()) {
    if (path.endsWith('.wal')) files.set(path, image.fileContent(path) as Buffer);
  }
  return { files, records };
}

type Outcome = { readonly kind: 'records'; readonly count: number } | { readonly kind: 'error'; readonly code: string };

/** Opens a log whose only segment holds `segment`, reads everything, checks every record. */
async function recoverAndRead(segment: Buffer, records: Buffer[]): Promise<Outcome> {
  const fileSystem = new SimulatedFileSystem({ seed: 1 });
  await fileSystem.mkdir(DIR);
  fileSystem.setFileContent(SEGMENT, segment);
  let wal: Wal | null = null;
  try {
    wal = await Wal.open({ dir: DIR, fileSystem, fsync: 'always' });
    let expected = wal.firstOffset;
    for await (const { offset, data } of wal.read({})) {
      assert.equal(offset, expected, 'dense offsets');
      const original = records[offset];
      assert.ok(original !== undefined && original.equals(Buffer.from(data)), `offset ${offset}: a record that was never appended there`);
      expected += 1;
    }
    assert.equal(expected, wal.nextOffset);
    return { kind: 'records', count: expected };
  } catch (error) {
    if (error instanceof WalError) return { kind: 'error', code: error.code };
    throw error;
  } finally {
    await wal?.close().catch(() => {});
  }
}

async function withinTime<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`case took over ${CASE_TIME_MS_MAX} ms`)), CASE_TIME_MS_MAX);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'u32'; readonly at: number; readonly value: number }
  | { readonly kind: 'zero'; readonly at: number; readonly sizeBytes: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'garbage'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'copy'; readonly from: number; readonly to: number; readonly sizeBytes: number };

const position = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: position, value: fc.integer({ min: 0, max: 255 }) }),
  // Length and count fields sit at 4-byte boundaries; the extremes matter most.
  fc.record({ kind: fc.constant('u32' as const), at: position, value: fc.oneof(fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff8), fc.nat()) }),
  fc.record({ kind: fc.constant('zero' as const), at: position, sizeBytes: fc.integer({ min: 1, max: 1024 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('garbage' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 600 }) }),
  fc.record({ kind: fc.constant('copy' as const), from: position, to: position, sizeBytes: fc.integer({ min: 8, max: 1024 }) }),
);

function mutate(original: Buffer, mutations: Mutation[]): Buffer {
  let bytes = Buffer.from(original);
  for (const mutation of mutations) {
    const at = Math.floor(mutation.kind === 'copy' ? 0 : mutation.at * bytes.length);
    switch (mutation.kind) {
      case 'flip':
        if (at < bytes.length) bytes[at] = (bytes[at] as number) ^ (1 << mutation.bit);
        break;
      case 'set':
        if (at < bytes.length) bytes[at] = mutation.value;
        break;
      case 'u32': {
        const aligned = at - (at % 4);
        if (aligned + 4 <= bytes.length) bytes.writeUInt32LE(mutation.value >>> 0, aligned);
        break;
      }
      case 'zero':
        bytes.fill(0, at, Math.min(bytes.length, at + mutation.sizeBytes));
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
      case 'garbage':
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(mutation.bytes), bytes.subarray(Math.min(bytes.length, at + mutation.bytes.length))]);
        break;
      case 'copy': {
        // A valid frame (or any span) copied to the wrong place: a misdirected write.
        const from = Math.floor(mutation.from * bytes.length) & ~7;
        const to = Math.floor(mutation.to * bytes.length) & ~7;
        const sizeBytes = Math.min(mutation.sizeBytes, bytes.length - from, bytes.length - to);
        if (sizeBytes > 0) bytes.copy(bytes, to, from, from + sizeBytes);
        break;
      }
    }
  }
  return bytes;
}

let base: BaseLog;
let segment: Buffer;
before(async () => {
  base = await buildBaseLog();
  const found = base.files.get(SEGMENT);
  assert.ok(found !== undefined, 'the base log has its first segment');
  segment = found;
});

const tally = new Map<string, number>();
function count(outcome: Outcome): void {
  const key = outcome.kind === 'records' ? 'records' : outcome.code;
  tally.set(key, (tally.get(key) ?? 0) + 1);
}
after(() => console.log(`decoder fuzz outcomes: ${JSON.stringify(Object.fromEntries(tally))}`));

test('the unmutated base log recovers every record', async () => {
  const outcome = await recoverAndRead(segment, base.records);
  assert.deepEqual(outcome, { kind: 'records', count: base.records.length });
});

test('mutations of a valid segment give a typed error or exactly the appended records', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(mutationArbitrary, { minLength: 1, maxLength: 4 }), async (mutations) => {
      count(await withinTime(recoverAndRead(mutate(segment, mutations), base.records)));
    }),
    fcParameters(),
  );
});

test('arbitrary bytes after a valid segment header give a typed error or no invented record', async () => {
  const header = segment.subarray(0, SEGMENT_HEADER_SIZE_BYTES);
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (tail) => {
      count(await withinTime(recoverAndRead(Buffer.concat([header, tail]), [])));
    }),
    fcParameters(),
  );
});

test('entirely arbitrary bytes as a segment give a typed error or an empty log', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (bytes) => {
      const outcome = await withinTime(recoverAndRead(Buffer.from(bytes), []));
      count(outcome);
      if (outcome.kind === 'records') assert.equal(outcome.count, 0);
    }),
    fcParameters(),
  );
});

test('a frame header claiming 0xFFFFFFFF bytes is damage, not a 4 GiB allocation', async () => {
  // Find the last frame: fill its size field with the extremes.
  const lastFramePositions: number[] = [];
  for (let at = SEGMENT_HEADER_SIZE_BYTES; at + FRAME_HEADER_SIZE_BYTES <= segment.length; ) {
    lastFramePositions.push(at);
    const frameSizeBytes = segment.readUInt32LE(at + 4);
    if (frameSizeBytes === 0) break;
    at += frameSizeBytes;
  }
  assert.ok(lastFramePositions.length > 3);
  for (const framePosition of lastFramePositions) {
    for (const value of [0xffffffff, 0x80000000, 0x7ffffff8]) {
      const damaged = Buffer.from(segment);
      damaged.writeUInt32LE(value, framePosition + 4);
      const outcome = await withinTime(recoverAndRead(damaged, base.records));
      count(outcome);
      // The first record entry's payload size too.
      const damagedRecord = Buffer.from(segment);
      damagedRecord.writeUInt32LE(value, framePosition + FRAME_HEADER_SIZE_BYTES);
      count(await withinTime(recoverAndRead(damagedRecord, base.records)));
    }
  }
});

test('a byte changed on disk after open makes read fail with LOG_CORRUPT, every time', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: SEGMENT_HEADER_SIZE_BYTES, max: segment.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
      const fileSystem = new SimulatedFileSystem({ seed: 2 });
      await fileSystem.mkdir(DIR);
      fileSystem.setFileContent(SEGMENT, segment);
      const wal = await Wal.open({ dir: DIR, fileSystem, fsync: 'always' });
      try {
        fileSystem.patchFile(SEGMENT, at, Buffer.from([(segment[at] as number) ^ xor]));
        for (let attempt = 0; attempt < 2; attempt++) {
          await assert.rejects(
            (async () => {
              for await (const { offset, data } of wal.read({})) assert.ok(base.records[offset]?.equals(Buffer.from(data)));
            })(),
            (error: unknown) => error instanceof WalError && error.code === 'LOG_CORRUPT',
          );
        }
      } finally {
        await wal.close();
      }
    }),
    { ...fcParameters(), numRuns: Math.ceil(RUNS / 2) },
  );
});
