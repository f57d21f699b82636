/**
 * Sealing under fsync batch, on the real file system with the closes of
 * segment files held at a gate: a seal's last step is the close (groups and
 * index trailers are page-cache writes under batch), so seals can be made
 * to wait, as slow I/O would, to show that durability never waits for them
 * and that rotation stops piling up unsealed segments.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Wal } from './wal.js';
import { SEALS_IN_FLIGHT_MAX } from '../constants.js';
import { decodeIndexTrailer } from './segment-index.js';
import { segmentFileName } from './segment-name.js';
import { GatedFileSystem } from '../../test/gated-file-system.js';
import { freshFolders } from '../../test/temp-folders.js';
import { within } from '../../test/within.js';

const freshFolder = freshFolders('tidewal-batch-seal-');

/** Base offsets of the segments in `dir` that carry a valid index trailer. */
function indexedSegments(dir: string): number[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.wal'))
    .map((name) => Number(name.slice(0, -'.wal'.length)))
    .filter((base) => decodeIndexTrailer(fs.readFileSync(path.join(dir, segmentFileName(base))), base) !== null)
    .sort((a, b) => a - b);
}

describe('Wal sealing under fsync batch', () => {
  test('sync() makes rotated segments durable without waiting for their seals to finish', async () => {
    const dir = freshFolder();
    const gate = new GatedFileSystem({ holdsSyncs: false, holdsCloses: true });
    // The timer never fires during the test: only sync() and sealing sync.
    const wal = await Wal.open({ dir, fsync: { batch: { intervalMs: 60_000 } }, segmentMaxRecords: 1, fileSystem: gate });
    gate.hold();
    try {
      for (const record of ['a', 'b', 'c']) await wal.append(record);
      const synced = await within(wal.sync(), 5_000);
      assert.notEqual(synced, 'timeout', 'sync() waited for the seals held at the gate');
      assert.equal(wal.durableOffset, 3);
      assert.ok(gate.waitingCount >= 1, 'a seal is still held at its close');
      for (const baseOffset of [0, 1, 2]) {
        const name = segmentFileName(baseOffset);
        assert.ok(
          gate.syncedPaths.some((syncedPath) => syncedPath.endsWith(name)),
          `${name} was fdatasync'd (synced: ${gate.syncedPaths.join(', ')})`,
        );
      }
    } finally {
      gate.release();
      await wal.close();
    }
    assert.deepEqual(indexedSegments(dir), [0, 1]);
    const reopened = await Wal.open({ dir });
    const records: string[] = [];
    for await (const record of reopened.read({ from: 0 })) records.push(record.data.toString());
    assert.deepEqual(records, ['a', 'b', 'c']);
    await reopened.close();
  });

  test('a producer awaiting each append waits once SEALS_IN_FLIGHT_MAX seals are behind, so open descriptors stay bounded', async () => {
    const dir = freshFolder();
    const gate = new GatedFileSystem({ holdsSyncs: false, holdsCloses: true });
    const wal = await Wal.open({ dir, fsync: { batch: { intervalMs: 5 } }, segmentMaxRecords: 1, fileSystem: gate });
    gate.hold();
    try {
      // Record k opens segment k and starts the seal of segment k-1.
      for (let index = 0; index <= SEALS_IN_FLIGHT_MAX; index += 1) assert.equal((await wal.append(`r${index}`)).offset, index);
      const blocked = wal.append('past the bound');
      assert.equal(await within(blocked, 300), 'timeout', 'the append past the bound waits for the oldest seal');
      // The seals behind, the active segment, the one the waiting append
      // opened, the preparer's files (at most 2), the LOCK: nothing more.
      assert.ok(gate.openWriteHandles <= SEALS_IN_FLIGHT_MAX + 5, `${gate.openWriteHandles} write handles open`);
      gate.release();
      assert.equal((await blocked).offset, SEALS_IN_FLIGHT_MAX + 1);
    } finally {
      gate.release();
      await wal.close();
    }
    assert.equal(gate.openWriteHandles, 0);
  });
});
