/**
 * The process the crash test kills. It opens the log with fsync 'always' and
 * small segments (group writes on the thread pool or, in half the runs,
 * blocking), then appends forever from several concurrent producers
 * (single appends and appendBatch calls) and reports on stdout, one line each:
 *
 * - `R <nextOffset> <firstOffset>` once the log is open;
 * - `I <first> <count>` just before an appendBatch (the offsets it must get);
 * - `A <offset>` after an append was acknowledged;
 * - `B <first> <count>` after an appendBatch was acknowledged.
 *
 * Lines go out with a blocking write, so a line the parent reads was written
 * before the kill, and an `A`/`B` line is only ever written after the
 * acknowledgement. The record at offset `o` is `recordFor(seed, o)`; offsets
 * are predicted from call order (append order is offset order) and checked.
 *
 * Usage: node append-child.js <dir> <contentSeed> <behaviourSeed>
 */
import { Wal } from '../../src/index.js';
import { prng, recordFor } from './records.js';
import { die as dieAs, say } from './child-io.js';

const SEGMENT_SIZE_BYTES = 64 * 1024;
const PRODUCER_COUNT_MAX = 8;
const BATCH_RECORD_COUNT_MAX = 12;

function die(message: string): never {
  return dieAs('append-child', message);
}

async function main(): Promise<void> {
  const [dir, contentSeedText, behaviourSeedText] = process.argv.slice(2);
  if (dir === undefined || contentSeedText === undefined || behaviourSeedText === undefined) {
    die('usage: append-child.js <dir> <contentSeed> <behaviourSeed>');
  }
  const contentSeed = Number(contentSeedText);
  const random = prng(Number(behaviourSeedText));
  // Some runs also rotate by record count, so segments end at odd sizes.
  const segmentMaxRecords = random() % 2 === 0 ? 10 + (random() % 300) : undefined;
  const preallocate = random() % 4 === 0;
  // Half the runs write each group on this thread (blockingWrites): acknowledged must mean durable either way.
  const blockingWrites = random() % 2 === 0;
  const wal = await Wal.open({
    dir,
    fsync: 'always',
    segmentBytes: SEGMENT_SIZE_BYTES,
    preallocate,
    blockingWrites,
    ...(segmentMaxRecords === undefined ? {} : { segmentMaxRecords }),
  });
  let nextPredicted = wal.nextOffset;
  say(`R ${wal.nextOffset} ${wal.firstOffset}`);

  async function produce(batchPercent: number): Promise<never> {
    for (;;) {
      if (random() % 100 < batchPercent) {
        const count = 2 + (random() % (BATCH_RECORD_COUNT_MAX - 1));
        const first = nextPredicted;
        nextPredicted += count;
        const datas = Array.from({ length: count }, (_, index) => recordFor(contentSeed, first + index));
        say(`I ${first} ${count}`);
        const offsets = await wal.appendBatch(datas);
        const expected = datas.map((_, index) => first + index);
        if (JSON.stringify(offsets) !== JSON.stringify(expected)) {
          die(`appendBatch returned offsets ${JSON.stringify(offsets)}, expected ${JSON.stringify(expected)} (call order)`);
        }
        say(`B ${first} ${count}`);
      } else {
        const expected = nextPredicted;
        nextPredicted += 1;
        const { offset } = await wal.append(recordFor(contentSeed, expected));
        if (offset !== expected) die(`append returned offset ${offset}, expected ${expected} (call order)`);
        say(`A ${offset}`);
      }
    }
  }

  const producerCount = 1 + (random() % PRODUCER_COUNT_MAX);
  const producers = Array.from({ length: producerCount }, (_, index) => produce(index === 0 ? 30 : 10));
  await Promise.all(producers);
}

main().catch((error: unknown) => {
  die(error instanceof Error ? (error.stack ?? error.message) : String(error));
});
