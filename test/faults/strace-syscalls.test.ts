/**
 * What reaches the kernel. The simulated and fault-injecting file systems
 * check which durability the engine asks for; this test checks that the
 * real one turns it into the right system calls, seen by strace in a child
 * process: under 'always' every segment file written through is opened
 * O_DSYNC, and rotation fsyncs the log's folder (a directory descriptor).
 * Skips, saying why, where strace is missing or ptrace is not permitted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const INDEX = fileURLToPath(new URL('../../src/index.js', import.meta.url));

/** Why strace cannot trace a child here, or null when it can. */
function straceUnavailable(): string | null {
  const probe = spawnSync('strace', ['-f', '-qq', '-e', 'trace=fsync', process.execPath, '-e', '0'], { encoding: 'utf8', timeout: 30_000 });
  if (probe.error !== undefined) return `strace is not available (${probe.error.message}); .ci/run installs it`;
  if (probe.status !== 0) return `strace could not trace (status ${probe.status}): ${probe.stderr.trim().slice(0, 200)}`;
  return null;
}

test("under 'always' segment files are written through O_DSYNC descriptors and rotation fsyncs the folder, as strace sees it", { timeout: 120_000 }, async (t) => {
  const reason = straceUnavailable();
  if (reason !== null) {
    t.diagnostic(`skipped: ${reason}`);
    t.skip(reason);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tidewal-strace-syscalls-'));
  try {
    const child = `
      const { Wal } = await import(${JSON.stringify(INDEX)});
      const wal = await Wal.open({ dir: ${JSON.stringify(dir)}, fsync: 'always', segmentMaxRecords: 3 });
      for (let index = 0; index < 10; index++) await wal.append('record ' + index);
      await wal.close();
      process.stdout.write('done');
    `;
    // -y prints the path behind every descriptor argument.
    const run = spawnSync('strace', ['-f', '-qq', '-y', '-e', 'trace=openat,fsync', process.execPath, '--input-type=module', '-e', child], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 0, `child failed: ${run.stderr.slice(-2000)}`);
    assert.equal(run.stdout, 'done');
    const lines = run.stderr.split('\n');
    const inLog = (line: string): boolean => line.includes(`"${dir}/`);
    const writableSegmentOpens = lines.filter(
      (line) => /openat\(/.test(line) && inLog(line) && /\.(wal|tmp)"/.test(line) && /O_(WRONLY|RDWR)/.test(line) && !/= -1 /.test(line),
    );
    const dsyncOpens = writableSegmentOpens.filter((line) => /O_DSYNC|O_SYNC/.test(line));
    // Prepared files get their zeros through a plain descriptor first; every
    // segment and prepared file is then opened O_DSYNC for its records.
    assert.ok(dsyncOpens.length >= 4, `segment files opened O_DSYNC (four segments for 10 records at 3 per segment):\n${writableSegmentOpens.join('\n')}`);
    const walOpens = writableSegmentOpens.filter((line) => /\.wal"/.test(line));
    for (const line of walOpens) assert.match(line, /O_DSYNC|O_SYNC/, `a segment opened for writing under 'always' without O_DSYNC: ${line}`);
    const folderSyncs = lines.filter((line) => line.includes(`fsync(`) && line.includes(`<${dir}>`));
    assert.ok(folderSyncs.length >= 3, `the log's folder is fsynced at open and on rotation (found ${folderSyncs.length}):\n${lines.filter((line) => line.includes('fsync(')).join('\n')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
