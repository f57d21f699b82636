/**
 * The process the consumer crash test kills. It consumes topic `t` as group
 * `g` from its checkpoint and reports on stdout, one whole line each:
 *
 * - `R` once the manager is open;
 * - `D <partition> <offset>` for every record handed out (after checking its bytes);
 * - `P <json>` just before a commit, `C` after it resolved.
 *
 * Usage: node consumer-child.js <dir> <behaviourSeed>
 */
import { WalManager } from '../../src/index.js';
import { die, say } from './child-io.js';
import { prng } from './records.js';

async function main(): Promise<void> {
  const [dir, behaviourSeedText] = process.argv.slice(2);
  if (dir === undefined || behaviourSeedText === undefined) die('consumer-child', 'usage: consumer-child.js <dir> <behaviourSeed>');
  const random = prng(Number(behaviourSeedText));
  const mgr = await WalManager.open({ dir, fsync: 'always', retentionIntervalMs: 0 });
  say('R');
  // A consumer that has caught up waits on a promise, which keeps no Node
  // handle alive; without this the child could exit on its own before the kill.
  setInterval(() => {}, 1 << 30);
  const consumer = mgr.consume({ group: 'g', topics: ['t'], from: 'checkpoint', batchSize: 1 + (random() % 16) });
  const commitEvery = 1 + (random() % 25);
  let handled = 0;
  for await (const record of consumer) {
    const expected = `${record.partition}:${record.offset}`;
    if (record.data.toString() !== expected) die('consumer-child', `record ${expected} holds ${record.data.toString()}`);
    say(`D ${record.partition} ${record.offset}`);
    handled += 1;
    if (handled % commitEvery === 0) {
      say(`P ${JSON.stringify(consumer.positions())}`);
      await consumer.commit();
      say('C');
    }
  }
}

main().catch((error: unknown) => {
  die('consumer-child', error instanceof Error ? (error.stack ?? error.message) : String(error));
});
