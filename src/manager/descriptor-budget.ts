/**
 * How many file descriptors a manager may hold at once, against the
 * process's limit (docs/manager.md, "Bounded descriptors"). An open that
 * fails with EMFILE stops the log that needed it, so a manager whose bounds
 * exceed the limit says so when it opens instead of failing under load.
 */
import { readFileSync } from 'node:fs';
import { SEALS_IN_FLIGHT_MAX } from '../constants.js';
import { PREPARED_FILES_MAX } from '../log/segment-preparer.js';

/** Most descriptors one open log holds: its active segment, its prepared files, and segments still being sealed. */
export const LOG_DESCRIPTORS_MAX = 1 + PREPARED_FILES_MAX + SEALS_IN_FLIGHT_MAX;

/** Descriptors the rest of a process typically holds (stdio, Node's own, the manager's journal and checkpoints). */
const PROCESS_DESCRIPTORS_RESERVE = 64;

/** The most descriptors a manager with these bounds may hold at once, with the reserve for the rest of the process. */
export function descriptorsNeeded(maxOpenLogs: number, maxOpenFiles: number): number {
  return maxOpenLogs * LOG_DESCRIPTORS_MAX + maxOpenFiles + PROCESS_DESCRIPTORS_RESERVE;
}

/**
 * The soft limit on open files (`ulimit -n`) from the text of /proc/self/limits.
 * @returns null when the line is missing or says "unlimited"
 */
export function parseOpenFilesSoftLimit(limitsText: string): number | null {
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(limitsText);
  if (match?.[1] === undefined || match[1] === 'unlimited') return null;
  return Number(match[1]);
}

/** This process's soft limit on open files, or null where it cannot be read (not Linux). */
export function openFilesSoftLimit(): number | null {
  try {
    return parseOpenFilesSoftLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return null;
  }
}
