/**
 * W7: how long `Wal.open` takes on the large log, after a clean close (must
 * read no data: O(1) in log size) and after the writing process was killed
 * with SIGKILL (must scan only the active segment).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Wal } from '../src/index.js';
import type { RunMeasurement } from './measurement.js';
import { median } from './stats.js';

/** Opens per clean-reopen run; the run reports their median, so one stray page fault does not decide it. */
const CLEAN_OPENS_PER_RUN = 5;
/** Time the child keeps appending after "ready", so the kill lands mid-stream. */
const KILL_DELAY_MS = 100;
/** The child must be ready by then, or the benchmark fails with its stderr. */
const CHILD_READY_TIMEOUT_MS = 60_000;

const CHILD_SCRIPT = fileURLToPath(new URL('./w7-child.js', import.meta.url));

/** Opens and closes the (cleanly closed) log in `dir` a few times; the median open time is the run's figure. */
export async function runCleanReopen(dir: string): Promise<RunMeasurement> {
  const openMs: number[] = [];
  let details: Record<string, number | string | boolean | null> = {};
  for (let index = 0; index < CLEAN_OPENS_PER_RUN; index += 1) {
    const startMs = performance.now();
    const wal = await Wal.open({ dir });
    openMs.push(performance.now() - startMs);
    details = recoveryDetails(wal);
    await wal.close();
  }
  details['openMsAll'] = openMs.map((value) => value.toFixed(2)).join(' ');
  return { recordCount: 0, byteCount: 0, elapsedMs: median(openMs), latency: null, syncCount: null, details };
}

/** Lets a child append to the log in `dir`, kills it with SIGKILL, and times the next open. */
export async function runReopenAfterKill(dir: string): Promise<RunMeasurement> {
  const readyLine = await appendUntilKilled(dir);
  const startMs = performance.now();
  const wal = await Wal.open({ dir });
  const elapsedMs = performance.now() - startMs;
  const details = { ...recoveryDetails(wal), childSaid: readyLine, nextOffsetAfter: wal.nextOffset };
  const durableBeforeKill = Number(readyLine.split(' ')[1]);
  const nextOffsetAfter = wal.nextOffset;
  await wal.close();
  if (!(nextOffsetAfter >= durableBeforeKill)) {
    throw new Error(`W7: the child had ${durableBeforeKill} records durable before SIGKILL, but the reopened log ends at ${nextOffsetAfter}`);
  }
  return { recordCount: 0, byteCount: 0, elapsedMs, latency: null, syncCount: null, details };
}

function recoveryDetails(wal: Wal): Record<string, number | string | boolean | null> {
  const details: Record<string, number | string | boolean | null> = {};
  for (const [key, value] of Object.entries(wal.recovery as object)) {
    if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' || value === null) {
      details[`recovery.${key}`] = value;
    }
  }
  return details;
}

/** Resolves with the child's "ready" line once the child has been killed and has exited. */
function appendUntilKilled(dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD_SCRIPT, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let readyLine: string | null = null;
    const timeout = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`W7 child printed no "ready" within ${CHILD_READY_TIMEOUT_MS} ms; stderr: ${stderr}`));
    }, CHILD_READY_TIMEOUT_MS);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const lineEnd = stdout.indexOf('\n');
      if (readyLine !== null || lineEnd < 0) return;
      readyLine = stdout.slice(0, lineEnd);
      clearTimeout(timeout);
      setTimeout(() => child.kill('SIGKILL'), KILL_DELAY_MS);
    });
    child.on('error', (error) => {
      clearTimeout(timeout);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timeout);
      if (readyLine !== null && signal === 'SIGKILL') resolve(readyLine);
      else reject(new Error(`W7 child exited (code ${code}, signal ${signal}) before it was killed; stderr: ${stderr}`));
    });
  });
}
