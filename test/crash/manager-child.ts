/**
 * The process the manager crash test kills. It opens a WalManager with
 * fsync 'always', appends from one producer per partition of topic `t`
 * (single appends and batches) and commits checkpoint `cp` now and then,
 * reporting on stdout, one whole line each:
 *
 * - `R <nextOffset of partition 0> … <of partition 7>` once the logs are open;
 * - `A <partition> <firstOffset> <count>` after an append or batch was acknowledged;
 * - `P <json>` just before a checkpoint commit, `C` after it resolved.
 *
 * The record at offset `o` of partition `p` is `recordFor(seed + p, o)`.
 *
 * Usage: node manager-child.js <dir> <contentSeed> <behaviourSeed>
 */
import { WalManager } from '../../src/index.js';
import { die, say } from './child-io.js';
import { prng, recordFor } from './records.js';

const PARTITION_COUNT = 8;
const BATCH_RECORD_COUNT_MAX = 8;

async function main(): Promise<void> {
  const [dir, contentSeedText, behaviourSeedText] = process.argv.slice(2);
  if (dir === undefined || contentSeedText === undefined || behaviourSeedText === undefined) {
    die('manager-child', 'usage: manager-child.js <dir> <contentSeed> <behaviourSeed>');
  }
  const contentSeed = Number(contentSeedText);
  const random = prng(Number(behaviourSeedText));
  const mgr = await WalManager.open({
    dir,
    fsync: 'always',
    segmentMaxRecords: 20 + (random() % 200),
    retentionIntervalMs: 0,
    // Fewer open logs than partitions in some runs, so eviction and reopen happen under the kill too.
    maxOpenLogs: random() % 2 === 0 ? 4 : 64,
    // Both fsync streams, switching between restarts: a journal a kill left
    // behind is replayed whichever stream opens next. Small checkpoints in
    // some runs, so the kill also lands in journal checkpoints.
    syncStream: random() % 3 === 0 ? 'per-log' : 'shared',
    journalCheckpointBytes: random() % 2 === 0 ? 32 * 1024 : 128 * 1024 * 1024,
  });
  const next: number[] = [];
  for (let partition = 0; partition < PARTITION_COUNT; partition += 1) {
    next.push(await mgr.withLog('t', partition, (wal) => wal.nextOffset));
  }
  const acked = [...next];
  say(`R ${next.join(' ')}`);

  async function produce(partition: number): Promise<never> {
    for (;;) {
      const first = next[partition] ?? 0;
      const count = random() % 4 === 0 ? 2 + (random() % (BATCH_RECORD_COUNT_MAX - 1)) : 1;
      next[partition] = first + count;
      const datas = Array.from({ length: count }, (_, index) => recordFor(contentSeed + partition, first + index));
      const offsets = count === 1 ? [await mgr.append('t', partition, datas[0] ?? '')] : await mgr.append('t', partition, datas);
      if (offsets[0] !== first) die('manager-child', `partition ${partition}: got offset ${offsets[0]}, expected ${first}`);
      acked[partition] = first + count;
      say(`A ${partition} ${first} ${count}`);
    }
  }

  async function commitNowAndThen(): Promise<never> {
    for (let sequence = 0; ; sequence += 1) {
      await new Promise((resolve) => setTimeout(resolve, random() % 20));
      const offsets: Record<string, number> = {};
      for (let partition = 0; partition < PARTITION_COUNT; partition += 1) {
        // Somewhere at or below what is acknowledged: any such offset is valid.
        offsets[`t/${partition}`] = Math.max(0, (acked[partition] ?? 0) - (random() % 3));
      }
      say(`P ${JSON.stringify(offsets)}`);
      await mgr.checkpoints.commit('cp', offsets);
      say('C');
    }
  }

  await Promise.all([...Array.from({ length: PARTITION_COUNT }, (_, partition) => produce(partition)), commitNowAndThen()]);
}

main().catch((error: unknown) => {
  die('manager-child', error instanceof Error ? (error.stack ?? error.message) : String(error));
});
