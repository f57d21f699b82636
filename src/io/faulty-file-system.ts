/**
 * A FileSystem that wraps another and fails on purpose. Tests arm faults
 * (an errno error such as EIO or ENOSPC, or a short write) on one kind of
 * call, optionally only for paths that match, optionally only the Nth
 * matching call or every one; every call is counted so that a test can
 * prove, for example, that a failed fdatasync is never retried.
 *
 * @example
 * const faulty = new FaultyFileSystem(new NodeFileSystem());
 * const wal = await Wal.open({ dir, fileSystem: faulty });
 * faulty.arm({ call: 'datasync', code: 'EIO' });   // the next fdatasync fails
 * await assert.rejects(wal.append('x'), { code: 'WAL_FAILED' });
 * faulty.counts.datasync;                          // how many were attempted
 */
import os from 'node:os';
import { dirname } from 'node:path';
import type { FileHandle, FileSystem, OpenOptions } from './file-system.js';

/** The calls a fault can be armed on. `write` covers both `write` and `writeSync`. */
export type FaultCall = 'open' | 'write' | 'datasync' | 'truncate' | 'rename' | 'unlink' | 'syncDir';

/** Every counted call: each FileHandle and FileSystem method. */
export type CountedCall =
  | 'open'
  | 'read'
  | 'write'
  | 'writeSync'
  | 'datasync'
  | 'truncate'
  | 'sizeBytes'
  | 'close'
  | 'readFile'
  | 'rename'
  | 'unlink'
  | 'mkdir'
  | 'readdir'
  | 'syncDir';

/** Errno codes a fault can raise (the ones storage code must handle). */
export type FaultErrnoCode = 'EIO' | 'ENOSPC' | 'EDQUOT' | 'EROFS' | 'EBADF' | 'EACCES' | 'EMFILE' | 'EBUSY';

/** What to do to a call, and which calls. */
export interface FaultSpec {
  /** The kind of call to fail. */
  readonly call: FaultCall;
  /**
   * Raise this errno error. At most one of `code` and `shortWrite` is given;
   * with neither, the fault is a stall: the call waits `delayMs` and `until`, then runs.
   * For a write, nothing is written unless `writeBytesBeforeError` says so.
   */
  readonly code?: FaultErrnoCode;
  /**
   * Only for `call: 'write'`: write at most this many bytes of the request
   * (never the whole request) and return the short count, as a full disk or
   * a signal can make write(2) do. 0 writes nothing and returns 0, a write
   * that makes no progress.
   */
  readonly shortWrite?: number;
  /** Only for `call: 'write'` with `code`: write this many bytes first (a torn write), then fail. @default 0 */
  readonly writeBytesBeforeError?: number;
  /** Only calls whose path contains this string (or matches this pattern). @default every path */
  readonly path?: string | RegExp;
  /** Let this many matching calls pass before the first fault. @default 0 (the next matching call) */
  readonly skip?: number;
  /** Fault this many matching calls, then disarm. @default 1; `Infinity` for every later call */
  readonly times?: number;
  /**
   * Wait this long before failing (or, for a stall, before running), so that
   * more work can queue behind the call. Blocking calls (writeSync) cannot
   * wait: a stall passes them at once. @default 0
   */
  readonly delayMs?: number;
  /**
   * Hold the call (after any `delayMs`) until this promise settles: a stall
   * or a failure that a test releases when it is ready, instead of a delay
   * that a slow machine can outlast.
   */
  readonly until?: Promise<unknown>;
}

/** A fault that has fired: what, where, and how. */
export interface FiredFault {
  readonly call: FaultCall;
  readonly path: string;
  readonly effect: FaultErrnoCode | 'short' | 'stall';
}

/** errno descriptions as libuv spells them, for messages like Node's own. */
const ERRNO_DESCRIPTIONS: Record<FaultErrnoCode, string> = {
  EIO: 'i/o error',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EBADF: 'bad file descriptor',
  EACCES: 'permission denied',
  EMFILE: 'too many open files',
  EBUSY: 'resource busy or locked',
};

/** The syscall Node names in an error from each call. */
const SYSCALLS: Record<FaultCall, string> = {
  open: 'open',
  write: 'write',
  datasync: 'fdatasync',
  truncate: 'ftruncate',
  rename: 'rename',
  unlink: 'unlink',
  syncDir: 'fsync',
};

/**
 * An error shaped like the ones node:fs raises: message `EIO: i/o error,
 * fdatasync`, `code`, negative `errno`, `syscall`, and `path` when known.
 */
export function errnoError(code: FaultErrnoCode, syscall: string, path?: string): NodeJS.ErrnoException {
  const where = path === undefined ? '' : ` '${path}'`;
  const error: NodeJS.ErrnoException = new Error(`${code}: ${ERRNO_DESCRIPTIONS[code]}, ${syscall}${where}`);
  error.code = code;
  error.errno = -(os.constants.errno[code] ?? 0);
  error.syscall = syscall;
  if (path !== undefined) error.path = path;
  return error;
}

interface ArmedFault {
  readonly spec: FaultSpec;
  skipLeft: number;
  timesLeft: number;
}

/** The decision for one call: pass it through (maybe late), raise an error, or shorten it. */
type Verdict =
  | { readonly kind: 'pass' }
  | { readonly kind: 'stall'; readonly spec: FaultSpec }
  | { readonly kind: 'error'; readonly error: NodeJS.ErrnoException; readonly spec: FaultSpec }
  | { readonly kind: 'short'; readonly spec: FaultSpec };

const PASS: Verdict = { kind: 'pass' };

function zeroCounts(): Record<CountedCall, number> {
  return {
    open: 0, read: 0, write: 0, writeSync: 0, datasync: 0, truncate: 0, sizeBytes: 0,
    close: 0, readFile: 0, rename: 0, unlink: 0, mkdir: 0, readdir: 0, syncDir: 0,
  };
}

function validate(spec: FaultSpec): void {
  if (spec.code !== undefined && spec.shortWrite !== undefined) {
    throw new TypeError('Cannot arm fault: give at most one of "code" and "shortWrite"');
  }
  if (spec.code === undefined && spec.shortWrite === undefined && !((spec.delayMs ?? 0) > 0) && spec.until === undefined) {
    throw new TypeError('Cannot arm fault: give "code", "shortWrite", or a "delayMs" > 0 or "until" for a stall');
  }
  if (spec.shortWrite !== undefined && (spec.call !== 'write' || !(spec.shortWrite >= 0))) {
    throw new RangeError(`Cannot arm fault: shortWrite needs call "write" and a size >= 0, got ${spec.call} ${spec.shortWrite}`);
  }
  if (spec.writeBytesBeforeError !== undefined && spec.call !== 'write') {
    throw new RangeError(`Cannot arm fault: writeBytesBeforeError needs call "write", got ${spec.call}`);
  }
  const times = spec.times ?? 1;
  if (!(times >= 1)) throw new RangeError(`Cannot arm fault: times must be >= 1, got ${times}`);
}

/** A FileSystem that passes every call to `inner` unless an armed fault says otherwise. */
export class FaultyFileSystem implements FileSystem {
  /** Calls made so far, by kind (including failed ones). */
  readonly counts: Record<CountedCall, number> = zeroCounts();
  /** The same, by the path each call named (a handle's path at the time of the call). */
  readonly #countsByPath = new Map<string, Record<CountedCall, number>>();
  /** Faults that fired, in order. */
  readonly fired: FiredFault[] = [];
  /**
   * Calls that reached a handle after its close() had been called, as
   * `"<call> <path>"`. On a real file system such a call hits a closed file
   * descriptor, or worse, one that a later open reused for another file.
   */
  readonly usedAfterClose: string[] = [];
  readonly #inner: FileSystem;
  #armed: ArmedFault[] = [];
  /** Every handle opened through this file system, to account for unsynced bytes. */
  readonly #handles: FaultyFileHandle[] = [];
  /** Paths created, renamed or unlinked since their folder's last successful fsync. */
  readonly #unsyncedEntries = new Set<string>();

  constructor(inner: FileSystem) {
    this.#inner = inner;
  }

  /** Arms a fault; several may be armed at once (the first that matches a call wins). */
  arm(spec: FaultSpec): void {
    validate(spec);
    this.#armed.push({ spec, skipLeft: spec.skip ?? 0, timesLeft: spec.times ?? 1 });
  }

  /** Removes every armed fault (counts and `fired` stay). */
  disarm(): void {
    this.#armed = [];
  }

  /** Faults still armed. */
  get armedCount(): number {
    return this.#armed.length;
  }

  /**
   * Bytes written through handles that were not opened with `dsync` and not
   * yet covered by a successful `datasync` (on handles whose current path
   * matches, if given): what a power cut could lose right now.
   */
  unsyncedBytes(path?: string | RegExp): number {
    let total = 0;
    for (const handle of this.#handles) if (pathMatches(path, handle.path)) total += handle.unsyncedBytes;
    return total;
  }

  /**
   * Calls made so far on paths that match `path`, by kind.
   * @example faulty.countsFor(/\.wal$/).datasync // fdatasyncs of segment files
   */
  countsFor(path: string | RegExp): Record<CountedCall, number> {
    const total = zeroCounts();
    for (const [callPath, counts] of this.#countsByPath) {
      if (!pathMatches(path, callPath)) continue;
      for (const call of Object.keys(total) as CountedCall[]) total[call] += counts[call];
    }
    return total;
  }

  /**
   * Folder entries (paths) created, renamed to or from, or unlinked since
   * their folder was last fsynced, that match `path` if given: names a power
   * cut could lose or bring back. A create of a file that already existed
   * counts too (this wrapper cannot tell).
   */
  unsyncedEntries(path?: string | RegExp): string[] {
    return [...this.#unsyncedEntries].filter((entry) => pathMatches(path, entry));
  }

  /** Sets every count back to zero. */
  resetCounts(): void {
    Object.assign(this.counts, zeroCounts());
    this.#countsByPath.clear();
  }

  /** @internal Counts a call and decides its fate; used by the handles too. */
  verdict(counted: CountedCall, call: FaultCall | null, path: string): Verdict {
    this.counts[counted] += 1;
    let byPath = this.#countsByPath.get(path);
    if (byPath === undefined) {
      byPath = zeroCounts();
      this.#countsByPath.set(path, byPath);
    }
    byPath[counted] += 1;
    if (call === null) return PASS;
    for (const armed of this.#armed) {
      const { spec } = armed;
      if (spec.call !== call || !pathMatches(spec.path, path)) continue;
      if (armed.skipLeft > 0) {
        armed.skipLeft -= 1;
        continue;
      }
      armed.timesLeft -= 1;
      if (armed.timesLeft <= 0) this.#armed = this.#armed.filter((other) => other !== armed);
      const effect = spec.code ?? (spec.shortWrite === undefined ? 'stall' : 'short');
      this.fired.push({ call, path, effect });
      if (effect === 'stall') return { kind: 'stall', spec };
      if (effect === 'short') return { kind: 'short', spec };
      return { kind: 'error', error: errnoError(effect, SYSCALLS[call], call === 'datasync' || call === 'write' ? undefined : path), spec };
    }
    return PASS;
  }

  async open(path: string, options: OpenOptions): Promise<FileHandle> {
    await this.#failIfArmed(this.verdict('open', 'open', path));
    const handle = new FaultyFileHandle(this, await this.#inner.open(path, options), options.dsync === true);
    this.#handles.push(handle);
    if (options.create === true || options.exclusive === true) this.#unsyncedEntries.add(path);
    return handle;
  }

  readFile(path: string): Promise<Buffer | null> {
    this.verdict('readFile', null, path);
    return this.#inner.readFile(path);
  }

  async rename(fromPath: string, toPath: string): Promise<void> {
    await this.#failIfArmed(this.verdict('rename', 'rename', fromPath));
    await this.#inner.rename(fromPath, toPath);
    this.#unsyncedEntries.add(fromPath);
    this.#unsyncedEntries.add(toPath);
  }

  async unlink(path: string): Promise<void> {
    await this.#failIfArmed(this.verdict('unlink', 'unlink', path));
    await this.#inner.unlink(path);
    this.#unsyncedEntries.add(path);
  }

  mkdir(path: string): Promise<void> {
    this.verdict('mkdir', null, path);
    return this.#inner.mkdir(path);
  }

  readdir(path: string): Promise<string[]> {
    this.verdict('readdir', null, path);
    return this.#inner.readdir(path);
  }

  async syncDir(path: string): Promise<void> {
    await this.#failIfArmed(this.verdict('syncDir', 'syncDir', path));
    // Only entries changed before the fsync started are sure to be covered by it.
    const covered = [...this.#unsyncedEntries].filter((entry) => dirname(entry) === path);
    await this.#inner.syncDir(path);
    for (const entry of covered) this.#unsyncedEntries.delete(entry);
  }

  async #failIfArmed(verdict: Verdict): Promise<void> {
    if (verdict.kind === 'pass') return;
    await hold(verdict.spec);
    if (verdict.kind === 'error') throw verdict.error;
  }
}

class FaultyFileHandle implements FileHandle {
  /** Bytes written since the last successful datasync (always 0 for an O_DSYNC handle). */
  unsyncedBytes: number;
  readonly #owner: FaultyFileSystem;
  readonly #inner: FileHandle;
  readonly #dsync: boolean;
  #closed: boolean;

  constructor(owner: FaultyFileSystem, inner: FileHandle, dsync: boolean) {
    this.unsyncedBytes = 0;
    this.#owner = owner;
    this.#inner = inner;
    this.#dsync = dsync;
    this.#closed = false;
  }

  /** The inner handle, noting a call that arrives after close(). */
  #use(call: string): FileHandle {
    if (this.#closed) this.#owner.usedAfterClose.push(`${call} ${this.path}`);
    return this.#inner;
  }

  #wrote(writtenBytes: number): number {
    if (!this.#dsync) this.unsyncedBytes += writtenBytes;
    return writtenBytes;
  }

  /** The engine renames files and updates this; keep the inner handle in step. */
  get path(): string {
    return this.#inner.path;
  }

  set path(path: string) {
    this.#inner.path = path;
  }

  read(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): Promise<number> {
    this.#owner.verdict('read', null, this.path);
    return this.#use('read').read(buffer, bufferPosition, sizeBytes, filePosition);
  }

  async write(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): Promise<number> {
    const verdict = this.#owner.verdict('write', 'write', this.path);
    if (verdict.kind !== 'pass') await hold(verdict.spec);
    if (verdict.kind === 'pass' || verdict.kind === 'stall') {
      return this.#wrote(await this.#use('write').write(buffer, bufferPosition, sizeBytes, filePosition));
    }
    if (verdict.kind === 'short') {
      const shortBytes = shortSize(verdict.spec, sizeBytes);
      return shortBytes === 0 ? 0 : this.#wrote(await this.#use('write').write(buffer, bufferPosition, shortBytes, filePosition));
    }
    const tornBytes = Math.min(verdict.spec.writeBytesBeforeError ?? 0, sizeBytes);
    if (tornBytes > 0) this.#wrote(await this.#use('write').write(buffer, bufferPosition, tornBytes, filePosition));
    throw verdict.error;
  }

  writeSync(buffer: Uint8Array, bufferPosition: number, sizeBytes: number, filePosition: number): number {
    // A blocking call cannot wait, so delayMs and until do not apply here.
    const verdict = this.#owner.verdict('writeSync', 'write', this.path);
    if (verdict.kind === 'pass' || verdict.kind === 'stall') {
      return this.#wrote(this.#use('writeSync').writeSync(buffer, bufferPosition, sizeBytes, filePosition));
    }
    if (verdict.kind === 'short') {
      const shortBytes = shortSize(verdict.spec, sizeBytes);
      return shortBytes === 0 ? 0 : this.#wrote(this.#use('writeSync').writeSync(buffer, bufferPosition, shortBytes, filePosition));
    }
    const tornBytes = Math.min(verdict.spec.writeBytesBeforeError ?? 0, sizeBytes);
    if (tornBytes > 0) this.#wrote(this.#use('writeSync').writeSync(buffer, bufferPosition, tornBytes, filePosition));
    throw verdict.error;
  }

  async datasync(): Promise<void> {
    const verdict = this.#owner.verdict('datasync', 'datasync', this.path);
    if (verdict.kind !== 'pass') await hold(verdict.spec);
    if (verdict.kind === 'pass' || verdict.kind === 'stall') {
      // Only what was written before the call is sure to be covered by it.
      const coveredBytes = this.unsyncedBytes;
      await this.#use('datasync').datasync();
      this.unsyncedBytes -= coveredBytes;
      return;
    }
    // A short verdict is refused at arm time for anything but writes.
    throw verdict.kind === 'error' ? verdict.error : new Error('unreachable: short datasync');
  }

  async truncate(sizeBytes: number): Promise<void> {
    const verdict = this.#owner.verdict('truncate', 'truncate', this.path);
    if (verdict.kind !== 'pass') await hold(verdict.spec);
    if (verdict.kind === 'error') throw verdict.error;
    return this.#use('truncate').truncate(sizeBytes);
  }

  sizeBytes(): Promise<number> {
    this.#owner.verdict('sizeBytes', null, this.path);
    return this.#use('sizeBytes').sizeBytes();
  }

  close(): Promise<void> {
    this.#owner.verdict('close', null, this.path);
    const inner = this.#use('close');
    this.#closed = true;
    return inner.close();
  }
}

/** Bytes a short write lets through: fewer than asked (a 1-byte request passes whole unless the fault says 0). */
function shortSize(spec: FaultSpec, sizeBytes: number): number {
  const limit = spec.shortWrite ?? 0;
  if (limit === 0) return 0;
  if (sizeBytes <= 1) return sizeBytes;
  return Math.min(limit, sizeBytes - 1);
}

/** A pattern for {@link FaultyFileSystem.countsFor} and `arm` that matches `filePath` alone, not paths below it. */
export function exactPath(filePath: string): RegExp {
  return new RegExp(`^${filePath.replace(/[.*+?^$()|[\]{}\\]/g, '\\$&')}$`);
}

function pathMatches(pattern: string | RegExp | undefined, path: string): boolean {
  if (pattern === undefined) return true;
  return typeof pattern === 'string' ? path.includes(pattern) : pattern.test(path);
}

/** Waits out a fault's `delayMs`, then its `until`. */
async function hold(spec: FaultSpec): Promise<void> {
  const delayMs = spec.delayMs ?? 0;
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  if (spec.until !== undefined) await spec.until.then(ignore, ignore);
}

function ignore(): void {}
