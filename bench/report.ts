/**
 * Output: a markdown table on stdout, `bench/results/latest.json` with every
 * run's figures, and `bench/results/summary.md` with the table and the
 * machine it was measured on.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MachineInfo } from './machine.js';
import type { MeasurementSummary } from './measurement.js';
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
  const runCount = report.rows[0]?.engine.runCount ?? 0;
  return [
    `# tidewal benchmark`,
    '',
    `\`${report.command}\` — ${report.startedAt} to ${report.finishedAt}; medians of ${runCount} run(s).`,
    '',
    ...machineLines(report.machine),
    '',
    '## tidewal against the reference measured in the same run',
    '',
    resultTable(report.rows),
    '',
    '## Reference (raw node:fs)',
    '',
    referenceTable(report.references),
    '',
    '## Notes',
    '',
    '- MB/s are decimal megabytes of record payload per second (W6: segment-file bytes, the same for both readers).',
    '- Latency is per awaited operation: per append, per appendBatch of 100 (W3), per window of 1000 appends (W4 pipelined).',
    '- rec/fsync counts fdatasync calls (and O_DSYNC writes) seen through a counting FileSystem; blank when unknown.',
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
