/**
 * Group commit with closed-loop producers under 'always': producers that
 * fell into two groups (half of them started while the first group was in
 * flight) must come back together into one group per write, rather than
 * alternate between two half-full groups for ever, which doubles the
 * writes (each a durable O_DSYNC write) for the same records. Large
 * groups are the exception: their writes are bound by bytes, and the next
 * group goes at once so that its producers' encoding overlaps it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Wal } from './wal.js';
import { REJOIN_GROUP_SIZE_BYTES_MAX } from '../constants.js';
import { GatedFileSystem } from '../../test/gated-file-system.js';
import { freshFolders } from '../../test/temp-folders.js';

const freshFolder = freshFolders('tidewal-group-merge-');

describe('Wal group commit under always', () => {
  test('producers split into two groups merge into one group per write', async () => {
    const counter = new GatedFileSystem();
    const wal = await Wal.open({ dir: freshFolder(), fsync: 'always', fileSystem: counter, preallocate: false });
    const producerCount = 64;
    const roundCount = 30;
    const payload = Buffer.alloc(100, 0x61);
    const produce = async (): Promise<void> => {
      for (let round = 0; round < roundCount; round++) await wal.append(payload);
    };
    try {
      const writesBefore = counter.writeCount;
      const firstHalf = Array.from({ length: producerCount / 2 }, produce);
      // The first half's group is being written now; the second half forms the next group.
      await new Promise((resolve) => setImmediate(resolve));
      const secondHalf = Array.from({ length: producerCount / 2 }, produce);
      await Promise.all([...firstHalf, ...secondHalf]);
      const writeCount = counter.writeCount - writesBefore;
      assert.equal(wal.nextOffset, producerCount * roundCount);
      // One write per round once merged (plus the few before it); alternating halves need two per round.
      assert.ok(writeCount <= roundCount * 1.4, `${writeCount} writes for ${roundCount} rounds of ${producerCount} producers`);
    } finally {
      await wal.close();
    }
  });

  test('groups of at least REJOIN_GROUP_SIZE_BYTES_MAX are followed at once by the group that filled meanwhile', async () => {
    const counter = new GatedFileSystem();
    const wal = await Wal.open({ dir: freshFolder(), fsync: 'always', fileSystem: counter, preallocate: false });
    const producerCount = 4;
    const roundCount = 12;
    // Each half's group (two batches) is a little over the bound.
    const batch = Array.from({ length: 8 }, () => Buffer.alloc(REJOIN_GROUP_SIZE_BYTES_MAX / 16, 0x62));
    const produce = async (): Promise<void> => {
      for (let round = 0; round < roundCount; round++) await wal.appendBatch(batch);
    };
    try {
      const writesBefore = counter.writeCount;
      const firstHalf = Array.from({ length: producerCount / 2 }, produce);
      await new Promise((resolve) => setImmediate(resolve));
      const secondHalf = Array.from({ length: producerCount / 2 }, produce);
      await Promise.all([...firstHalf, ...secondHalf]);
      const writeCount = counter.writeCount - writesBefore;
      assert.equal(wal.nextOffset, producerCount * roundCount * batch.length);
      // The halves keep alternating: about two writes per round. Merged, they would need one.
      assert.ok(writeCount >= roundCount * 1.8, `${writeCount} writes for ${roundCount} rounds of ${producerCount} producers`);
    } finally {
      await wal.close();
    }
  });
});
