/**
 * The loop of the "power cut at every step" tests: run a workload once
 * uncut to count its I/O steps, then once per step with the power cut
 * there, and check what the rebooted file system holds.
 *
 * Replay one cut with TIDEWAL_SIM_SEED=<seed>:<step> (or <seed> for all of its cuts).
 */
import { SimulatedFileSystem } from '../../src/io/simulated-file-system.js';
import type { PowerCutOptions } from '../../src/io/simulated-file-system.js';

/** What a workload reports: `unexpected` is an error that was not caused by the cut. */
export interface CutOutcome {
  readonly unexpected: unknown;
}

export interface CutSweep<Outcome extends CutOutcome> {
  /** Seeds swept unless TIDEWAL_SIM_SEED names one. */
  readonly seeds: readonly number[];
  /** The workload; it must stop quietly when the file system dies. */
  run(fileSystem: SimulatedFileSystem): Promise<Outcome>;
  /** Throws when the rebooted state breaks a promise; stale LOCK files are gone by then. */
  check(rebooted: SimulatedFileSystem, outcome: Outcome): Promise<void>;
  /** Sees the uncut run's outcome (to assert the workload did its work). */
  checkUncut?(outcome: Outcome): void;
  /** Sees every cut run's outcome (to count what was checked). */
  onCut?(outcome: Outcome): void;
  /**
   * Opens and closes what the workload built (its recovery), on a rebooted
   * state. When given, every `recoveryCutEvery`-th cut is followed by a
   * second one at each step of this recovery, and `check` runs on the state
   * after that second reboot as well.
   */
  recover?(fileSystem: SimulatedFileSystem): Promise<void>;
  /** @default 8 */
  readonly recoveryCutEvery?: number;
}

export interface CutSweepResult {
  readonly seeds: readonly number[];
  readonly cutCount: number;
  /** Second cuts made during recoveries (see {@link CutSweep.recover}). */
  readonly recoveryCutCount: number;
  /** One line per failed cut, naming the TIDEWAL_SIM_SEED that replays it. */
  readonly failures: string[];
}

export async function sweepCuts<Outcome extends CutOutcome>(sweep: CutSweep<Outcome>): Promise<CutSweepResult> {
  const replay = process.env['TIDEWAL_SIM_SEED'];
  const [seedText, stepText] = replay === undefined || replay === '' ? [] : replay.split(':');
  const seeds = seedText === undefined ? sweep.seeds : [Number(seedText)];
  const failures: string[] = [];
  let cutCount = 0;
  let recoveryCutCount = 0;
  for (const seed of seeds) {
    const uncut = new SimulatedFileSystem({ seed });
    const uncutOutcome = await sweep.run(uncut);
    if (uncutOutcome.unexpected !== null) throw uncutOutcome.unexpected;
    sweep.checkUncut?.(uncutOutcome);
    const steps = stepText === undefined ? Array.from({ length: uncut.stepCount + 1 }, (_, index) => index + 1) : [Number(stepText)];
    for (const cutStep of steps) {
      cutCount += 1;
      const fileSystem = new SimulatedFileSystem({ seed, cutAtStep: cutStep });
      const outcome = await sweep.run(fileSystem);
      sweep.onCut?.(outcome);
      try {
        if (outcome.unexpected !== null) throw outcome.unexpected;
        const rebooted = fileSystem.afterCut ?? fileSystem.powerCut();
        removeLocks(rebooted);
        if (sweep.recover !== undefined && cutStep % (sweep.recoveryCutEvery ?? 8) === 0) {
          const second = await cutDuringRecovery(rebooted, sweep.recover, (rebootedAgain) => sweep.check(rebootedAgain, outcome));
          recoveryCutCount += second.cutCount;
          failures.push(...second.failures.map((failure) => `TIDEWAL_SIM_SEED=${seed}:${cutStep}, then ${failure}`));
        }
        await sweep.check(rebooted, outcome);
      } catch (error) {
        failures.push(`TIDEWAL_SIM_SEED=${seed}:${cutStep}: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      }
    }
  }
  return { seeds, cutCount, recoveryCutCount, failures };
}

/** The LOCK files name this (live) process; a real reboot would find them stale. */
function removeLocks(rebooted: SimulatedFileSystem): void {
  for (const path of rebooted.listFiles()) if (path.endsWith('/LOCK')) rebooted.deleteFile(path);
}

/**
 * Cuts the power at each step of a recovery from `rebooted` in turn, and
 * checks the state after each such second cut.
 * @param recover opens (recovering) and closes what the workload built
 * @param check throws when the state after the second reboot breaks a promise
 * @returns the second cuts made, and one line per failed one
 */
export async function cutDuringRecovery(
  rebooted: SimulatedFileSystem,
  recover: (fileSystem: SimulatedFileSystem) => Promise<void>,
  check: (rebootedAgain: SimulatedFileSystem) => Promise<void>,
  powerCut?: PowerCutOptions,
): Promise<{ cutCount: number; failures: string[] }> {
  const counting = rebooted.snapshot();
  await recover(counting);
  const cutCount = counting.stepCount;
  const failures: string[] = [];
  for (let secondCut = 1; secondCut <= cutCount; secondCut++) {
    const image = rebooted.snapshot({ cutAtStep: secondCut, ...(powerCut === undefined ? {} : { powerCut }) });
    try {
      await recover(image).catch((error: unknown) => {
        if (!image.dead) throw error;
      });
      const rebootedAgain = image.afterCut ?? image.powerCut(powerCut);
      removeLocks(rebootedAgain);
      await check(rebootedAgain);
    } catch (error) {
      failures.push(`recovery step ${secondCut}: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  }
  return { cutCount, failures };
}
