/**
 * The batch policy's bound in time, on the real file system with
 * fdatasyncs held at a gate as a slow disk would hold them: while a sync
 * runs late, acknowledgements wait for it instead of putting more than
 * `intervalMs` of acknowledged records at risk; once it lands they resume,
 * durable. Appends while the sync is on time are acknowledged at once.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Wal } from './wal.js';
import { GatedFileSystem } from '../../test/gated-file-system.js';
import { freshFolders } from '../../test/temp-folders.js';
import { within } from '../../test/within.js';

const freshFolder = freshFolders('tidewal-batch-deadline-');

describe('Wal under fsync batch: the interval bounds what is at risk', () => {
  test('while a sync is held past intervalMs, appends are not acknowledged until it lands, and then they are durable', async () => {
    const intervalMs = 50;
    const gate = new GatedFileSystem();
    const wal = await Wal.open({ dir: freshFolder(), fsync: { batch: { intervalMs } }, fileSystem: gate });
    try {
      gate.hold();
      // On time: acknowledged at once, durable later.
      assert.deepEqual(await within(wal.append('first'), 1_000), { offset: 0 });
      assert.equal(wal.durableOffset, 0, 'the sync is held');
      // The timer's sync is now held at the gate; wait past the deadline.
      await sleep(intervalMs * 3);
      assert.ok(gate.heldCount >= 1, 'the timer started a sync');
      const late = wal.append('second');
      assert.equal(await within(late, intervalMs * 4), 'timeout', 'an append was acknowledged while the sync ran late');
      assert.equal(wal.nextOffset, 1, 'the late record is not visible either');
      gate.release();
      assert.deepEqual(await within(late, 5_000), { offset: 1 });
      assert.ok(wal.durableOffset >= 1, 'the late sync landed before the waiting record was acknowledged');
      // Back on time: acknowledged at once again, and synced by the timer.
      assert.deepEqual(await within(wal.append('third'), 1_000), { offset: 2 });
      for (const deadlineMs = Date.now() + 5_000; wal.durableOffset < 3 && Date.now() < deadlineMs; ) await sleep(intervalMs);
      assert.equal(wal.durableOffset, 3, 'the timer synced the rest');
    } finally {
      gate.release();
      await wal.close();
    }
  });

  test('appends while syncs are on time are acknowledged without waiting for any sync', async () => {
    const gate = new GatedFileSystem();
    const wal = await Wal.open({ dir: freshFolder(), fsync: { batch: { intervalMs: 60_000 } }, fileSystem: gate });
    try {
      gate.hold();
      for (let index = 0; index < 20; index++) {
        assert.deepEqual(await within(wal.append(`record ${index}`), 1_000), { offset: index });
      }
      assert.equal(wal.durableOffset, 0, 'no sync ran: the interval has not passed');
      assert.equal(gate.heldCount, 0);
    } finally {
      gate.release();
      await wal.close();
    }
  });
});
