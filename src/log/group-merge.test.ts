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

/**
 * Runs `producerCount` closed-loop producers of `roundCount` rounds each,
 * half of them started while the first half's group is being written, on a
 * fresh log under 'always'.
 * @returns the durable writes they took, and the log's nextOffset after
 */
async function runSplitProducers(
  producerCount: number,
  roundCount: number,
  appendOnce: (wal: Wal) => Promise<unknown>,
): Promise<{ writeCount: number; nextOffset: number }> {
  const counter = new GatedFileSystem();
  const wal = await Wal.open({ dir: freshFolder(), fsync: 'always', fileSystem: counter, preallocate: false });
  const produce = async (): Promise<void> => {
    for (let round = 0; round < roundCount; round++) await appendOnce(wal);
  };
  try {
    const writesBefore = counter.writeCount;
    const firstHalf = Array.from({ length: producerCount / 2 }, produce);
    // The first half's group is being written now; the second half forms the next group.
    await new Promise((resolve) => setImmediate(resolve));
    const secondHalf = Array.from({ length: producerCount / 2 }, produce);
    await Promise.all([...firstHalf, ...secondHalf]);
    return { writeCount: counter.writeCount - writesBefore, nextOffset: wal.nextOffset };
  } finally {
    await wal.close();
  }
}

describe('Wal group commit under always', () => {
  test('producers split into two groups merge into one group per write', async () => {
    const producerCount = 64;
    const roundCount = 30;
    const payload = Buffer.alloc(100, 0x61);
    const { writeCount, nextOffset } = await runSplitProducers(producerCount, roundCount, (wal) => wal.append(payload));
    assert.equal(nextOffset, producerCount * roundCount);
    // One write per round once merged (plus the few before it); alternating halves need two per round.
    assert.ok(writeCount <= roundCount * 1.4, `${writeCount} writes for ${roundCount} rounds of ${producerCount} producers`);
  });

  test('groups of at least REJOIN_GROUP_SIZE_BYTES_MAX are followed at once by the group that filled meanwhile', async () => {
    const producerCount = 4;
    const roundCount = 12;
    // Each half's group (two batches) is a little over the bound.
    const batch = Array.from({ length: 8 }, () => Buffer.alloc(REJOIN_GROUP_SIZE_BYTES_MAX / 16, 0x62));
    const { writeCount, nextOffset } = await runSplitProducers(producerCount, roundCount, (wal) => wal.appendBatch(batch));
    assert.equal(nextOffset, producerCount * roundCount * batch.length);
    // The halves keep alternating: about two writes per round. Merged, they would need one.
    assert.ok(writeCount >= roundCount * 1.8, `${writeCount} writes for ${roundCount} rounds of ${producerCount} producers`);
  });
});
