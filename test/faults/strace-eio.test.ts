/**
 * A real EIO from fdatasync, injected into a real process by the kernel's
 * ptrace machinery (`strace -e inject`), not by a wrapper: sync() must fail
 * with WAL_FAILED (cause EIO), the log must stop, fdatasync must never be
 * retried, and a reopen must find every record acknowledged before. Skips,
 * saying why, where strace is missing or ptrace is not permitted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Wal } from '../../src/index.js';

const CHILD = fileURLToPath(new URL('./sync-eio-child.js', import.meta.url));
const RECORD_COUNT = 25;

/** Why injection cannot run here, or null when it can. */
function injectionUnavailable(): string | null {
  const probeDir = mkdtempSync(join(tmpdir(), 'tidewal-strace-probe-'));
  const probe = spawnSync(
    'strace',
    ['-f', '-qq', '-e', 'trace=fdatasync', '-e', 'inject=fdatasync:error=EIO', process.execPath, '-e',
      `require('fs').fdatasync(require('fs').openSync(${JSON.stringify(join(probeDir, 'probe'))}, 'w'), (e) => process.stdout.write(String(e && e.code)))`],
    { encoding: 'utf8', timeout: 30_000 },
  );
  rmSync(probeDir, { recursive: true, force: true });
  if (probe.error !== undefined) return `strace is not available (${probe.error.message}); .ci/run installs it`;
  if (probe.stdout !== 'EIO') return `strace could not inject (status ${probe.status}): ${probe.stderr.trim().slice(0, 200)}`;
  return null;
}

test('a real EIO from fdatasync stops the log: sync() and later appends fail with WAL_FAILED, fdatasync is not retried, reopen keeps every acknowledged record', { timeout: 120_000 }, async (t) => {
  const reason = injectionUnavailable();
  if (reason !== null) {
    t.diagnostic(`skipped: ${reason}`);
    t.skip(reason);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tidewal-strace-'));
  try {
    // Create the log here, so that the child's clean open calls no
    // fdatasync and every fdatasync it makes is sync()'s (strace counts
    // `when=` per thread, so "the second call" cannot be targeted).
    await (await Wal.open({ dir, fsync: { batch: { intervalMs: 3_600_000 } } })).close();
    const run = spawnSync(
      'strace',
      ['-f', '-qq', '-e', 'trace=fdatasync', '-e', 'inject=fdatasync:error=EIO', process.execPath, CHILD, dir, String(RECORD_COUNT)],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(run.status, 0, `child failed: ${run.stderr.slice(-2000)}`);
    const lines = run.stdout.trim().split('\n');
    const acknowledged = lines.filter((line) => line.startsWith('A ')).map((line) => Number(line.slice(2)));
    assert.equal(acknowledged.length, RECORD_COUNT);
    assert.ok(lines.includes('S WAL_FAILED EIO'), `sync() failed with WAL_FAILED caused by EIO: ${lines.join(' | ')}`);
    assert.ok(lines.includes('L WAL_FAILED EIO'), `a later append failed the same way: ${lines.join(' | ')}`);
    assert.ok(lines.includes('D closed'), 'close() released the failed log');
    const fdatasyncCalls = run.stderr.split('\n').filter((line) => /fdatasync\(/.test(line));
    const injected = fdatasyncCalls.filter((line) => /INJECTED/.test(line));
    assert.equal(injected.length, 1, `exactly one fdatasync failed and none was retried:\n${fdatasyncCalls.join('\n')}`);
    assert.equal(fdatasyncCalls.length, 1, `no fdatasync after the failure:\n${fdatasyncCalls.join('\n')}`);

    const wal = await Wal.open({ dir });
    try {
      assert.equal(wal.recovery.clean, false, 'the failed log was not marked clean');
      let offset = 0;
      for await (const record of wal.read()) {
        assert.equal(record.offset, offset);
        assert.equal(record.data.toString(), `record ${offset}`);
        offset += 1;
      }
      assert.equal(offset, RECORD_COUNT, 'every acknowledged record is there after a reopen');
    } finally {
      await wal.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
