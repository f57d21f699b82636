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
import { FaultyFileSystem } from '../../src/io/faulty-file-system.js';
import { NodeFileSystem } from '../../src/io/node-file-system.js';
import { die, say } from './child-io.js';

const [dir, startAtText] = process.argv.slice(2);
if (dir === undefined || startAtText === undefined) die('lock-child', 'usage: lock-child.js <dir> <startAtMs>');
const startAtMs = Number(startAtText);
while (Date.now() < startAtMs) {
  // Spin rather than sleep: the racers should open within microseconds of each other.
}
// A slow removal of the stale LOCK (100 ms) widens the window in which the
// other racers judge it too, so that racers that were not made one step
// per folder would take it over one after another, whatever the timing.
const fileSystem = new FaultyFileSystem(new NodeFileSystem());
fileSystem.arm({ call: 'unlink', path: /LOCK$/, delayMs: 100 });
let wal: Wal | null = null;
try {
  wal = await Wal.open({ dir, fsync: 'os', fileSystem });
  say('OPENED');
} catch (error) {
  if (!(error instanceof WalError)) throw error;
  say(`REFUSED ${error.code}`);
}
process.stdin.resume();
await new Promise((resolve) => process.stdin.once('end', resolve));
await wal?.close();
