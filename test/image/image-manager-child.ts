/**
 * The manager workload of the power-loss image test: appends records of
 * known content to 4 partitions of a WalManager (fsync 'always', the shared
 * journal, rotation every 100 records, journal checkpoints every 4 MiB) and
 * prints each acknowledged offset with its partition.
 * Usage: node image-manager-child.js <dir>
 */
import { WalManager } from '../../src/index.js';
import { die, say } from '../crash/child-io.js';
import { imageRecord } from './image-record.js';

export const IMAGE_TOPIC = 'image';
export const IMAGE_PARTITIONS = 4;

async function main(): Promise<void> {
  const [dir] = process.argv.slice(2);
  if (dir === undefined) die('image-manager-child', 'usage: image-manager-child.js <dir>');
  const manager = await WalManager.open({
    dir,
    fsync: 'always',
    syncStream: 'shared',
    segmentMaxRecords: 100,
    journalCheckpointBytes: 4 * 1024 * 1024,
    retentionIntervalMs: 0,
  });
  say('R');
  const producers = Array.from({ length: 16 }, async (_, producer) => {
    const partition = producer % IMAGE_PARTITIONS;
    for (let sequence = 0; ; sequence++) {
      // The seed names the record; the checker compares bytes by it.
      const seed = producer * 1_000_000_000 + sequence;
      const offset = await manager.append(IMAGE_TOPIC, partition, imageRecord(seed));
      say(`A ${offset} ${seed} ${partition}`);
    }
  });
  await Promise.all(producers);
}

main().catch((error: unknown) => die('image-manager-child', error instanceof Error ? (error.stack ?? error.message) : String(error)));
