/**
 * One of several processes that open the same log at the same moment (the
 * lock race test). It waits for the wall-clock start time it is given, opens
 * the log, reports `OPENED` or `REFUSED <code>`, and holds the log until its
 * stdin ends, so that every racer has reported while the winner still owns
 * the folder.
 *
 * Usage: node lock-child.js <dir> <startAtMs>
 */
import { Wal, WalError } from '../../src/index.js';
import { die, say } from './child-io.js';

const [dir, startAtText] = process.argv.slice(2);
if (dir === undefined || startAtText === undefined) die('lock-child', 'usage: lock-child.js <dir> <startAtMs>');
const startAtMs = Number(startAtText);
while (Date.now() < startAtMs) {
  // Spin rather than sleep: the racers should open within microseconds of each other.
}
let wal: Wal | null = null;
try {
  wal = await Wal.open({ dir, fsync: 'os' });
  say('OPENED');
} catch (error) {
  if (!(error instanceof WalError)) throw error;
  say(`REFUSED ${error.code}`);
}
process.stdin.resume();
await new Promise((resolve) => process.stdin.once('end', resolve));
await wal?.close();
