/**
 * W7's victim: appends 1 KiB records with fsync 'always' from several
 * producers, forever, to the log in argv[2], and prints "ready" once some
 * are acknowledged. The parent kills it with SIGKILL mid-stream.
 *
 * Usage: node build/bench/w7-child.js <dir>
 */
import { randomFillSync } from 'node:crypto';
import { Wal } from '../src/index.js';

/** Concurrent producers: several groups are being written or synced when the kill lands. */
const PRODUCER_COUNT = 16;
/** Acknowledged records before "ready", so the active segment has grown past a few groups. */
const READY_AFTER_RECORDS = 2000;

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (dir === undefined) throw new Error('usage: w7-child.js <dir>');
  const wal = await Wal.open({ dir, fsync: 'always' });
  const payload = randomFillSync(Buffer.allocUnsafe(1024));
  let acknowledgedCount = 0;
  let announced = false;
  const producer = async (): Promise<never> => {
    for (;;) {
      await wal.append(payload);
      acknowledgedCount += 1;
      if (!announced && acknowledgedCount >= READY_AFTER_RECORDS) {
        announced = true;
        // durableOffset: everything below it was acknowledged, so the parent can check it survived.
        process.stdout.write(`ready ${wal.durableOffset}\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: PRODUCER_COUNT }, producer));
}

main().catch((error: unknown) => {
  process.stderr.write(`w7-child: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
