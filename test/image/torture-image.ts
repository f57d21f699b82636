/**
 * Power loss on a real file system (`npm run torture:image`, not in CI).
 *
 * A log lives on an ext4 file system in a loop-mounted image file. While a
 * child process appends with fsync 'always', the backing image is copied at
 * random moments: each copy is what a disk would hold if the power went
 * then. Each copy is mounted (ext4 replays its journal), the log recovered,
 * and every record acknowledged before the copy began must be there with
 * its bytes. Needs root (mount, losetup); skips with the reason otherwise.
 *
 * With --manager the child writes 4 partitions of a WalManager with the
 * shared journal instead (rotation every 100 records, journal checkpoints),
 * so the copies also test the journal's replay on a real file system.
 *
 * With --batch the log runs under { batch: { intervalMs: 5 } } with a
 * rotation every 100 records: what must survive is every record below the
 * durable offset the child reported before the copy began (acknowledged
 * records beyond it may be lost; that is the batch promise).
 *
 * Usage: node build/test/image/torture-image.js [--images N] [--seed S] [--manager | --batch]
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { Wal, WalManager } from '../../src/index.js';
import { imageRecord } from './image-record.js';

/** Acknowledged records: key `partition/offset` (partition 0 for a lone log) -> the record's seed. */
type Acknowledged = ReadonlyMap<string, number>;

const IMAGE_SIZE_BYTES = 2 * 1024 * 1024 * 1024;
const CHILD = fileURLToPath(new URL('./image-child.js', import.meta.url));
const MANAGER_CHILD = fileURLToPath(new URL('./image-manager-child.js', import.meta.url));
const IMAGE_TOPIC = 'image';

function run(command: string, args: string[]): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}${result.error?.message ?? ''}`.trim() };
}

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every acknowledged record of `partition` must be in `found` with its bytes. */
function compare(found: ReadonlyMap<number, Buffer>, acknowledged: Acknowledged, partition: number, range: string): string | null {
  for (const [key, seed] of acknowledged) {
    const [keyPartition, keyOffset] = key.split('/').map(Number);
    if (keyPartition !== partition || keyOffset === undefined) continue;
    const data = found.get(keyOffset);
    if (data === undefined) return `acknowledged offset ${keyOffset} of partition ${partition} missing (log holds ${range})`;
    if (!data.equals(imageRecord(seed))) return `offset ${keyOffset} of partition ${partition} holds other bytes than were acknowledged`;
  }
  return null;
}

async function checkManager(dir: string, acknowledged: Acknowledged): Promise<string | null> {
  // After a real power cut no process is alive: every LOCK is stale.
  for (const lock of ['~manager/LOCK', '~manager/journal/LOCK', ...[0, 1, 2, 3].map((partition) => `${IMAGE_TOPIC}/${partition}/LOCK`)]) {
    rmSync(join(dir, lock), { force: true });
  }
  let replayed = 'no journal to replay';
  const note = (object: object, message?: string): void => {
    if (message === 'replayed the shared journal') {
      const { entryCount, replayedBytes, createdFileCount } = (object as { replay: { entryCount: number; replayedBytes: number; createdFileCount: number } }).replay;
      replayed = `replayed ${entryCount} journal entries, ${replayedBytes} bytes, ${createdFileCount} files recreated`;
    }
  };
  const logger = { debug: note, info: note, warn: note, error: note };
  const manager = await WalManager.open({ dir, retentionIntervalMs: 0, logger });
  try {
    for (const partition of manager.partitions(IMAGE_TOPIC)) {
      const found = new Map<number, Buffer>();
      for await (const record of manager.read(IMAGE_TOPIC, partition)) found.set(record.offset, Buffer.from(record.data));
      const problem = compare(found, acknowledged, partition, `${found.size} records`);
      if (problem !== null) return problem;
    }
    console.log(`  ${replayed}`);
    return null;
  } finally {
    await manager.close();
  }
}

async function checkImage(imagePath: string, mountPoint: string, acknowledged: Acknowledged, managerMode: boolean): Promise<string | null> {
  const mounted = run('mount', ['-o', 'loop', imagePath, mountPoint]);
  if (!mounted.ok) return `mount of the copy failed: ${mounted.output}`;
  try {
    if (managerMode) return await checkManager(join(mountPoint, 'log'), acknowledged);
    // After a real power cut no process is alive: the writer's LOCK (which
    // names the child, still running here) is stale by definition.
    rmSync(join(mountPoint, 'log', 'LOCK'), { force: true });
    const wal = await Wal.open({ dir: join(mountPoint, 'log') });
    try {
      const found = new Map<number, Buffer>();
      for await (const record of wal.read()) found.set(record.offset, Buffer.from(record.data));
      return compare(found, acknowledged, 0, `[${wal.firstOffset}, ${wal.nextOffset})`);
    } finally {
      await wal.close();
    }
  } finally {
    run('umount', [mountPoint]);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: '20' },
      seed: { type: 'string' },
      manager: { type: 'boolean', default: false },
      batch: { type: 'boolean', default: false },
    },
  });
  const managerMode = values.manager === true;
  const batchMode = values.batch === true;
  if (managerMode && batchMode) throw new Error('choose one of --manager and --batch');
  const imageCount = Number(values.images);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  const random = mulberry32(seed);
  console.log(`torture:image${managerMode ? ' --manager' : batchMode ? ' --batch' : ''} seed ${seed} (replay with --seed ${seed}), ${imageCount} images`);
  for (const tool of ['mkfs.ext4', 'mount', 'umount']) {
    if (!run('which', [tool]).ok) {
      console.log(`skipped: ${tool} is not installed`);
      return;
    }
  }
  const work = mkdtempSync(join(tmpdir(), 'tidewal-image-'));
  const image = join(work, 'disk.img');
  const live = join(work, 'live');
  const copyMount = join(work, 'copy');
  mkdirSync(live);
  mkdirSync(copyMount);
  writeFileSync(image, '');
  run('truncate', ['-s', String(IMAGE_SIZE_BYTES), image]);
  const formatted = run('mkfs.ext4', ['-q', '-F', image]);
  const mounted = formatted.ok ? run('mount', ['-o', 'loop', image, live]) : formatted;
  if (!mounted.ok) {
    console.log(`skipped: cannot make or mount an ext4 image here (${mounted.output})`);
    rmSync(work, { recursive: true, force: true });
    return;
  }
  let failures = 0;
  let child: ReturnType<typeof spawn> | null = null;
  try {
    const childArgs = managerMode ? [MANAGER_CHILD, join(live, 'log')] : [CHILD, join(live, 'log'), ...(batchMode ? ['batch'] : [])];
    child = spawn(process.execPath, childArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
    const acknowledged = new Map<string, number>();
    // Under --batch: every offset below this was reported durable.
    let durableOffset = 0;
    let pending = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [kind, given, recordSeed, partition] = line.split(' ');
        if (kind === 'A') acknowledged.set(`${partition ?? 0}/${given}`, Number(recordSeed));
        if (kind === 'D') durableOffset = Number(given);
      }
    });
    await delay(500);
    for (let imageIndex = 0; imageIndex < imageCount; imageIndex++) {
      await delay(50 + Math.floor(random() * 400));
      const durableBefore = durableOffset;
      const before = batchMode
        ? new Map([...acknowledged].filter(([key]) => Number(key.split('/')[1]) < durableBefore))
        : new Map(acknowledged);
      const copy = join(work, `copy-${imageIndex}.img`);
      copyFileSync(image, copy);
      const problem = await checkImage(copy, copyMount, before, managerMode).catch((error: unknown) => `recovery failed: ${String(error)}`);
      rmSync(copy, { force: true });
      if (problem !== null) failures += 1;
      const what = batchMode ? `${before.size} durable (of ${acknowledged.size} acknowledged)` : `${before.size} acknowledged`;
      console.log(`image ${imageIndex + 1}/${imageCount}: ${what} before the copy: ${problem ?? 'all there'}`);
    }
  } finally {
    child?.kill('SIGKILL');
    // The child must be gone before the file system can be unmounted.
    for (let attempt = 0; attempt < 50 && !run('umount', [live]).ok; attempt++) await delay(100);
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`torture:image: ${imageCount} images checked, ${failures} failed (seed ${seed})`);
  if (failures > 0) process.exitCode = 1;
}

await main();
