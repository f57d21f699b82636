/**
 * The workload of the power-loss image test: appends records of known
 * content to a log with fsync 'always' and prints each acknowledged offset.
 * With `batch`, the log runs under { batch: { intervalMs: 5 } } and rotates
 * every 100 records (sealing under batch at its busiest), and the child also
 * prints how far the log is durable (`D <durableOffset>`) as it advances.
 * Usage: node image-child.js <dir> [batch]
 */
import { Wal } from '../../src/index.js';
import { die, say } from '../crash/child-io.js';
import { imageRecord } from './image-record.js';

async function main(): Promise<void> {
  const [dir, mode] = process.argv.slice(2);
  if (dir === undefined) die('image-child', 'usage: image-child.js <dir> [batch]');
  const batch = mode === 'batch';
  const wal = await Wal.open(
    batch ? { dir, fsync: { batch: { intervalMs: 5 } }, segmentMaxRecords: 100 } : { dir, fsync: 'always', segmentBytes: 1024 * 1024 },
  );
  let durableSaid = 0;
  // Under batch the child writes fast enough to fill the 2 GiB image within the run: stop at about 1 GB.
  const recordCountMax = batch ? 1_000_000 : Infinity;
  say('R');
  const producers = Array.from({ length: 4 }, async () => {
    while (wal.nextOffset < recordCountMax) {
      const offset = wal.nextOffset;
      // Content depends only on the offset the record gets, which the
      // producer learns from the result: so write what the next offset
      // would be if no other producer races it, and let the checker accept
      // only records whose content matches their offset.
      const { offset: given } = await wal.append(imageRecord(offset));
      say(`A ${given} ${offset}`);
      if (wal.durableOffset > durableSaid) {
        durableSaid = wal.durableOffset;
        say(`D ${durableSaid}`);
      }
    }
  });
  await Promise.all(producers);
  await wal.sync();
  say(`D ${wal.durableOffset}`);
  // Stay alive, idle, until the parent kills the child.
  setInterval(() => {}, 60_000);
}

main().catch((error: unknown) => die('image-child', error instanceof Error ? (error.stack ?? error.message) : String(error)));
