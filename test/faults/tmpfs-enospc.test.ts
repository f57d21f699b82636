/**
 * A real ENOSPC: a log on a 2 MiB tmpfs mounted for the test is filled
 * until the file system refuses. The append that hits it fails with
 * WAL_FAILED (cause ENOSPC), every later call fails the same way, and a
 * reopen finds every acknowledged record. Skips, saying why, where mounting
 * is not permitted (not root, no CAP_SYS_ADMIN).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal, WalError } from '../../src/index.js';

const MOUNT_SIZE = '2m';

function rootCode(error: unknown): string | undefined {
  return ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
}

test('a full tmpfs fails the append with WAL_FAILED caused by ENOSPC, and a reopen keeps every acknowledged record', { timeout: 120_000 }, async (t) => {
  const mountPoint = mkdtempSync(join(tmpdir(), 'tidewal-tmpfs-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${MOUNT_SIZE}`, 'tmpfs', mountPoint], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    rmSync(mountPoint, { recursive: true, force: true });
    const reason = `cannot mount a tmpfs here: ${(mounted.stderr || mounted.error?.message || 'unknown').trim()}`;
    t.diagnostic(`skipped: ${reason}`);
    t.skip(reason);
    return;
  }
  try {
    const dir = join(mountPoint, 'log');
    const wal = await Wal.open({ dir, fsync: 'always', segmentBytes: 256 * 1024 });
    const acknowledged: number[] = [];
    let failure: unknown = null;
    for (let index = 0; index < 10_000 && failure === null; index++) {
      try {
        acknowledged.push((await wal.append(Buffer.alloc(1000, index % 251))).offset);
      } catch (error) {
        failure = error;
      }
    }
    assert.ok(failure instanceof WalError, `the file system filled up and the append failed with a WalError, got ${String(failure)}`);
    assert.equal(failure.code, 'WAL_FAILED');
    assert.equal(rootCode(failure), 'ENOSPC');
    assert.equal(wal.state, 'failed');
    await assert.rejects(wal.append('later'), (error: unknown) => error instanceof WalError && error.code === 'WAL_FAILED');
    await wal.close();
    assert.ok(acknowledged.length > 100, `some records were acknowledged before the disk filled (${acknowledged.length})`);

    const reopened = await Wal.open({ dir, fsync: 'always', segmentBytes: 256 * 1024, preallocate: false });
    try {
      assert.ok(reopened.nextOffset >= acknowledged.length, `every acknowledged record survives: ${reopened.nextOffset} >= ${acknowledged.length}`);
      let offset = 0;
      for await (const record of reopened.read({ to: acknowledged.length })) {
        assert.equal(record.offset, offset);
        assert.deepEqual(record.data, Buffer.alloc(1000, offset % 251));
        offset += 1;
      }
      assert.equal(offset, acknowledged.length);
    } finally {
      await reopened.close().catch(() => {});
    }
  } finally {
    spawnSync('umount', [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  }
});
