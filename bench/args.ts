/**
 * Command line of `node build/bench/main.js`.
 */
import { parseArgs } from 'node:util';
import type { PreallocateChoice } from './engine.js';

export interface BenchArgs {
  readonly quick: boolean;
  readonly runCount: number;
  /** Runs per partition count of the sweep (P); defaults to runCount. */
  readonly sweepRunCount: number;
  /** Workload ids or id prefixes (`W3` selects `W3/1` and `W3/16`); empty selects all. */
  readonly only: readonly string[];
  readonly preallocate: readonly PreallocateChoice[];
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Payload of the W6/W7 log. */
  readonly logMiB: number;
  /** Scratch root; `null` uses os.tmpdir(). */
  readonly dir: string | null;
  readonly countSyncs: boolean;
  /** Exit with status 1 when a target fails. */
  readonly strict: boolean;
  readonly help: boolean;
}

export const USAGE = `Usage: node build/bench/main.js [options]

  --quick               1 s per timed workload, 64 MiB log for W6/W7 (default 3 s, 512 MiB)
  --runs N              runs per workload; medians are reported (default 3)
  --sweep-runs N        runs per partition count of the partition sweep P (default: --runs)
  --only W1,W3,W6/warm  run only these workloads (ids or prefixes): W1-W7, S1 (S1/always,
                        S1/batch5: the stress test), P (P/1, P/4, P/16, P/64: the partition sweep)
  --preallocate MODE    default | on | off | both: tidewal's preallocate option for W1-W5 (default: engine default)
  --duration-ms MS      time of each timed workload
  --log-mib N           payload size of the W6/W7 log
  --dir PATH            scratch folder root, on the disk to measure (default: os.tmpdir())
  --no-count-syncs      open tidewal with its own FileSystem (no records-per-fsync figure)
  --strict              exit with status 1 if any target fails
  --help
`;

const QUICK = { durationMs: 1000, warmupMs: 100, logMiB: 64 } as const;
const FULL = { durationMs: 3000, warmupMs: 300, logMiB: 512 } as const;

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string', default: '3' },
      'sweep-runs': { type: 'string' },
      only: { type: 'string', default: '' },
      preallocate: { type: 'string', default: 'default' },
      'duration-ms': { type: 'string' },
      'log-mib': { type: 'string' },
      dir: { type: 'string' },
      'no-count-syncs': { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const profile = values.quick === true ? QUICK : FULL;
  const durationMs = positiveInteger('--duration-ms', values['duration-ms'] ?? String(profile.durationMs));
  const runCount = positiveInteger('--runs', values.runs ?? '3');
  return {
    quick: values.quick === true,
    runCount,
    sweepRunCount: positiveInteger('--sweep-runs', values['sweep-runs'] ?? String(runCount)),
    only: (values.only ?? '').split(',').map((token) => token.trim()).filter((token) => token.length > 0),
    preallocate: preallocateChoices(values.preallocate ?? 'default'),
    durationMs,
    warmupMs: Math.min(profile.warmupMs, Math.floor(durationMs / 10)),
    logMiB: positiveInteger('--log-mib', values['log-mib'] ?? String(profile.logMiB)),
    dir: values.dir ?? null,
    countSyncs: values['no-count-syncs'] !== true,
    strict: values.strict === true,
    help: values.help === true,
  };
}

function positiveInteger(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`Cannot parse ${name}: expected a positive integer, got "${text}"`);
  return value;
}

function preallocateChoices(text: string): PreallocateChoice[] {
  switch (text) {
    case 'default':
      return ['default'];
    case 'on':
    case 'true':
      return ['on'];
    case 'off':
    case 'false':
      return ['off'];
    case 'both':
      return ['off', 'on'];
    default:
      throw new RangeError(`Cannot parse --preallocate: expected default, on, off or both, got "${text}"`);
  }
}

/** True when `id` is selected by `only` (empty selects everything). */
export function isSelected(only: readonly string[], id: string): boolean {
  if (only.length === 0) return true;
  return only.some((token) => id === token || id.startsWith(`${token}/`) || token.startsWith(`${id}/`));
}
