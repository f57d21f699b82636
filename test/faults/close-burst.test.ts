/**
 * A consumer over many partitions pins every log; when it ends, the pool
 * closes every log beyond `maxOpenLogs`. Each close needs a descriptor or
 * two of its own for a moment, so closing them all at once under a tight
 * open-files limit failed hundreds of them with EMFILE (journaled logs then
 * stayed failed until the manager reopened). The child lowers its own limit
 * with `prlimit` to what it holds plus a small margin; the test skips,
 * saying why, where `prlimit` is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freshFolders } from '../temp-folders.js';

const freshDir = freshFolders('tidewal-close-burst-');
const CHILD = fileURLToPath(new URL('./close-burst-child.js', import.meta.url));
const PARTITIONS = 200;
/** Room for the closes the pool runs at once (8, a couple of descriptors each), far from the 200 of a burst. */
const MARGIN_DESCRIPTORS = 48;

test('a consumer over 200 partitions ends under a tight open-files limit: every log closes cleanly, appends and close succeed', { timeout: 240_000 }, (t) => {
  const probe = spawnSync('prlimit', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    const reason = `prlimit is not available (${probe.error?.message ?? probe.stderr.trim()})`;
    t.diagnostic(`skipped: ${reason}`);
    t.skip(reason);
    return;
  }
  const child = spawnSync(process.execPath, [CHILD, freshDir(), String(PARTITIONS), String(MARGIN_DESCRIPTORS)], { encoding: 'utf8', timeout: 200_000 });
  assert.equal(child.status, 0, `the child finished: ${child.stderr}`);
  const report = JSON.parse(child.stdout.trim()) as {
    consumed: number;
    limit: number;
    failedAppends: number;
    firstFailure: string | null;
    closeError: string | null;
    loggedErrors: number;
  };
  assert.equal(report.consumed, PARTITIONS, 'the consumer reached every partition');
  assert.ok(report.limit > MARGIN_DESCRIPTORS + PARTITIONS, `every pinned partition held a descriptor at least (limit ${report.limit})`);
  assert.equal(report.failedAppends, 0, `no log failed after the consumer ended: ${report.firstFailure}`);
  assert.equal(report.closeError, null, 'the manager closed cleanly');
  assert.equal(report.loggedErrors, 0, 'no log logged a failure');
});
