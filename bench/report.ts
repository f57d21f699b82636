/**
 * Output: a markdown table on stdout, `bench/results/latest.json` with every
 * run's figures, and `bench/results/summary.md` with the table and the
 * machine it was measured on.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MachineInfo } from './machine.js';
import type { MeasurementSummary } from './measurement.js';
import type { StressRow, StressSection } from './stress-workloads.js';
import type { ResultRow } from './targets.js';
import { targetText } from './targets.js';

export interface ReferenceEntry {
  readonly id: string;
  readonly title: string;
  readonly summary: MeasurementSummary;
}

export interface BenchReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly command: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly machine: MachineInfo;
  readonly rows: readonly ResultRow[];
  readonly references: readonly ReferenceEntry[];
  /** S1 and the partition sweep; `null` when neither ran. */
  readonly stress: StressSection | null;
  readonly notes: readonly string[];
}

const INTEGER = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const ONE_DECIMAL = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const TWO_DECIMALS = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function integer(value: number | null): string {
  return value === null || !Number.isFinite(value) ? '' : INTEGER.format(value);
}

function decimal(value: number | null): string {
  return value === null || !Number.isFinite(value) ? '' : ONE_DECIMAL.format(value);
}

function metricValue(summary: MeasurementSummary, metric: ResultRow['metric']): string {
  switch (metric) {
    case 'recordsPerSecond':
      return `${integer(summary.recordsPerSecond)} rec/s`;
    case 'megabytesPerSecond':
      return `${decimal(summary.megabytesPerSecond)} MB/s`;
    case 'elapsedMs':
      return `${TWO_DECIMALS.format(summary.elapsedMs)} ms`;
  }
}

function resultText(row: ResultRow): string {
  if (row.pass === null) return '';
  return row.pass ? 'pass' : '**FAIL**';
}

function markdownTable(header: readonly string[], lines: readonly (readonly string[])[]): string {
  const out = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const line of lines) out.push(`| ${line.join(' | ')} |`);
  return out.join('\n');
}

/** Rates are blank for W7, times only for W7: each row shows the figures that mean something for it. */
export function resultTable(rows: readonly ResultRow[]): string {
  return markdownTable(
    ['workload', 'records/s', 'MB/s', 'ms', 'p50 us', 'p99 us', 'p999 us', 'rec/fsync', 'reference', 'ref figure', 'ratio', 'target', 'result'],
    rows.map((row) => {
      const timed = row.metric === 'elapsedMs';
      return [
        row.title,
        timed ? '' : integer(row.engine.recordsPerSecond),
        timed ? '' : decimal(row.engine.megabytesPerSecond),
        timed ? TWO_DECIMALS.format(row.engine.elapsedMs) : '',
        integer(row.engine.p50Us),
        integer(row.engine.p99Us),
        integer(row.engine.p999Us),
        decimal(row.engine.recordsPerSync),
        row.reference?.title ?? '',
        row.reference === null ? '' : metricValue(row.reference.summary, row.metric),
        row.ratio === null ? '' : `${TWO_DECIMALS.format(row.ratio)}x`,
        targetText(row.target),
        resultText(row),
      ];
    }),
  );
}

export function referenceTable(references: readonly ReferenceEntry[]): string {
  return markdownTable(
    ['reference', 'records/s', 'MB/s', 'p50 us', 'p99 us', 'p999 us', 'rec/fsync'],
    references.map(({ title, summary }) => [
      title,
      integer(summary.recordsPerSecond),
      decimal(summary.megabytesPerSecond),
      integer(summary.p50Us),
      integer(summary.p99Us),
      integer(summary.p999Us),
      decimal(summary.recordsPerSync),
    ]),
  );
}

function fairnessText(row: StressRow): string {
  const median = TWO_DECIMALS.format(row.fairness);
  return row.measurement.runCount > 1 ? `${median} (${TWO_DECIMALS.format(row.fairnessMin)})` : median;
}

function stressResultText(row: StressRow): string {
  if (row.pass) return 'pass';
  return `**FAIL** (${row.checks.filter((check) => !check.pass).map((check) => check.name).join(', ')})`;
}

/** The figures every stress row shows, after its name. */
function stressFigures(row: StressRow): string[] {
  return [
    String(row.measurement.runCount),
    integer(row.measurement.recordsPerSecond),
    decimal(row.measurement.megabytesPerSecond),
    integer(row.measurement.p50Us),
    integer(row.measurement.p99Us),
    integer(row.measurement.p999Us),
    fairnessText(row),
    integer(row.failedWrites),
    integer(row.rotations),
    row.verified ? 'yes' : '**no**',
  ];
}

const STRESS_FIGURE_HEADER = ['runs', 'records/s', 'MB/s', 'p50 us', 'p99 us', 'p999 us', 'fairness (min)', 'failed writes', 'rotations', 'verified'];

/** S1 against issue 3's absolute targets; the raw W2 loop of the same run beside it as context. */
export function s1Table(rows: readonly StressRow[]): string {
  return markdownTable(
    ['workload', ...STRESS_FIGURE_HEADER, 'reference', 'ref records/s', 'ratio', 'targets', 'result'],
    rows.map((row) => [
      row.title,
      ...stressFigures(row),
      row.reference?.title ?? '',
      row.reference === null ? '' : integer(row.reference.summary.recordsPerSecond),
      row.ratio === null ? '' : `${TWO_DECIMALS.format(row.ratio)}x`,
      row.checks.map((check) => check.name).join(', '),
      stressResultText(row),
    ]),
  );
}

export function sweepTable(rows: readonly StressRow[]): string {
  return markdownTable(
    ['partitions', 'sync stream', ...STRESS_FIGURE_HEADER, 'result'],
    rows.map((row) => [String(row.partitions), row.syncStream, ...stressFigures(row), stressResultText(row)]),
  );
}

function stressLines(stress: StressSection): string[] {
  const lines: string[] = [];
  const seconds = `${(stress.durationMs / 1000).toFixed(1)} s`;
  if (stress.s1.length > 0) {
    lines.push(
      '## Stress test S1 (issue 3): absolute targets',
      '',
      `\`runStress\` of src/cli/stress.ts, ${seconds} per run, medians of ${stress.s1RunCount} run(s); ` +
        'the ratio to the raw group-commit loop W2 (64 producers, one file) measured in the same run is context, not a target.',
      '',
      s1Table(stress.s1),
      '',
    );
  }
  if (stress.sweep.length > 0) {
    lines.push(
      "## Partition sweep: 16 producers, 1 KiB, rotate 100, 'always'",
      '',
      `${seconds} per run, medians of ${stress.sweepRunCount} run(s) per partition count. ` +
        'Producer i writes partition i % partitions, so at 64 partitions 48 of them stay empty.',
      '',
      sweepTable(stress.sweep),
      '',
    );
    const check = stress.sweepCheck;
    if (check !== null) {
      lines.push(
        `Check: records/s at ${check.to.slice(2)} partitions (${integer(check.toRecordsPerSecond)}) >= records/s at ` +
          `${check.from.slice(2)} partition (${integer(check.fromRecordsPerSecond)}): ${TWO_DECIMALS.format(check.ratio)}x, ` +
          `${check.pass ? 'pass' : '**FAIL**'}`,
        '',
      );
    }
  }
  return lines;
}

function machineLines(machine: MachineInfo): string[] {
  return [
    `- Node ${machine.nodeVersion} (V8 ${machine.v8Version}), ${machine.platform}, kernel ${machine.kernel}`,
    `- CPU: ${machine.cpuCount} x ${machine.cpuModel}; memory ${INTEGER.format(machine.memoryBytes / 2 ** 20)} MiB`,
    `- Disk: ${machine.device}, file system ${machine.fileSystem}, scratch folder ${machine.scratchDir}`,
    `- UV_THREADPOOL_SIZE ${machine.uvThreadpoolSize}, UV_USE_IO_URING ${machine.uvUseIoUring}, root ${machine.root}`,
  ];
}

/** The whole report as markdown (also what summary.md holds). */
export function formatReport(report: BenchReport): string {
  const runCount = report.rows[0]?.engine.runCount ?? report.stress?.s1[0]?.measurement.runCount ?? report.options['runCount'];
  const rowLines = report.rows.length === 0 ? [] : ['## tidewal against the reference measured in the same run', '', resultTable(report.rows), ''];
  return [
    `# tidewal benchmark`,
    '',
    `\`${report.command}\` — ${report.startedAt} to ${report.finishedAt}; medians of ${String(runCount)} run(s).`,
    '',
    ...machineLines(report.machine),
    '',
    ...rowLines,
    ...(report.stress === null ? [] : stressLines(report.stress)),
    '## Reference (raw node:fs)',
    '',
    referenceTable(report.references),
    '',
    '## Notes',
    '',
    '- MB/s are decimal megabytes of record payload per second (W6: segment-file bytes, the same for both readers).',
    '- Latency is per awaited operation: per append, per appendBatch of 100 (W3), per window of 1000 appends (W4 pipelined).',
    '- rec/fsync counts fdatasync calls (and O_DSYNC writes) seen through a counting FileSystem; blank when unknown.',
    ...(report.stress === null
      ? []
      : [
          '- S1 and sweep: latency is per append (each producer awaits its own); fairness is fewest / most records of one producer, ' +
            'median over runs (lowest run in brackets); failed writes are summed over runs; verified means every run read back ' +
            'every partition after a reopen and found every acknowledged record intact.',
        ]),
    ...report.notes.map((note) => `- ${note}`),
    '',
  ].join('\n');
}

/** Writes latest.json and summary.md into `resultsDir`; returns their paths. */
export function writeReport(resultsDir: string, report: BenchReport): { jsonPath: string; summaryPath: string } {
  fs.mkdirSync(resultsDir, { recursive: true });
  const jsonPath = path.join(resultsDir, 'latest.json');
  const summaryPath = path.join(resultsDir, 'summary.md');
  fs.writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(summaryPath, formatReport(report));
  return { jsonPath, summaryPath };
}
