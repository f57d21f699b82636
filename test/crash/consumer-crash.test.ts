/**
 * Consumer resume after SIGKILL: a child consumes topic `t` (4 partitions)
 * as group `g`, committing now and then; this process kills it at random
 * moments, appends more records, and starts the next child. Each child
 * must start every partition exactly at the checkpoint the previous one
 * left (its last acknowledged commit, or the one in flight at the kill),
 * and hand out offsets without gaps from there. Together: no acknowledged
 * record is ever skipped, and the only records seen twice are those handed
 * out after the last commit.
 *
 * TIDEWAL_CONSUMER_CRASH_CYCLES sets the number of kills (default 10);
 * TIDEWAL_CRASH_SEED replays a run (the seed is printed).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { WalManager } from '../../src/index.js';
import { runAndKill } from './child-io.js';
import { prng } from './records.js';

const CHILD_PATH = fileURLToPath(new URL('./consumer-child.js', import.meta.url));
const CYCLE_COUNT = Number(process.env['TIDEWAL_CONSUMER_CRASH_CYCLES'] ?? 10);
const SEED = Number(process.env['TIDEWAL_CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const PARTITION_COUNT = 4;

async function appendRecords(mgr: WalManager, random: () => number): Promise<void> {
  for (let partition = 0; partition < PARTITION_COUNT; partition += 1) {
    const start = await mgr.withLog('t', partition, (wal) => wal.nextOffset);
    const count = random() % 300;
    if (count === 0) continue;
    await mgr.append('t', partition, Array.from({ length: count }, (_, index) => `${partition}:${start + index}`));
  }
}

/** A checkpoint as text with sorted keys, so that key order does not matter. */
function canonical(offsets: Readonly<Record<string, number>> | undefined): string {
  return offsets === undefined ? 'none' : JSON.stringify(Object.entries(offsets).sort(([left], [right]) => left.localeCompare(right)));
}

test('a consumer killed at random moments resumes from its last commit, skipping nothing', { timeout: 600_000 }, async (t) => {
  t.diagnostic(`seed ${SEED} (replay with TIDEWAL_CRASH_SEED=${SEED}), cycles ${CYCLE_COUNT}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidewal-consumer-crash-'));
  const random = prng(SEED);
  /** The committed position per partition, as the next child must find it. */
  let committed: Record<string, number> = {};
  let deliveredTotal = 0;
  let duplicateTotal = 0;
  let cyclesWithDeliveries = 0;
  let cyclesWithCommits = 0;
  try {
    for (let cycle = 0; cycle < CYCLE_COUNT; cycle += 1) {
      const where = `[seed ${SEED}, cycle ${cycle}]`;
      const writer = await WalManager.open({ dir, fsync: 'always', retentionIntervalMs: 0 });
      await appendRecords(writer, random);
      await writer.close();

      const delivered = new Map<number, number[]>();
      const commits: Record<string, number>[] = [];
      let resolvedCommitCount = 0;
      // The delay starts once the child is ready, or has handed out a record,
      // or has had a commit acknowledged: the checks below need cycles of each.
      const startAfter = (['R', 'D', 'C', 'C'] as const)[cycle % 4] ?? 'R';
      const exit = await runAndKill(CHILD_PATH, [dir, String(random())], { startAfter, delayMs: 20 + (random() % 250), readyTimeoutMs: 20_000 }, (line) => {
        const [kind, ...rest] = line.split(' ');
        if (kind === 'D') {
          const [partition = -1, offset = -1] = rest.map(Number);
          delivered.set(partition, [...(delivered.get(partition) ?? []), offset]);
        } else if (kind === 'P') commits.push(JSON.parse(rest.join(' ')) as Record<string, number>);
        else if (kind === 'C') resolvedCommitCount += 1;
        else if (kind !== 'R') throw new Error(`consumer crash test: unknown line ${JSON.stringify(line)}`);
      });
      assert.equal(exit.signal, 'SIGKILL', `${where} the child died only by the kill (exit ${exit.exitCode}): ${exit.stderr}`);

      if (delivered.size > 0) cyclesWithDeliveries += 1;
      if (resolvedCommitCount > 0) cyclesWithCommits += 1;
      for (const [partition, offsets] of delivered) {
        const start = committed[`t/${partition}`] ?? 0;
        assert.equal(offsets[0], start, `${where} partition ${partition} resumed at ${offsets[0]}, its checkpoint was ${start}`);
        offsets.forEach((offset, index) => assert.equal(offset, start + index, `${where} partition ${partition}: no gaps`));
        deliveredTotal += offsets.length;
      }
      const reader = await WalManager.open({ dir, fsync: 'always', retentionIntervalMs: 0 });
      const stored = reader.checkpoints.get('g') ?? {};
      await reader.close();
      const acknowledged = commits[resolvedCommitCount - 1];
      const inFlight = commits[resolvedCommitCount];
      const candidates = [acknowledged ?? committed, ...(inFlight === undefined ? [] : [inFlight])];
      assert.ok(
        candidates.some((candidate) => canonical(candidate) === canonical(stored)),
        `${where} checkpoint ${JSON.stringify(stored)} is the last acknowledged commit or the one in flight: ${JSON.stringify(candidates)}`,
      );
      // Handed out after the commit now stored: these, and only these, the next child sees again.
      for (const [partition, offsets] of delivered) {
        duplicateTotal += offsets.filter((offset) => offset >= (stored[`t/${partition}`] ?? 0)).length;
      }
      committed = { ...stored };
    }
    t.diagnostic(`${deliveredTotal} records handed out, ${duplicateTotal} of them again after a kill`);
    // The checks above loop over what was delivered: they prove something only if the children did work.
    assert.ok(cyclesWithDeliveries >= CYCLE_COUNT / 2, `children delivered records in ${cyclesWithDeliveries} of ${CYCLE_COUNT} cycles`);
    assert.ok(cyclesWithCommits >= CYCLE_COUNT / 4, `children committed in ${cyclesWithCommits} of ${CYCLE_COUNT} cycles`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
