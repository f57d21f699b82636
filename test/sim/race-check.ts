/**
 * The fast-check loop of the race tests (race.test.ts, manager-race.test.ts):
 * fixed-seed scripts, each run on a fresh folder, with unhandled rejections
 * counted as broken promises, a replay line on failure, and the tallies of
 * every run summed so a test can check the scripts did their work.
 * Replay and run counts come from `<envPrefix>_SEED`, `_PATH`, `_SHRINK`.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';

/** Time for a late rejection to reach the unhandledRejection listener before a run is called clean. */
const UNHANDLED_GRACE_MS = 5;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

/** Registers, for the test file that calls it, the listener that counts unhandled rejections against the runs. */
export function watchUnhandledRejections(): void {
  before(() => process.on('unhandledRejection', onUnhandled));
  after(() => process.off('unhandledRejection', onUnhandled));
}

export interface RaceCheck<Script, Tally extends { [K in keyof Tally]: number }> {
  readonly name: string;
  /** `TIDEWAL_RACE` or `TIDEWAL_MANAGER_RACE`. */
  readonly envPrefix: string;
  /** The test file's pattern for scripts/run-tests.mjs, for the replay line. */
  readonly testPattern: string;
  readonly defaultSeed: number;
  readonly runs: number;
  readonly scripts: fc.Arbitrary<Script>;
  readonly run: (script: Script) => Promise<{ readonly problems: readonly string[]; readonly tally: Tally }>;
  readonly describe: (script: Script) => string;
  readonly emptyTally: () => Tally;
}

/**
 * Runs the scripts; fails the test with the first script that broke a promise.
 * @returns the seed, the number of scripts run and their summed tallies
 */
export async function checkRaceScripts<Script, Tally extends { [K in keyof Tally]: number }>(
  check: RaceCheck<Script, Tally>,
): Promise<{ readonly seed: number; readonly runCount: number; readonly total: Tally }> {
  const seed = Number(process.env[`${check.envPrefix}_SEED`] ?? check.defaultSeed);
  const replayPath = process.env[`${check.envPrefix}_PATH`];
  const shrink = process.env[`${check.envPrefix}_SHRINK`] === '1';
  const total = check.emptyTally();
  let runCount = 0;
  const property = fc.asyncProperty(check.scripts, async (script) => {
    runCount += 1;
    const unhandledBefore = unhandled.length;
    const { problems, tally } = await check.run(script);
    await sleep(UNHANDLED_GRACE_MS);
    const late = unhandled.slice(unhandledBefore).map((reason) => `unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
    const found = [...problems, ...late];
    for (const key of Object.keys(total) as Array<keyof Tally>) (total[key] as number) += tally[key];
    if (found.length > 0) {
      throw new Error(`run ${runCount} (${check.describe(script)}) broke ${found.length} promise(s):\n  ${found.slice(0, 12).join('\n  ')}`);
    }
  });
  const result = await fc.check(property, {
    numRuns: check.runs,
    seed,
    endOnFailure: !shrink,
    ...(replayPath === undefined ? {} : { path: replayPath }),
  });
  if (result.failed) {
    const error = result.errorInstance;
    assert.fail(
      `${check.name}: seed ${seed}, path ${result.counterexamplePath}: ${error instanceof Error ? error.message : String(error)}\n` +
        `replay: ${check.envPrefix}_SEED=${seed} ${check.envPrefix}_PATH=${result.counterexamplePath} node scripts/run-tests.mjs ${check.testPattern}\n` +
        `script: ${fc.stringify(result.counterexample)}`,
    );
  }
  return { seed, runCount, total };
}
