/**
 * Helpers for crash tests: children write whole-line, blocking reports on
 * stdout, so that a line the parent reads was written before the kill, and
 * a fatal error on stderr; the parent spawns and kills them (runAndKill).
 */
import fs from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Writes one whole line to stdout, blocking (a full non-blocking pipe answers EAGAIN: wait and retry). */
export function say(line: string): void {
  const bytes = Buffer.from(`${line}\n`);
  let writtenBytes = 0;
  while (writtenBytes < bytes.length) {
    try {
      writtenBytes += fs.writeSync(1, bytes, writtenBytes);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

export function die(name: string, message: string): never {
  fs.writeSync(2, `${name}: ${message}\n`);
  process.exit(1);
}

/**
 * Spawns a child, kills it with SIGKILL `delayMs` after the first line that
 * starts with `startAfter` (or one of them; after spawn when it is null), and collects its
 * lines. A child that never writes that line is killed after `readyTimeoutMs`.
 * Starting the delay at a line the child writes once it has done some work
 * (an acknowledgement, a commit) makes the kill land on a busy child however
 * slow a loaded machine makes its start.
 */
export async function runAndKill(
  childPath: string,
  args: readonly string[],
  kill: { readonly startAfter: string | readonly string[] | null; readonly delayMs: number; readonly readyTimeoutMs: number },
  onLine: (line: string) => void,
): Promise<{ signal: NodeJS.Signals | null; exitCode: number | null; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [childPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killNow = (): boolean => child.kill('SIGKILL');
  const starts = kill.startAfter === null ? [] : typeof kill.startAfter === 'string' ? [kill.startAfter] : kill.startAfter;
  let waitingForLine = starts.length > 0;
  let killTimer = setTimeout(killNow, waitingForLine ? kill.readyTimeoutMs : kill.delayMs);
  let pending = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    for (let newline = pending.indexOf('\n'); newline !== -1; newline = pending.indexOf('\n')) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (waitingForLine && starts.some((start) => line.startsWith(start))) {
        waitingForLine = false;
        clearTimeout(killTimer);
        killTimer = setTimeout(killNow, kill.delayMs);
      }
      onLine(line);
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      clearTimeout(killTimer);
      resolve({ signal, exitCode, stderr });
    });
  });
}
