/**
 * After a clean reopen the active segment's index is rebuilt by the first
 * read that needs it, with a scan of the file up to what is acknowledged.
 * Appends acknowledged while that scan's read runs are not in it: they must
 * neither fail the read as damage nor be lost from the segment's index and
 * timestamps. Reads here run on a disk made slow (each read waits), so the
 * appends always overlap the scan.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeFileSystem } from '../io/node-file-system.js';
import { Wal } from './wal.js';
import { freshFolders } from '../../test/temp-folders.js';
import { slowReads } from '../../test/slow-reads.js';

const freshFolder = freshFolders('tidewal-index-scan-');
const READ_DELAY_MS = 20;
const recordAt = (offset: number): Buffer => Buffer.alloc(100, offset % 251);

test('a read that rebuilds the active segment index after a clean reopen succeeds while appends are acknowledged', async () => {
  const dir = freshFolder();
  const fileSystem = slowReads(new NodeFileSystem(), READ_DELAY_MS);
  const first = await Wal.open({ dir, fsync: 'os', fileSystem });
  for (let offset = 0; offset < 2000; offset++) await first.append(recordAt(offset));
  await first.close();

  const wal = await Wal.open({ dir, fsync: 'os', fileSystem });
  let appending = true;
  let appendedDuringRead = 0;
  const producer = (async () => {
    while (appending) {
      await wal.append(recordAt(wal.nextOffset));
      appendedDuringRead += 1;
    }
  })();
  let expected = 0;
  try {
    for await (const record of wal.read({ from: 0, to: 2000 })) {
      assert.equal(record.offset, expected);
      assert.ok(Buffer.from(record.data).equals(recordAt(expected)), `record ${expected} reads back intact`);
      expected += 1;
    }
  } finally {
    appending = false;
    await producer;
  }
  assert.equal(expected, 2000);
  assert.ok(appendedDuringRead > 0, 'appends were acknowledged while the read ran');

  // The records acknowledged during the scan read back too, from offsets inside them.
  const end = wal.nextOffset;
  for (const from of [2000, Math.floor((2000 + end) / 2), end - 1]) {
    let offset = from;
    for await (const record of wal.read({ from })) {
      assert.equal(record.offset, offset);
      assert.ok(Buffer.from(record.data).equals(recordAt(offset)), `record ${offset} reads back intact`);
      offset += 1;
    }
    assert.equal(offset, end);
  }
  const [active] = (await wal.segments()).slice(-1);
  assert.ok(active !== undefined && active.lastTimestampMs >= Date.now() - 60_000, 'the segment keeps the timestamp of its newest record');
  await wal.close();
});
