#!/usr/bin/env node
/**
 * The `tidewal` command. Exit codes: 0 success; 1 the run failed (a failed
 * write, a verification error, or an I/O error); 2 bad flags.
 */
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError as FlagError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { assert } from '../assert.js';
import { WalError } from '../errors.js';
import { parseDuration, parseFsync, runStress } from './stress.js';
import type { StressOptions, StressProgress, StressReport } from './stress.js';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/** A commander argument parser from one of ours: our error becomes commander's "invalid argument". */
function flag<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (error) {
      throw new FlagError(error instanceof Error ? error.message : String(error));
    }
  };
}

function integerIn(min: number, max: number): (text: string) => number {
  return flag((text) => {
    const value = Number(text);
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`must be an integer in [${min}, ${max}], got ${JSON.stringify(text)}`);
    }
    return value;
  });
}

const folderPath = flag((text) => {
  if (text.trim().length === 0) throw new Error(`must be a folder path, got ${JSON.stringify(text)}`);
  return text;
});

function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

interface StressFlags {
  producers: number;
  partitions: number;
  recordBytes: number;
  rotateRecords: number;
  duration: number;
  fsync: StressOptions['fsync'] & {};
  syncStream: StressOptions['syncStream'] & {};
  dir?: string;
  json?: boolean;
}

function buildProgram(): Command {
  const program = new Command()
    .name('tidewal')
    .description('tidewal: a durable, segmented, group-committed write-ahead log')
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  program
    .command('stress')
    .description('Append from many producers to the partitions of one topic, then read every record back and check it')
    .addOption(new Option('--producers <count>', 'concurrent producers (producer i writes partition i % partitions)').argParser(integerIn(1, 100_000)).default(16))
    .addOption(new Option('--partitions <count>', 'partitions of the topic').argParser(integerIn(1, 65_536)).default(4))
    .addOption(new Option('--record-bytes <bytes>', 'bytes per record (at least 16)').argParser(integerIn(16, 16 * 1024 * 1024)).default(1024))
    .addOption(new Option('--rotate-records <count>', 'rotate segments every this many records').argParser(integerIn(1, Number.MAX_SAFE_INTEGER)).default(100))
    .addOption(new Option('--duration <time>', 'how long to append: 500ms, 10s, 2m (a bare number is seconds)').argParser(flag(parseDuration)).default(10_000, '10s'))
    .addOption(new Option('--fsync <policy>', 'always | os | batch:<intervalMs>').argParser(flag(parseFsync)).default('always'))
    .addOption(
      new Option('--sync-stream <stream>', "under 'always': one journal shared by all partitions, or each log its own O_DSYNC writes")
        .choices(['shared', 'per-log'])
        .default('shared'),
    )
    .addOption(new Option('--dir <path>', 'folder for the logs, new or empty, kept afterwards (default: a temp folder, removed)').argParser(folderPath))
    .option('--json', 'print the report as JSON on stdout')
    .action(async (flags: StressFlags) => {
      process.exitCode = await stress(flags);
    });
  return program;
}

async function stress(flags: StressFlags): Promise<number> {
  // The CLI makes the temp folder itself, so that Ctrl-C or a kill removes it too.
  const tempDir = flags.dir === undefined ? await mkdtemp(join(tmpdir(), 'tidewal-stress-')) : null;
  const dir = tempDir ?? flags.dir;
  assert(dir !== undefined, 'the stress test has a folder');
  const bar = process.stderr.isTTY === true ? new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'stress |{bar}| {elapsed}/{total}s | {records} records | {rate} records/s | {mbps} MB/s',
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  ) : null;
  bar?.start(Math.round(flags.duration / 1000), 0, { elapsed: 0, records: 0, rate: 0, mbps: 0 });
  const onProgress = (progress: StressProgress): void => {
    const elapsed = Math.round(progress.elapsedMs / 1000);
    bar?.update(elapsed, { elapsed, records: progress.records, rate: progress.recordsPerSecond, mbps: progress.megabytesPerSecond });
  };
  const removeAndDie = (signal: NodeJS.Signals): void => {
    process.removeListener('SIGINT', removeAndDie);
    process.removeListener('SIGTERM', removeAndDie);
    try {
      if (tempDir !== null) {
        // Moved first: file and folder creations queued on the thread pool
        // then miss (ENOENT) instead of landing in the folder being removed;
        // the few already past their path lookup are what the retries are for.
        const doomed = `${tempDir}.removing`;
        renameSync(tempDir, doomed);
        rmSync(doomed, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
      }
    } catch {
      // Best effort: the signal must still end the process.
    } finally {
      // Ends the way the signal would have: its default action, its exit status.
      process.kill(process.pid, signal);
    }
  };
  if (tempDir !== null) {
    process.once('SIGINT', removeAndDie);
    process.once('SIGTERM', removeAndDie);
  }
  let report: StressReport;
  try {
    report = await runStress({
      producers: flags.producers,
      partitions: flags.partitions,
      recordBytes: flags.recordBytes,
      rotateRecords: flags.rotateRecords,
      durationMs: flags.duration,
      fsync: flags.fsync,
      syncStream: flags.syncStream,
      dir,
      ...(bar === null ? {} : { onProgress }),
    });
  } finally {
    bar?.stop();
    if (tempDir !== null) {
      process.removeListener('SIGINT', removeAndDie);
      process.removeListener('SIGTERM', removeAndDie);
      await rm(tempDir, { recursive: true, force: true });
    }
  }
  if (flags.json === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(formatReport(report));
  return report.ok ? 0 : EXIT_FAILED;
}

/** The human-readable table. */
function formatReport(report: StressReport): string {
  const { config } = report;
  const rows: [string, string][] = [
    ['workload', `${config.producers} producers, ${config.partitions} partitions, ${config.recordBytes} B records, rotate every ${config.rotateRecords}, fsync ${config.fsync}${config.fsync === 'always' ? `, ${config.syncStream} sync stream` : ''}`],
    ['duration', `${(report.elapsedMs / 1000).toFixed(1)} s`],
    ['records', report.records.toLocaleString('en-US')],
    ['throughput', `${report.recordsPerSecond.toLocaleString('en-US')} records/s, ${report.megabytesPerSecond.toFixed(1)} MB/s`],
    ['append latency', `p50 ${ms(report.latencyUs.p50)}, p99 ${ms(report.latencyUs.p99)}, p999 ${ms(report.latencyUs.p999)}, max ${ms(report.latencyUs.max)}`],
    ['fairness', `${report.fairness.toFixed(3)} (min ${report.producerRecordsMin} / max ${report.producerRecordsMax} records per producer)`],
    ['rotations', `${report.rotations} (${report.segments} segments)`],
    ['failed writes', String(report.failedWrites)],
    [
      'verification',
      report.verification.ok
        ? `ok, ${report.verification.recordsChecked.toLocaleString('en-US')} records checked in ${(report.verification.durationMs / 1000).toFixed(1)} s`
        : `FAILED: ${report.verification.errors.join('; ')}`,
    ],
    ['result', report.ok ? 'PASS' : 'FAIL'],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const lines = rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`);
  for (const failure of report.failures) lines.push(`${'failure'.padEnd(width)}  ${failure}`);
  return `${lines.join('\n')}\n`;
}

function ms(valueUs: number): string {
  return `${(valueUs / 1000).toFixed(2)} ms`;
}

async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version "exit" with code 0; every other commander error is bad usage.
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    if (error instanceof WalError && error.code === 'INVALID_ARGUMENT') {
      process.stderr.write(`tidewal: ${error.message}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    // A typed error or a system call's error says what to do in its message;
    // only an error without a code (a bug) is worth its stack.
    const code = (error as { code?: unknown } | null)?.code;
    const text = error instanceof Error ? (typeof code === 'string' ? error.message : (error.stack ?? error.message)) : String(error);
    process.stderr.write(`tidewal: ${text}\n`);
    process.exitCode = EXIT_FAILED;
  }
}

await main(process.argv);
