/**
 * The `tidewal stress` command, run as a user runs it: the built CLI in a
 * child process.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { parseDuration, parseFsync, runStress } from '../../src/cli/stress.js';

const CLI_PATH = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'tidewal-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

function runCli(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('stress --json runs for the given time and reports zero failed writes and a passed verification', () => {
  const dir = join(root, 'json');
  const result = runCli(['stress', '--duration', '2s', '--json', '--dir', dir, '--producers', '8', '--partitions', '4', '--rotate-records', '50']);
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as Record<string, unknown> & {
    config: Record<string, unknown>;
    latencyUs: Record<string, number>;
    verification: { ok: boolean; recordsChecked: number; errors: unknown[] };
  };
  assert.equal(report.failedWrites, 0);
  assert.equal(report.ok, true);
  assert.equal(report.verification.ok, true);
  assert.deepEqual(report.verification.errors, []);
  assert.equal(report.verification.recordsChecked, report.records);
  assert.ok((report.records as number) > 0);
  assert.ok((report.recordsPerSecond as number) > 0);
  assert.ok((report.megabytesPerSecond as number) > 0);
  for (const key of ['p50', 'p99', 'p999', 'max']) assert.equal(typeof report.latencyUs[key], 'number', key);
  assert.ok(report.latencyUs['p50']! <= report.latencyUs['p99']!);
  assert.ok((report.fairness as number) > 0 && (report.fairness as number) <= 1);
  assert.equal(report.rotations, (report.segments as number) - 4);
  assert.ok((report.rotations as number) >= Math.floor((report.records as number) / 50) - 4);
  assert.deepEqual(report.config, {
    producers: 8,
    partitions: 4,
    recordBytes: 1024,
    rotateRecords: 50,
    durationMs: 2000,
    fsync: 'always',
    syncStream: 'shared',
    producerToPartition: 'i % partitions',
  });
  assert.ok(readdirSync(dir).includes('stress'), '--dir is kept');
});

test('stress prints a table without --json', () => {
  const result = runCli(['stress', '--duration', '300ms', '--producers', '2', '--partitions', '2', '--fsync', 'batch:5']);
  assert.equal(result.status, 0, result.stderr);
  for (const row of ['throughput', 'append latency', 'fairness', 'rotations', 'failed writes', 'verification']) {
    assert.match(result.stdout, new RegExp(`^${row} `, 'm'));
  }
  assert.match(result.stdout, /^result +PASS$/m);
  assert.equal(result.stderr, '', 'no progress line when stderr is not a TTY');
});

test('bad flags exit with code 2 and a clear message', () => {
  const cases: [string[], RegExp][] = [
    [['stress', '--producers', '0'], /--producers.*must be an integer in \[1, 100000\], got "0"/],
    [['stress', '--producers', 'many'], /--producers/],
    [['stress', '--fsync', 'sometimes'], /fsync must be always, os or batch:<intervalMs>/],
    [['stress', '--fsync', 'batch:'], /fsync must be/],
    [['stress', '--duration', 'soon'], /duration must look like 500ms, 10s or 2m/],
    // Past the parsers' patterns but beyond the limits: the message still names the flag.
    [['stress', '--fsync', 'batch:5000000'], /--fsync.*intervalMs in \[1, 3600000\]/],
    [['stress', '--duration', '99999m'], /--duration.*between 1ms and 7 days/],
    [['stress', '--duration', '0'], /--duration.*between 1ms and 7 days/],
    [['stress', '--record-bytes', '8'], /--record-bytes.*\[16,/],
    [['stress', '--sync-stream', 'both'], /--sync-stream.*'both' is invalid\. Allowed choices are shared, per-log/],
    [['stress', '--partitions', '0'], /--partitions.*must be an integer in \[1, 65536\], got "0"/],
    [['stress', '--rotate-records', '-1'], /--rotate-records.*must be an integer in \[1, /],
    [['stress', '--dir', ''], /--dir.*must be a folder path, got ""/],
    [['stress', 'extra'], /too many arguments for 'stress'/],
    [['stress', '--bogus'], /unknown option '--bogus'/],
    [['nonsense'], /unknown command 'nonsense'/],
  ];
  for (const [args, message] of cases) {
    const result = runCli(args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message, args.join(' '));
    assert.equal(result.stdout, '');
  }
});

test('a --dir that is not empty is refused with code 2 and left alone', () => {
  const busy = mkdtempSync(join(root, 'busy-'));
  writeFileSync(join(busy, 'keep.txt'), 'mine');
  const result = runCli(['stress', '--duration', '100ms', '--dir', busy]);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /is not empty/);
  assert.deepEqual(readdirSync(busy), ['keep.txt']);
});

test('a --dir that is a file is refused with code 2 and a message asking for a folder', () => {
  const file = join(mkdtempSync(join(root, 'file-')), 'not-a-folder');
  writeFileSync(file, 'mine');
  const result = runCli(['stress', '--duration', '100ms', '--dir', file]);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /is a file; give a new or empty folder/);
  const below = runCli(['stress', '--duration', '100ms', '--dir', join(file, 'sub')]);
  assert.equal(below.status, 2);
  assert.match(below.stderr, /sub, or a folder above it, is a file; give a new or empty folder/);
});

test('an I/O error at run time exits with code 1 and a message, not a stack trace', () => {
  // A folder name longer than any file system allows (ENAMETOOLONG).
  const tooLong = join(root, 'x'.repeat(300));
  const result = runCli(['stress', '--duration', '100ms', '--dir', tooLong]);
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /^tidewal: Cannot run stress test: .*ENAMETOOLONG.*give a new or empty folder/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack frames');
});

test('flag parsers accept the documented spellings', () => {
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1.5'), 1500);
  assert.deepEqual(parseFsync('batch:5'), { batch: { intervalMs: 5 } });
  assert.equal(parseFsync('os'), 'os');
  assert.equal(parseFsync('always'), 'always');
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} during a run removes the temp folder and ends the process as ${signal} does`, async () => {
    const temp = mkdtempSync(join(root, 'signal-'));
    const child = spawn(process.execPath, [CLI_PATH, 'stress', '--duration', '60s', '--producers', '2', '--partitions', '2', '--fsync', 'os'], {
      env: { ...process.env, TMPDIR: temp },
      stdio: 'ignore',
    });
    const exited = once(child, 'exit');
    // Appending has begun once the manager's topic folder exists in the temp folder.
    const running = (): boolean => readdirSync(temp).some((name) => existsSync(join(temp, name, 'stress')));
    while (!running()) {
      assert.equal(child.exitCode, null, 'the stress test is still running');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill(signal);
    const [code, exitSignal] = (await exited) as [number | null, NodeJS.Signals | null];
    assert.deepEqual({ code, exitSignal }, { code: null, exitSignal: signal });
    assert.deepEqual(readdirSync(temp), [], 'the temp folder is gone');
  });
}

test('--sync-stream per-log under another policy than always is refused with code 2', () => {
  const result = runCli(['stress', '--duration', '100ms', '--fsync', 'os', '--sync-stream', 'per-log']);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /--sync-stream per-log applies under --fsync always only .*; drop it, or use --fsync always/);
});

test('runStress can be called from code', async () => {
  const report = await runStress({ producers: 3, partitions: 2, durationMs: 200, fsync: 'os', rotateRecords: 10 });
  assert.equal(report.ok, true, JSON.stringify(report.verification));
  assert.equal(report.config.syncStream, null, "no sync stream is reported under 'os'");
  assert.deepEqual(report.partitionRecords.reduce((sum, count) => sum + count, 0), report.records);
});

test("runStress with the per-log stream under 'always' verifies every record and reports the stream", async () => {
  const report = await runStress({ producers: 4, partitions: 2, durationMs: 300, fsync: 'always', syncStream: 'per-log', rotateRecords: 10 });
  assert.equal(report.ok, true, JSON.stringify(report.verification));
  assert.equal(report.config.syncStream, 'per-log');
  assert.ok(report.records > 0);
  assert.equal(report.verification.recordsChecked, report.records);
});

test('partitions no producer writes are not made by the verification, and rotations count only the partitions written', async () => {
  const dir = join(root, 'sparse');
  const report = await runStress({ producers: 3, partitions: 40, durationMs: 300, fsync: 'os', rotateRecords: 10, dir });
  assert.equal(report.ok, true, JSON.stringify(report.verification));
  assert.equal(report.partitionRecords.length, 40);
  assert.deepEqual(report.partitionRecords.slice(3), new Array<number>(37).fill(0));
  assert.ok(report.partitionRecords.slice(0, 3).every((count) => count > 0));
  // It used to open, and so make, all 40 (a run with 2,000 spent 18 s making empty logs).
  assert.deepEqual(readdirSync(join(dir, 'stress')).sort(), ['0', '1', '2']);
  assert.equal(report.rotations, report.segments - 3);
  assert.ok(report.rotations > 0);
});
