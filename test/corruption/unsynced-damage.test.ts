/**
 * Under 'os' and { batch } the kernel may write pages back in any order, so
 * a power cut can lose an earlier unsynced write and keep a later one. Each
 * frame records the offset below which everything was durable when it was
 * written; recovery calls damage a torn tail when no later frame vouches
 * that the damaged records had been synced, and corruption when one does.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Wal } from '../../src/index.js';
import { CorruptionError } from '../../src/errors.js';
import { FRAME_HEADER_SIZE_BYTES } from '../../src/constants.js';
import { flipByte, forgetCleanShutdown, frameAt, lastSegmentPath, removeTempDirs, tempDir } from './damage.js';

after(removeTempDirs);

function record(offset: number): Buffer {
  return Buffer.from(`record ${offset};`.repeat(3));
}

describe('damage in data that was never synced', () => {
  it("under { batch }, damage before a completed sync is corruption, and damage after it is a torn tail", async () => {
    const syncedCount = 10;
    const totalCount = 20;
    const build = async (): Promise<string> => {
      const dir = tempDir();
      const wal = await Wal.open({ dir, fsync: { batch: { intervalMs: 3_600_000 } } });
      for (let offset = 0; offset < syncedCount; offset++) await wal.append(record(offset));
      await wal.sync();
      for (let offset = syncedCount; offset < totalCount; offset++) await wal.append(record(offset));
      await wal.close();
      // As if the power went before close(): open must scan.
      forgetCleanShutdown(dir);
      return dir;
    };

    const syncedDamage = await build();
    const damagedSynced = frameAt(lastSegmentPath(syncedDamage), 3);
    flipByte(lastSegmentPath(syncedDamage), damagedSynced.position + FRAME_HEADER_SIZE_BYTES + 9);
    await assert.rejects(Wal.open({ dir: syncedDamage }), (error: unknown) => error instanceof CorruptionError && error.filePosition === damagedSynced.position);

    const unsyncedDamage = await build();
    const damagedUnsynced = frameAt(lastSegmentPath(unsyncedDamage), 13);
    flipByte(lastSegmentPath(unsyncedDamage), damagedUnsynced.position + FRAME_HEADER_SIZE_BYTES + 9);
    const wal = await Wal.open({ dir: unsyncedDamage });
    try {
      assert.equal(wal.nextOffset, 13, 'the log ends before the damaged, never-synced record');
      assert.ok(wal.recovery.truncatedBytes > 0);
      let offset = 0;
      for await (const entry of wal.read()) {
        assert.deepEqual(entry.data, record(offset));
        offset += 1;
      }
      assert.equal(offset, 13);
    } finally {
      await wal.close();
    }
  });
});
