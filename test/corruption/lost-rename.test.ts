/**
 * Rotation acknowledges records in a new segment before the folder sync
 * after its rename completes; the file was durable under its prepared temp
 * name first. These tests put the folder in the state a power cut can leave
 * (the rename lost) and check that recovery finishes the rename.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal } from '../../src/index.js';

function record(offset: number): Buffer {
  return Buffer.from(`record ${offset} `.repeat(1 + (offset % 7)));
}

describe('a rotation whose rename a power cut lost', () => {
  it('open() renames a prepared file holding a segment header to its segment name and keeps its records', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tidewal-lost-rename-'));
    try {
      const wal = await Wal.open({ dir, segmentMaxRecords: 10 });
      for (let offset = 0; offset < 35; offset++) await wal.append(record(offset));
      await wal.close();
      const segments = readdirSync(dir).filter((name) => name.endsWith('.wal')).sort();
      const newest = segments[segments.length - 1];
      assert.equal(newest, '00000000000000000030.wal');
      renameSync(join(dir, newest), join(dir, 'prepared-99999-7.tmp'));
      rmSync(join(dir, 'clean-shutdown'));
      writeFileSync(join(dir, 'prepared-99999-8.tmp'), Buffer.alloc(4096));

      const reopened = await Wal.open({ dir, segmentMaxRecords: 10 });
      try {
        assert.equal(reopened.nextOffset, 35);
        let expected = 0;
        for await (const entry of reopened.read()) {
          assert.equal(entry.offset, expected);
          assert.deepEqual(entry.data, record(expected));
          expected += 1;
        }
        assert.equal(expected, 35);
        const names = readdirSync(dir);
        assert.ok(names.includes('00000000000000000030.wal'), 'the segment has its name back');
        assert.ok(!names.includes('prepared-99999-7.tmp') && !names.includes('prepared-99999-8.tmp'), 'no temp file is left');
        assert.equal((await reopened.append('next')).offset, 35);
      } finally {
        await reopened.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
