/**
 * An in-memory FileSystem that models what a power cut can do, so that
 * tests can catch a missing fsync (a `kill -9` test cannot: the page cache
 * survives the process).
 *
 * Per file (inode) it keeps the content as of the last `datasync` and the
 * operations (writes, truncates) since then, in order. Per folder it keeps
 * the durable entries and the entry operations (create, rename, unlink)
 * since the last `syncDir`. A write through a handle opened with `dsync`
 * (O_DSYNC) is durable when it returns; `datasync` makes every earlier write
 * and truncate of the file durable; `syncDir` makes every earlier entry
 * operation of that folder durable. Earlier means made before the call: one
 * made while a sync is in flight may still be lost.
 *
 * {@link SimulatedFileSystem.powerCut} builds the state a reboot would find:
 * each unsynced write is kept, dropped, torn (a random subset of its 512-byte
 * sectors kept) or garbled (random bytes in place of some sectors), each
 * unsynced truncate kept or dropped, and each folder keeps a random prefix
 * of its unsynced entry operations (a journaling file system commits them
 * in order, and a rename is atomic: the name points at the old file or the
 * new one, never at neither). Everything is driven by a seeded PRNG, so a
 * seed replays a case exactly, as long as the engine takes its time from
 * {@link SimulatedFileSystem.clock} (option `clock`): simulated time moves
 * only with calls, so the engine's time-based scheduling choices replay too.
 *
 * Simplifications, on purpose: `mkdir` is durable at once (the engine
 * creates folders once, before anything else); a rename must stay in one
 * folder (the engine never moves files between folders); a file whose name
 * is lost loses its data too (it is unreachable).
 *
 * @example
 * const simulated = new SimulatedFileSystem({ seed: 42 });
 * const wal = await Wal.open({ dir: '/log', fileSystem: simulated });
 * await wal.append('x');
 * const rebooted = simulated.powerCut();          // simulated is now dead (EIO)
 * const again = await Wal.open({ dir: '/log', fileSystem: rebooted });
 */
import { dirname, basename, posix } from 'node:path';
import type { Clock } from './clock.js';
import type { FileHandle, FileSystem, OpenOptions } from './file-system.js';
import { errnoError } from './faulty-file-system.js';

/** The unit a disk writes atomically; a torn write keeps some sectors and loses others. */
export const SECTOR_SIZE_BYTES = 512;

/**
 * mulberry32: a tiny, fast, well-mixed 32-bit PRNG. Enough for test
 * decisions; `Math.random` is not seedable.
 */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let value = this.#state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, bound). */
  below(bound: number): number {
    return Math.floor(this.next() * bound);
  }

  /** True with probability `probability`. */
  chance(probability: number): boolean {
    return this.next() < probability;
  }

  /** Random bytes. */
  bytes(sizeBytes: number): Buffer {
    const buffer = Buffer.allocUnsafe(sizeBytes);
    for (let index = 0; index < sizeBytes; index++) buffer[index] = this.below(256);
    return buffer;
  }
}

/** What happens to an unsynced write at a power cut. */
export type WriteFate = 'keep' | 'drop' | 'tear' | 'garble';

/** How a power cut treats unsynced data. Weights need not sum to 1. */
export interface PowerCutOptions {
  /** Relative weights of each fate of an unsynced write. @default keep 3, drop 3, tear 2, garble 1 */
  readonly weights?: Partial<Record<WriteFate, number>>;
  /**
   * 'any': every unsynced write of a file meets its fate on its own (the
   * kernel writes pages back in any order). 'prefix': writes of a file
   * survive in order: some are kept, then one may be torn or garbled, and
   * the rest are lost. @default 'any'
   */
  readonly order?: 'any' | 'prefix';
}

/** Counters of what the last power cut did, for tests and reports. */
export interface PowerCutReport {
  kept: number;
  dropped: number;
  torn: number;
  garbled: number;
  truncatesKept: number;
  truncatesDropped: number;
  entryOpsKept: number;
  entryOpsUndone: number;
}

type FileOp =
  | { readonly kind: 'write'; readonly filePosition: number; readonly bytes: Buffer; readonly durable: boolean }
  | { readonly kind: 'truncate'; readonly sizeBytes: number };

/** One file's bytes: what a datasync made durable, plus what came after. */
class Inode {
  readonly id: number;
  /** Content as of the last datasync (or as the last power cut left it). */
  base: Buffer;
  /** Writes and truncates since then, in order. */
  ops: FileOp[];
  /** Writes and truncates made durable so far (`ops` holds the rest): a datasync covers only those made before it was called. */
  durableCount = 0;
  /** The current content (what reads see). */
  current: Buffer;
  /** Bytes of `current` that are real; the buffer grows by doubling. */
  sizeBytes: number;

  constructor(id: number, content: Buffer) {
    this.id = id;
    this.base = content;
    this.ops = [];
    this.current = Buffer.from(content);
    this.sizeBytes = content.length;
  }

  content(): Buffer {
    return this.current.subarray(0, this.sizeBytes);
  }

  write(bytes: Buffer, filePosition: number, durable: boolean): void {
    this.ops.push({ kind: 'write', filePosition, bytes: Buffer.from(bytes), durable });
    const end = filePosition + bytes.length;
    this.#reserve(end);
    if (filePosition > this.sizeBytes) this.current.fill(0, this.sizeBytes, filePosition);
    bytes.copy(this.current, filePosition);
    this.sizeBytes = Math.max(this.sizeBytes, end);
  }

  truncate(sizeBytes: number): void {
    this.ops.push({ kind: 'truncate', sizeBytes });
    this.#reserve(sizeBytes);
    if (sizeBytes > this.sizeBytes) this.current.fill(0, this.sizeBytes, sizeBytes);
    this.sizeBytes = sizeBytes;
  }

  /** fdatasync: everything so far is durable. */
  /** Writes and truncates made so far. */
  get recordedCount(): number {
    return this.durableCount + this.ops.length;
  }

  sync(): void {
    this.base = Buffer.from(this.content());
    this.durableCount = this.recordedCount;
    this.ops = [];
  }

  #reserve(sizeBytes: number): void {
    if (sizeBytes <= this.current.length) return;
    const grown = Buffer.alloc(Math.max(sizeBytes, this.current.length * 2, 4096));
    this.current.copy(grown, 0, 0, this.sizeBytes);
    this.current = grown;
  }
}

type EntryOp =
  | { readonly kind: 'link'; readonly name: string; readonly inode: Inode }
  | { readonly kind: 'unlink'; readonly name: string }
  | { readonly kind: 'rename'; readonly fromName: string; readonly toName: string };

/** A folder: durable names, and entry operations since its last fsync. */
class Directory {
  durable: Map<string, Inode>;
  current: Map<string, Inode>;
  /** Entry changes since `durable`, oldest first. */
  ops: EntryOp[];
  /** Entry changes made durable so far (`ops` holds the rest): a folder fsync covers only those made before it was called. */
  durableCount = 0;

  constructor(entries: Map<string, Inode>) {
    this.durable = entries;
    this.current = new Map(entries);
    this.ops = [];
  }

  apply(op: EntryOp, entries: Map<string, Inode>): void {
    switch (op.kind) {
      case 'link':
        entries.set(op.name, op.inode);
        return;
      case 'unlink':
        entries.delete(op.name);
        return;
      case 'rename': {
        const inode = entries.get(op.fromName);
        if (inode === undefined) return;
        entries.delete(op.fromName);
        entries.set(op.toName, inode);
        return;
      }
    }
  }

  record(op: EntryOp): void {
    this.ops.push(op);
    this.apply(op, this.current);
  }

  /** Entry changes made so far. */
  get recordedCount(): number {
    return this.durableCount + this.ops.length;
  }

  /** Makes the changes recorded before `coveredCount` was read durable; later ones stay pending. */
  sync(coveredCount: number): void {
    const newlyCovered = coveredCount - this.durableCount;
    if (newlyCovered <= 0) return;
    for (const op of this.ops.slice(0, newlyCovered)) this.apply(op, this.durable);
    this.ops = this.ops.slice(newlyCovered);
    this.durableCount = coveredCount;
  }
}

/** Options of {@link SimulatedFileSystem}. */
export interface SimulatedFileSystemOptions {
  /** Seeds the PRNG behind every random choice (power-cut fates, call latencies). @default 1 */
  readonly seed?: number;
  /**
   * Mutating calls (write, writeSync, datasync, truncate, open with create,
   * rename, unlink, syncDir) to let through before the power is cut
   * automatically. The call that reaches it is cut: a write is left
   * unsynced (and meets a random fate), anything else does not happen. That
   * call and every later one fail with EIO; {@link SimulatedFileSystem.afterCut}
   * holds the rebooted state. @default Infinity (never)
   */
  readonly cutAtStep?: number;
  /** How the automatic cut treats unsynced data. */
  readonly powerCut?: PowerCutOptions;
  /** Where {@link SimulatedFileSystem.clock} starts, in ms since the epoch. @default 2026-01-01 */
  readonly clockStartMs?: number;
  /** Simulated time each call takes; different values give the engine's time-based choices different turns. @default 0.1 */
  readonly callMs?: number;
  /** Keep every call's syscall and path in {@link SimulatedFileSystem.trace}, to compare runs. @default false */
  readonly trace?: boolean;
}

/** Simulated time one call takes: calls are the only thing that moves the simulated clock. */
const CALL_MS_DEFAULT = 0.1;
const CLOCK_START_MS_DEFAULT = Date.UTC(2026, 0, 1);

function enoent(syscall: string, path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`ENOENT: no such file or directory, ${syscall} '${path}'`);
  error.code = 'ENOENT';
  error.errno = -2;
  error.syscall = syscall;
  error.path = path;
  return error;
}

function eexist(path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`EEXIST: file already exists, open '${path}'`);
  error.code = 'EEXIST';
  error.errno = -17;
  error.syscall = 'open';
  error.path = path;
  return error;
}

const DEFAULT_WEIGHTS: Record<WriteFate, number> = { keep: 3, drop: 3, tear: 2, garble: 1 };
const FATES: readonly WriteFate[] = ['keep', 'drop', 'tear', 'garble'];

/** An in-memory file system with durable and unsynced state; see the file comment. */
export class SimulatedFileSystem implements FileSystem {
  /** Mutating calls made so far (the steps `cutAtStep` counts). */
  stepCount: number;
  /** Every call made so far, mutating or not. */
  callCount: number;
  /** The rebooted state once an automatic cut (`cutAtStep`) has happened, else null. */
  afterCut: SimulatedFileSystem | null;
  /** What the power cut that made this state did (zeros for a fresh one). */
  readonly cutReport: PowerCutReport;
  /**
   * Time that advances by a fixed step with every call (none otherwise):
   * an engine opened with this clock makes the same time-based choices in
   * every replay of a seed. A rebooted state's clock goes on from here.
   */
  readonly clock: Clock;
  /** Every call as `syscall path`, in order, when the `trace` option is set (else empty). */
  readonly trace: string[];
  readonly #tracing: boolean;
  readonly #clockStartMs: number;
  readonly #callMs: number;
  readonly #directories: Map<string, Directory>;
  readonly #random: Prng;
  readonly #cutAtStep: number;
  readonly #powerCutOptions: PowerCutOptions;
  #nextInodeId: number;
  #dead: boolean;

  constructor(options: SimulatedFileSystemOptions = {}) {
    this.stepCount = 0;
    this.callCount = 0;
    this.afterCut = null;
    this.cutReport = { kept: 0, dropped: 0, torn: 0, garbled: 0, truncatesKept: 0, truncatesDropped: 0, entryOpsKept: 0, entryOpsUndone: 0 };
    this.#directories = new Map([['/', new Directory(new Map())]]);
    this.#random = new Prng(options.seed ?? 1);
    this.#cutAtStep = options.cutAtStep ?? Infinity;
    this.#powerCutOptions = options.powerCut ?? {};
    this.#nextInodeId = 1;
    this.#dead = false;
    this.#clockStartMs = options.clockStartMs ?? CLOCK_START_MS_DEFAULT;
    this.#callMs = options.callMs ?? CALL_MS_DEFAULT;
    this.trace = [];
    this.#tracing = options.trace ?? false;
    this.clock = {
      monotonicMs: () => this.#elapsedMs(),
      wallMs: () => this.#clockStartMs + this.#elapsedMs(),
    };
  }

  #elapsedMs(): number {
    return this.callCount * this.#callMs;
  }

  /** True once the power was cut: every call fails with EIO. */
  get dead(): boolean {
    return this.#dead;
  }

  /**
   * Cuts the power now: this file system dies (every later call on it or
   * its handles fails with EIO) and the state a reboot finds is returned,
   * with every surviving byte and name durable.
   * @param options fates of unsynced data
   * @param seed seeds the fates and the new state's PRNG @default drawn from this one's PRNG
   */
  powerCut(options: PowerCutOptions = this.#powerCutOptions, seed?: number): SimulatedFileSystem {
    this.#assertAlive('powerCut', '/');
    this.#dead = true;
    const random = new Prng(seed ?? this.#random.below(2 ** 32));
    const rebooted = new SimulatedFileSystem({ seed: random.below(2 ** 32), clockStartMs: this.clock.wallMs(), callMs: this.#callMs });
    const report = rebooted.cutReport;
    const survivors = new Map<Inode, Inode>();
    const survivor = (inode: Inode): Inode => {
      let copy = survivors.get(inode);
      if (copy === undefined) {
        copy = new Inode(rebooted.#nextInodeId++, surviveFile(inode, random, options, report));
        survivors.set(inode, copy);
      }
      return copy;
    };
    for (const [path, directory] of [...this.#directories].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const keptOpCount = directory.ops.length === 0 ? 0 : random.below(directory.ops.length + 1);
      report.entryOpsKept += keptOpCount;
      report.entryOpsUndone += directory.ops.length - keptOpCount;
      const entries = new Map(directory.durable);
      for (const op of directory.ops.slice(0, keptOpCount)) directory.apply(op, entries);
      const copied = new Map<string, Inode>();
      for (const name of [...entries.keys()].sort()) copied.set(name, survivor(entries.get(name) as Inode));
      rebooted.#directories.set(path, new Directory(copied));
    }
    return rebooted;
  }

  /**
   * A copy of the current state, as if everything were synced (nothing
   * lost). @internal for tests
   * @param options an automatic cut for the copy (to cut again during the recovery from a reboot's state, say)
   */
  snapshot(options: Pick<SimulatedFileSystemOptions, 'cutAtStep' | 'powerCut'> = {}): SimulatedFileSystem {
    const copy = new SimulatedFileSystem({ seed: this.#random.below(2 ** 32), clockStartMs: this.clock.wallMs(), callMs: this.#callMs, ...options });
    const copies = new Map<Inode, Inode>();
    for (const [path, directory] of this.#directories) {
      const entries = new Map<string, Inode>();
      for (const [name, inode] of directory.current) {
        let copied = copies.get(inode);
        if (copied === undefined) {
          copied = new Inode(copy.#nextInodeId++, Buffer.from(inode.content()));
          copies.set(inode, copied);
        }
        entries.set(name, copied);
      }
      copy.#directories.set(path, new Directory(entries));
    }
    return copy;
  }

  /** The current content of a file (what a read sees), or null. For tests. */
  fileContent(path: string): Buffer | null {
    const inode = this.#lookup(path);
    return inode === undefined ? null : Buffer.from(inode.content());
  }

  /** Replaces a file's content, durably, bypassing the step counter. For tests that damage files. */
  setFileContent(path: string, content: Uint8Array): void {
    const normalized = posix.normalize(path);
    const directory = this.#directory(dirname(normalized), 'open');
    const inode = new Inode(this.#nextInodeId++, Buffer.from(content));
    directory.current.set(basename(normalized), inode);
    directory.durable.set(basename(normalized), inode);
  }

  /**
   * Overwrites bytes of a file in place, durably, bypassing the step counter:
   * open handles see the change (a disk that goes bad under a running log).
   * Bytes past the end are ignored. For tests.
   */
  patchFile(path: string, filePosition: number, bytes: Uint8Array): void {
    const inode = this.#lookup(path);
    if (inode === undefined) throw enoent('open', path);
    const end = Math.min(inode.sizeBytes, filePosition + bytes.length);
    inode.current.set(bytes.subarray(0, Math.max(0, end - filePosition)), filePosition);
    // The durable copy too (within its size); unsynced writes stay pending.
    const baseEnd = Math.min(inode.base.length, filePosition + bytes.length);
    if (baseEnd > filePosition) inode.base.set(bytes.subarray(0, baseEnd - filePosition), filePosition);
  }

  /** Removes a file, durably, bypassing the step counter (a stale LOCK after a reboot, say). For tests. */
  deleteFile(path: string): void {
    const normalized = posix.normalize(path);
    const directory = this.#directories.get(dirname(normalized));
    directory?.current.delete(basename(normalized));
    directory?.durable.delete(basename(normalized));
  }

  /** Paths of every file, sorted. For tests. */
  listFiles(): string[] {
    const paths: string[] = [];
    for (const [path, directory] of this.#directories) {
      for (const name of directory.current.keys()) paths.push(posix.join(path, name));
    }
    return paths.sort();
  }

  /** Bytes of unsynced writes and entry operations not yet covered by a folder fsync. For tests. */
  unsynced(): { readonly fileOpCount: number; readonly entryOpCount: number } {
    let fileOpCount = 0;
    let entryOpCount = 0;
    const seen = new Set<Inode>();
    for (const directory of this.#directories.values()) {
      entryOpCount += directory.ops.length;
      for (const inode of directory.current.values()) {
        if (seen.has(inode)) continue;
        seen.add(inode);
        fileOpCount += inode.ops.filter((op) => op.kind === 'truncate' || !op.durable).length;
      }
    }
    return { fileOpCount, entryOpCount };
  }

  async open(path: string, options: OpenOptions): Promise<FileHandle> {
    const creates = options.create === true || options.exclusive === true;
    if (creates) this.#step('open', path);
    else this.#call('open', path);
    await this.#latency();
    this.#assertAlive('open', path);
    const normalized = posix.normalize(path);
    const directory = this.#directory(dirname(normalized), 'open');
    const name = basename(normalized);
    let inode = directory.current.get(name);
    if (inode !== undefined && options.exclusive === true) throw eexist(path);
    if (inode === undefined) {
      if (!creates) throw enoent('open', path);
      inode = new Inode(this.#nextInodeId++, Buffer.alloc(0));
      directory.record({ kind: 'link', name, inode });
    }
    return new SimulatedFileHandle(this, path, inode, options.write === true, options.dsync === true);
  }

  async readFile(path: string): Promise<Buffer | null> {
    this.#call('readFile', path);
    await this.#latency();
    this.#assertAlive('read', path);
    const inode = this.#lookup(path);
    return inode === undefined ? null : Buffer.from(inode.content());
  }

  async rename(fromPath: string, toPath: string): Promise<void> {
    this.#step('rename', fromPath);
    await this.#latency();
    this.#assertAlive('rename', fromPath);
    const from = posix.normalize(fromPath);
    const to = posix.normalize(toPath);
    if (dirname(from) !== dirname(to)) throw new Error(`SimulatedFileSystem: rename across folders is not modelled: ${fromPath} -> ${toPath}`);
    const directory = this.#directory(dirname(from), 'rename');
    if (!directory.current.has(basename(from))) throw enoent('rename', fromPath);
    directory.record({ kind: 'rename', fromName: basename(from), toName: basename(to) });
  }

  async unlink(path: string): Promise<void> {
    this.#step('unlink', path);
    await this.#latency();
    this.#assertAlive('unlink', path);
    const normalized = posix.normalize(path);
    const directory = this.#directories.get(dirname(normalized));
    if (directory === undefined || !directory.current.has(basename(normalized))) return;
    directory.record({ kind: 'unlink', name: basename(normalized) });
  }

  async mkdir(path: string): Promise<void> {
    this.#call('mkdir', path);
    await this.#latency();
    this.#assertAlive('mkdir', path);
    let current = posix.normalize(path);
    while (!this.#directories.has(current)) {
      // Durable at once: see the file comment.
      this.#directories.set(current, new Directory(new Map()));
      current = dirname(current);
    }
  }

  async readdir(path: string): Promise<string[]> {
    this.#call('readdir', path);
    await this.#latency();
    this.#assertAlive('scandir', path);
    const normalized = posix.normalize(path);
    const directory = this.#directory(normalized, 'scandir');
    const names = [...directory.current.keys()];
    for (const other of this.#directories.keys()) {
      if (other !== normalized && dirname(other) === normalized) names.push(basename(other));
    }
    return names.sort();
  }

  async syncDir(path: string): Promise<void> {
    this.#step('fsync', path);
    // Only entries changed before the call are sure to be covered by it.
    const directory = this.#directory(posix.normalize(path), 'fsync');
    const coveredCount = directory.recordedCount;
    await this.#latency();
    this.#assertAlive('fsync', path);
    directory.sync(coveredCount);
  }

  /** @internal Counts a non-mutating call; fails if the power is off. */
  call(syscall: string, path: string): void {
    this.#call(syscall, path);
  }

  /**
   * @internal Counts a mutating call and cuts the power if it is the chosen
   * step. `beforeCut` runs first, for a write that is in flight at the cut.
   */
  step(syscall: string, path: string, beforeCut?: () => void): void {
    this.#step(syscall, path, beforeCut);
  }

  /** @internal */
  latency(): Promise<void> {
    return this.#latency();
  }

  /** @internal */
  assertAlive(syscall: string, path: string): void {
    this.#assertAlive(syscall, path);
  }

  /** @internal The PRNG, for handles. */
  get random(): Prng {
    return this.#random;
  }

  #call(syscall: string, path: string): void {
    this.callCount += 1;
    if (this.#tracing) this.trace.push(`${syscall} ${path}`);
    this.#assertAlive(syscall, path);
  }

  #step(syscall: string, path: string, beforeCut?: () => void): void {
    this.#call(syscall, path);
    this.stepCount += 1;
    if (this.stepCount < this.#cutAtStep) return;
    beforeCut?.();
    this.afterCut = this.powerCut();
    throw errnoError('EIO', syscall, path);
  }

  #assertAlive(syscall: string, path: string): void {
    if (this.#dead) throw errnoError('EIO', syscall, path);
  }

  /**
   * Calls resolve after zero to two macrotask turns, chosen by the PRNG, so
   * that concurrent calls interleave in varied but replayable orders.
   */
  async #latency(): Promise<void> {
    const turns = this.#random.below(3);
    for (let turn = 0; turn < turns; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  #lookup(path: string): Inode | undefined {
    const normalized = posix.normalize(path);
    return this.#directories.get(dirname(normalized))?.current.get(basename(normalized));
  }

  #directory(path: string, syscall: string): Directory {
    const directory = this.#directories.get(path);
    if (directory === undefined) throw enoent(syscall, path);
    return directory;
  }
}

class SimulatedFileHandle implements FileHandle {
  path: string;
  readonly #owner: SimulatedFileSystem;
  readonly #inode: Inode;
  readonly #writable: boolean;
  readonly #dsync: boolean;
  #closed: boolean;

  constructor(owner: SimulatedFileSystem, path: string, inode: Inode, writable: boolean, dsync: boolean) {
    this.path = path;
    this.#owner = owner;
    this.#inode = inode;
    this.#writable = writable;
    this.#dsync = dsync;
    this.#closed = false;
  }

  async read(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): Promise<number> {
    this.#use('read');
    await this.#owner.latency();
    this.#use('read');
    const content = this.#inode.content();
    if (filePosition >= content.length) return 0;
    const readBytes = Math.min(sizeBytes, content.length - filePosition);
    buffer.set(content.subarray(filePosition, filePosition + readBytes), bufferPosition);
    return readBytes;
  }

  async write(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): Promise<number> {
    const bytes = Buffer.from(buffer.buffer, buffer.byteOffset + bufferPosition, sizeBytes);
    this.#write('write', bytes, filePosition);
    await this.#owner.latency();
    this.#use('write');
    return sizeBytes;
  }

  writeSync(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): number {
    const bytes = Buffer.from(buffer.buffer, buffer.byteOffset + bufferPosition, sizeBytes);
    this.#write('write', bytes, filePosition);
    return sizeBytes;
  }

  async datasync(): Promise<void> {
    this.#use('fdatasync');
    this.#owner.step('fdatasync', this.path);
    // Only what was written before the call is sure to be covered by it.
    const coveredCount = this.#inode.recordedCount;
    await this.#owner.latency();
    this.#use('fdatasync');
    const newlyCovered = coveredCount - this.#inode.durableCount;
    if (newlyCovered <= 0) return;
    if (newlyCovered === this.#inode.ops.length) this.#inode.sync();
    else syncPrefix(this.#inode, newlyCovered);
  }

  async truncate(sizeBytes: number): Promise<void> {
    this.#use('ftruncate');
    if (!this.#writable) throw errnoError('EBADF', 'ftruncate');
    this.#owner.step('ftruncate', this.path);
    this.#inode.truncate(sizeBytes);
    await this.#owner.latency();
    this.#use('ftruncate');
  }

  async sizeBytes(): Promise<number> {
    this.#use('fstat');
    await this.#owner.latency();
    this.#use('fstat');
    return this.#inode.sizeBytes;
  }

  async close(): Promise<void> {
    // close(2) on a dead machine does not matter; a double close is a bug.
    if (this.#closed) throw errnoError('EBADF', 'close');
    this.#closed = true;
    this.#owner.call('close', this.path);
  }

  #write(syscall: string, bytes: Buffer, filePosition: number): void {
    this.#use(syscall);
    if (!this.#writable) throw errnoError('EBADF', syscall);
    // A write in flight when the power goes meets a random fate, dsync or not.
    this.#owner.step(syscall, this.path, () => this.#inode.write(bytes, filePosition, false));
    this.#inode.write(bytes, filePosition, this.#dsync);
  }

  #use(syscall: string): void {
    if (this.#closed) throw errnoError('EBADF', syscall);
    this.#owner.assertAlive(syscall, this.path);
  }
}

/** Makes the first `coveredOpCount` ops of a file durable, leaving later ones pending. */
function syncPrefix(inode: Inode, coveredOpCount: number): void {
  const covered = inode.ops.slice(0, coveredOpCount);
  let content: Buffer = Buffer.from(inode.base);
  for (const op of covered) content = applyOp(content, op, op.kind === 'write' ? op.bytes : null);
  inode.base = content;
  inode.ops = inode.ops.slice(coveredOpCount);
  inode.durableCount += coveredOpCount;
}

/** Applies one op to `content`; for a write, `bytes` says what lands (null: the write is lost). */
function applyOp(content: Buffer, op: FileOp, bytes: Buffer | null): Buffer {
  if (op.kind === 'truncate') {
    if (op.sizeBytes <= content.length) return content.subarray(0, op.sizeBytes);
    return Buffer.concat([content, Buffer.alloc(op.sizeBytes - content.length)]);
  }
  if (bytes === null) return content;
  const end = op.filePosition + bytes.length;
  const grown = end > content.length ? Buffer.concat([content, Buffer.alloc(end - content.length)]) : content;
  bytes.copy(grown, op.filePosition);
  return grown;
}

function pickFate(random: Prng, weights: Record<WriteFate, number>): WriteFate {
  const total = FATES.reduce((sum, fate) => sum + weights[fate], 0);
  let pick = random.next() * total;
  for (const fate of FATES) {
    pick -= weights[fate];
    if (pick < 0) return fate;
  }
  return 'keep';
}

/**
 * The content a file has after a power cut: its synced base, then each op
 * since, durable writes kept, the others each meeting a fate.
 */
function surviveFile(inode: Inode, random: Prng, options: PowerCutOptions, report: PowerCutReport): Buffer {
  const weights: Record<WriteFate, number> = { ...DEFAULT_WEIGHTS, ...options.weights };
  let content: Buffer = Buffer.from(inode.base);
  let lost = false;
  for (const op of inode.ops) {
    if (op.kind === 'truncate') {
      const keep = !lost && random.chance(0.5);
      if (keep) report.truncatesKept += 1;
      else report.truncatesDropped += 1;
      if (keep) content = applyOp(content, op, null);
      continue;
    }
    if (op.durable) {
      content = applyOp(content, op, op.bytes);
      continue;
    }
    const fate: WriteFate = lost ? 'drop' : pickFate(random, weights);
    if (options.order === 'prefix' && fate !== 'keep') lost = true;
    switch (fate) {
      case 'keep':
        report.kept += 1;
        content = applyOp(content, op, op.bytes);
        break;
      case 'drop':
        report.dropped += 1;
        break;
      case 'tear':
        report.torn += 1;
        content = tearWrite(content, op, random, false);
        break;
      case 'garble':
        report.garbled += 1;
        content = tearWrite(content, op, random, true);
        break;
    }
  }
  return content;
}

/**
 * A torn write: each 512-byte sector the write touches (aligned to the
 * file, as the disk sees it) lands or not, independently; a garbled write
 * lands random bytes in some sectors instead. The file grows only as far as
 * the last sector that landed.
 */
function tearWrite(content: Buffer, op: FileOp & { kind: 'write' }, random: Prng, garble: boolean): Buffer {
  const end = op.filePosition + op.bytes.length;
  let result: Buffer = content;
  for (let sectorStart = op.filePosition; sectorStart < end; ) {
    const sectorEnd = Math.min(end, (Math.floor(sectorStart / SECTOR_SIZE_BYTES) + 1) * SECTOR_SIZE_BYTES);
    const roll = random.next();
    const piece = op.bytes.subarray(sectorStart - op.filePosition, sectorEnd - op.filePosition);
    let lands: Buffer | null = null;
    if (garble) lands = roll < 0.5 ? random.bytes(piece.length) : roll < 0.75 ? piece : null;
    else lands = roll < 0.5 ? piece : null;
    if (lands !== null) result = applyOp(result, { kind: 'write', filePosition: sectorStart, bytes: lands, durable: false }, lands);
    sectorStart = sectorEnd;
  }
  return result;
}
