/**
 * Several processes open a log whose LOCK was left by a dead process, at the
 * same moment. Each finds the LOCK stale; exactly one may take it over. (An
 * opener that removed the LOCK another had just written used to give two
 * owners, and two owners append over each other's records.)
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Wal } from '../../src/index.js';
import { freshFolders } from '../temp-folders.js';

const CHILD_PATH = fileURLToPath(new URL('./lock-child.js', import.meta.url));
const RACER_COUNT = 3;
const TRIAL_COUNT = 8;
const freshDir = freshFolders('tidewal-lock-race-');

/** Starts a racer; resolves with its report line once it has one, and gives a way to let it close. */
function startRacer(dir: string, startAtMs: number): { report: Promise<string>; release: () => void; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CHILD_PATH, dir, String(startAtMs)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const report = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('\n')) resolve(stdout.trim());
    });
    child.on('close', () => reject(new Error(`racer exited without a report: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { report, release: () => child.stdin.end(), exited };
}

test(`${RACER_COUNT} processes that find the same stale LOCK at once: exactly one becomes the owner`, async () => {
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
  for (let trial = 0; trial < TRIAL_COUNT; trial++) {
    const dir = freshDir();
    await (await Wal.open({ dir })).close();
    writeFileSync(join(dir, 'LOCK'), `${deadPid} 1\n`);
    // Far enough ahead that every racer has started (Node's start-up included) and spins until then.
    const startAtMs = Date.now() + 700;
    const racers = Array.from({ length: RACER_COUNT }, () => startRacer(dir, startAtMs));
    const reports = await Promise.all(racers.map((racer) => racer.report));
    for (const racer of racers) racer.release();
    assert.deepEqual(await Promise.all(racers.map((racer) => racer.exited)), racers.map(() => 0), 'every racer exits cleanly');
    assert.equal(reports.filter((line) => line === 'OPENED').length, 1, `trial ${trial}: one owner, got ${reports.join(', ')}`);
    assert.equal(reports.filter((line) => line === 'REFUSED LOCKED').length, RACER_COUNT - 1, `trial ${trial}: the others are refused with LOCKED`);
  }
});
