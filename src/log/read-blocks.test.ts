/**
 * The block readers on real files: `readBlocks` (reused memory, no object
 * per record) and `readBatches` (arrays of records) must yield exactly what
 * `read` yields, from any offset, across rotations and frames larger than
 * one read; a block must refuse every access once its reader moved on; and
 * damage on disk must fail the scan with LOG_CORRUPT.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Wal } from './wal.js';
import type { RecordBlock } from './record-block.js';
import { WalError } from '../errors.js';
import { FRAME_HEADER_SIZE_BYTES, READ_CHUNK_SIZE_BYTES, SEGMENT_HEADER_SIZE_BYTES } from '../constants.js';
import { freshFolders } from '../../test/temp-folders.js';

const freshFolder = freshFolders('tidewal-read-blocks-');

interface Copied {
  readonly offset: number;
  readonly timestamp: number;
  readonly data: Buffer;
}

/** Copies every record of every block, checking the block's own bookkeeping on the way. */
async function collectBlocks(blocks: AsyncIterable<RecordBlock>): Promise<Copied[]> {
  const copied: Copied[] = [];
  for await (const block of blocks) {
    assert.ok(block.count >= 1, 'a block holds at least one record');
    if (copied.length > 0) assert.equal(block.firstOffset, (copied[copied.length - 1] as Copied).offset + 1, 'blocks are contiguous');
    for (let index = 0; index < block.count; index++) {
      const view = block.data(index);
      assert.equal(view.length, block.dataSizeBytes(index));
      assert.ok(block.buffer.subarray(block.dataPosition(index), block.dataPosition(index) + view.length).equals(view));
      copied.push({ offset: block.firstOffset + index, timestamp: block.timestamp(index), data: Buffer.from(view) });
    }
  }
  return copied;
}

async function collectRecords(records: AsyncIterable<{ offset: number; timestamp: number; data: Buffer }>): Promise<Copied[]> {
  const copied: Copied[] = [];
  for await (const record of records) copied.push({ offset: record.offset, timestamp: record.timestamp, data: Buffer.from(record.data) });
  return copied;
}

async function collectBatches(batches: AsyncIterable<ReadonlyArray<{ offset: number; timestamp: number; data: Buffer }>>): Promise<Copied[]> {
  const copied: Copied[] = [];
  for await (const batch of batches) {
    assert.ok(batch.length >= 1, 'a batch holds at least one record');
    for (const record of batch) copied.push({ offset: record.offset, timestamp: record.timestamp, data: record.data });
  }
  return copied;
}

function assertSame(actual: readonly Copied[], expected: readonly Copied[], context: string): void {
  assert.equal(actual.length, expected.length, `${context}: record count`);
  for (let index = 0; index < expected.length; index++) {
    const want = expected[index] as Copied;
    const got = actual[index] as Copied;
    assert.equal(got.offset, want.offset, `${context}: offset at ${index}`);
    assert.equal(got.timestamp, want.timestamp, `${context}: timestamp of ${want.offset}`);
    assert.ok(got.data.equals(want.data), `${context}: bytes of ${want.offset}`);
  }
}

function isCode(code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof WalError, `expected a WalError ${code}, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

/** A log of many small segments and records of mixed sizes, some in frames larger than one read. */
async function buildLog(dir: string): Promise<{ wal: Wal; datas: Buffer[] }> {
  const wal = await Wal.open({ dir, fsync: 'os', segmentBytes: 2 * READ_CHUNK_SIZE_BYTES, maxRecordBytes: 4 * 1024 * 1024 });
  const datas: Buffer[] = [];
  let seed = 7;
  const nextSize = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return 1 + (seed % 3000);
  };
  for (let round = 0; round < 40; round++) {
    const batch = Array.from({ length: 1 + (round % 50) * 10 }, () => randomBytes(nextSize()));
    await wal.appendBatch(batch);
    datas.push(...batch);
    if (round % 13 === 0) {
      // One record larger than a read: its frame straddles several blocks.
      const big = randomBytes(READ_CHUNK_SIZE_BYTES + 12_345);
      await wal.append(big);
      datas.push(big);
    }
  }
  return { wal, datas };
}

describe('Wal.readBlocks and Wal.readBatches', () => {
  test('yield exactly what read() yields from many offsets and ranges, across rotations and frames larger than a read', async () => {
    const { wal, datas } = await buildLog(freshFolder());
    try {
      assert.ok((await wal.segments()).length >= 4, 'the log rotated several times');
      const expected = await collectRecords(wal.read({}));
      assert.equal(expected.length, datas.length);
      expected.forEach((record, index) => assert.ok(record.data.equals(datas[index] as Buffer), `read() bytes of ${index}`));

      assertSame(await collectBlocks(wal.readBlocks()), expected, 'readBlocks()');
      assertSame(await collectBatches(wal.readBatches()), expected, 'readBatches()');
      const total = expected.length;
      for (const from of [0, 1, 2, Math.floor(total / 3), total - 2, total - 1]) {
        assertSame(await collectBlocks(wal.readBlocks({ from })), expected.slice(from), `readBlocks from ${from}`);
      }
      for (const [from, to] of [[0, 1], [5, 6], [17, 903], [Math.floor(total / 2), total], [3, 3]] as const) {
        assertSame(await collectBlocks(wal.readBlocks({ from, to })), expected.slice(from, to), `readBlocks [${from}, ${to})`);
        assertSame(await collectBatches(wal.readBatches({ from, to })), expected.slice(from, to), `readBatches [${from}, ${to})`);
      }
    } finally {
      await wal.close();
    }
  });

  test('a block refuses every access once its reader moved on, and its memory is reused', async () => {
    const dir = freshFolder();
    const wal = await Wal.open({ dir, fsync: 'os' });
    try {
      const record = Buffer.alloc(1000, 0x5a);
      for (let round = 0; round < 12; round++) await wal.appendBatch(Array.from({ length: 1000 }, () => record));
      const blocks: RecordBlock[] = [];
      const memories: ArrayBuffer[] = [];
      for await (const block of wal.readBlocks()) {
        assert.ok(block.data(0).equals(record));
        blocks.push(block);
        memories.push(block.buffer.buffer as ArrayBuffer);
      }
      assert.ok(blocks.length >= 4, `several blocks were read, got ${blocks.length}`);
      // Only a few buffers serve the whole scan.
      assert.ok(new Set(memories).size < memories.length, 'a later block reuses the memory of an earlier one');
      const stale = blocks[0] as RecordBlock;
      for (const access of [() => stale.count, () => stale.firstOffset, () => stale.buffer, () => stale.data(0), () => stale.timestamp(0), () => stale.dataPosition(0), () => stale.dataSizeBytes(0)]) {
        assert.throws(access, isCode('INVALID_ARGUMENT'));
      }
    } finally {
      await wal.close();
    }
  });

  test('a block refuses an index outside [0, count) with INVALID_ARGUMENT', async () => {
    const wal = await Wal.open({ dir: freshFolder(), fsync: 'os' });
    try {
      await wal.appendBatch(['a', 'bb', 'ccc']);
      for await (const block of wal.readBlocks()) {
        assert.equal(block.count, 3);
        assert.equal(block.data(2).toString(), 'ccc');
        for (const index of [-1, 3, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
          assert.throws(() => block.data(index), isCode('INVALID_ARGUMENT'), `index ${index}`);
          assert.throws(() => block.timestamp(index), isCode('INVALID_ARGUMENT'), `index ${index}`);
        }
      }
    } finally {
      await wal.close();
    }
  });

  test('bad ranges are refused at once: INVALID_ARGUMENT, OFFSET_OUT_OF_RANGE, and WAL_CLOSED after close', async () => {
    const wal = await Wal.open({ dir: freshFolder(), fsync: 'os' });
    await wal.appendBatch(['a', 'b']);
    for (const read of [(options: object) => wal.readBlocks(options), (options: object) => wal.readBatches(options)]) {
      for (const from of [-1, 0.5, '1', Number.NaN]) assert.throws(() => read({ from }), isCode('INVALID_ARGUMENT'), `from ${String(from)}`);
      assert.throws(() => read({ to: -3 }), isCode('INVALID_ARGUMENT'));
      assert.throws(() => read({ from: 2 }), isCode('OFFSET_OUT_OF_RANGE'));
    }
    await wal.close();
    assert.throws(() => wal.readBlocks(), isCode('WAL_CLOSED'));
  });

  test('stopping a scan early releases its file and a new scan reads everything', async () => {
    const { wal, datas } = await buildLog(freshFolder());
    try {
      for (let round = 0; round < 5; round++) {
        for await (const block of wal.readBlocks()) {
          assert.equal(block.firstOffset, 0);
          break;
        }
      }
      const all = await collectBlocks(wal.readBlocks());
      assert.equal(all.length, datas.length);
    } finally {
      await wal.close();
    }
  });

  test('a flipped byte in a sealed segment fails the scan with LOG_CORRUPT at that segment', async () => {
    const dir = freshFolder();
    const { wal } = await buildLog(dir);
    await wal.close();
    const segmentNames = fs.readdirSync(dir).filter((name) => name.endsWith('.wal')).sort();
    const damaged = path.join(dir, segmentNames[1] as string);
    const fd = fs.openSync(damaged, 'r+');
    try {
      // Inside the payload of the segment's first frame: only its checksum can tell.
      const position = SEGMENT_HEADER_SIZE_BYTES + FRAME_HEADER_SIZE_BYTES + 100;
      const byte = Buffer.alloc(1);
      fs.readSync(fd, byte, 0, 1, position);
      byte[0] = (byte[0] as number) ^ 0x10;
      fs.writeSync(fd, byte, 0, 1, position);
    } finally {
      fs.closeSync(fd);
    }
    const reopened = await Wal.open({ dir, fsync: 'os', maxRecordBytes: 4 * 1024 * 1024 });
    try {
      await assert.rejects(collectBlocks(reopened.readBlocks()), (error: unknown) => {
        assert.ok(isCode('LOG_CORRUPT')(error));
        assert.match((error as Error).message, new RegExp(segmentNames[1] as string));
        return true;
      });
    } finally {
      await reopened.close();
    }
  });
});
