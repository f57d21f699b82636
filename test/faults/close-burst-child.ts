/**
 * A consumer over many partitions ends while the process's open-files
 * limit leaves little room (the close-burst test). The child pins every
 * partition with a consumer, counts its descriptors, lowers its own limit
 * to that count plus a small margin with `prlimit`, ends the consumer (the
 * pool then closes every log beyond `maxOpenLogs`), appends to every
 * partition again and closes the manager. It prints one JSON line.
 *
 * Usage: node close-burst-child.js <dir> <partitions> <marginDescriptors>
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { WalManager } from '../../src/index.js';
import type { Logger } from '../../src/index.js';
import { die, say } from '../crash/child-io.js';

const [dir, partitionsText, marginText] = process.argv.slice(2);
if (dir === undefined || partitionsText === undefined || marginText === undefined) {
  die('close-burst-child', 'usage: close-burst-child.js <dir> <partitions> <marginDescriptors>');
}
const partitionCount = Number(partitionsText);
const openDescriptors = (): number => readdirSync('/proc/self/fd').length;
const loggedErrors: string[] = [];
const quiet = (): void => {};
const logger: Logger = {
  debug: quiet,
  info: quiet,
  warn: quiet,
  error: (_fields: object, message?: string) => loggedErrors.push(message ?? 'error'),
};

const manager = await WalManager.open({ dir, fsync: 'always', maxOpenLogs: 8, logger });
for (let partition = 0; partition < partitionCount; partition += 1) await manager.append('t', partition, `first ${partition}`);
let consumed = 0;
let limit = 0;
for await (const record of manager.consume({ group: 'g', topics: ['t'], from: 'earliest' })) {
  void record;
  consumed += 1;
  if (consumed < partitionCount) continue;
  // Every partition is pinned now: the limit leaves room for a few closes at a time, not for all at once.
  limit = openDescriptors() + Number(marginText);
  execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${limit}:${limit}`]);
  break;
}
const failedAppends: string[] = [];
for (let partition = 0; partition < partitionCount; partition += 1) {
  await manager.append('t', partition, `second ${partition}`).catch((error: Error) => failedAppends.push(error.message));
}
let closeError: string | null = null;
await manager.close().catch((error: Error) => {
  closeError = error.message;
});
say(JSON.stringify({ consumed, limit, failedAppends: failedAppends.length, firstFailure: failedAppends[0] ?? null, closeError, loggedErrors: loggedErrors.length }));
