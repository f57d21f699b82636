/**
 * The workload of the power-loss image test: appends records of known
 * content to a log with fsync 'always' and prints each acknowledged offset.
 * Usage: node image-child.js <dir>
 */
import { Wal } from '../../src/index.js';
import { die, say } from '../crash/child-io.js';
import { imageRecord } from './image-record.js';

async function main(): Promise<void> {
  const [dir] = process.argv.slice(2);
  if (dir === undefined) die('image-child', 'usage: image-child.js <dir>');
  const wal = await Wal.open({ dir, fsync: 'always', segmentBytes: 1024 * 1024 });
  say('R');
  const producers = Array.from({ length: 4 }, async () => {
    for (;;) {
      const offset = wal.nextOffset;
      // Content depends only on the offset the record gets, which the
      // producer learns from the result: so write what the next offset
      // would be if no other producer races it, and let the checker accept
      // only records whose content matches their offset.
      const { offset: given } = await wal.append(imageRecord(offset));
      say(`A ${given} ${offset}`);
    }
  });
  await Promise.all(producers);
}

main().catch((error: unknown) => die('image-child', error instanceof Error ? (error.stack ?? error.message) : String(error)));
