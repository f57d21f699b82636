/**
 * Named checkpoints: for each name (a consumer group, an indexer), the
 * offset up to which it has processed each log, as `{ 'topic/partition':
 * offset }`. An offset is the next record to process (Kafka's committed
 * offset): everything below it is done.
 *
 * Each checkpoint is one small file in `dir/~manager/checkpoints/`, replaced
 * atomically (temp file, fsync, rename, folder fsync), so a crash in the
 * middle of a commit leaves the old checkpoint or the new one. The file
 * carries a checksum: a damaged checkpoint is reported, never read as
 * offsets. The layout (little-endian):
 *
 * | bytes | field |
 * |-------|-------|
 * | 4 | magic `TWCK` |
 * | 4 | format version (1) |
 * | 4 | body size in bytes |
 * | 4 | CRC-32 of the body |
 * | n | body: UTF-8 JSON `{ "offsets": { "topic/partition": offset, … } }` |
 *
 * JSON is fine here: a checkpoint is written a few times a second at most,
 * never per record.
 */
import { join, dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { CorruptionError, WalError, WalIOError, InvalidArgumentError, FormatUnsupportedError } from '../errors.js';
import { managerClosedError } from './manager-closed.js';
import type { FileSystem } from '../io/file-system.js';
import { readWhole } from '../io/read-fully.js';
import { writeFileAtomic } from '../log/atomic-file.js';
import { checkNonNegativeSafeInteger, checkOptionKeys, describe } from '../log/options.js';
import { checkCheckpointName, checkStoredCheckpointName, isValidName, logKey, parseLogKey } from './topic-name.js';

/** A checkpoint's content: next offset to process, per `'topic/partition'`. */
export type CheckpointOffsets = Readonly<Record<string, number>>;

const CHECKPOINT_SUFFIX = '.checkpoint';
const CHECKPOINT_MAGIC = 0x4b435754; // 'TWCK' read as little-endian
const CHECKPOINT_VERSION = 1;
const CHECKPOINT_HEADER_SIZE_BYTES = 16;
/**
 * A checkpoint larger than this is refused (at commit) and treated as damage
 * (at open): 16 MiB holds several hundred thousand partitions' offsets.
 */
export const CHECKPOINT_SIZE_BYTES_MAX = 16 * 1024 * 1024;

/** Options of {@link CheckpointStore.commit}. */
export interface CommitOptions {
  /** Replace the whole checkpoint instead of merging these offsets into it. @default false */
  readonly replace?: boolean;
}

/** What the store needs from the manager. */
export interface CheckpointHost {
  readonly maxPartitions: number;
  /** The log's nextOffset, or 0 when the log does not exist (checkpoints never create logs). */
  nextOffsetOf(topic: string, partition: number): Promise<number>;
  /** Runs a commit so that no retention pass guarded by checkpoints overlaps it on the logs it names. */
  guardCommit(logKeys: readonly string[], commit: () => Promise<void>): Promise<void>;
}

/**
 * Durable named checkpoints; reached as `mgr.checkpoints`.
 *
 * @example
 * await mgr.checkpoints.commit('indexer', { 'orders/3': 1042 });
 * mgr.checkpoints.get('indexer'); // { 'orders/3': 1042 }
 */
export class CheckpointStore {
  readonly #fileSystem: FileSystem;
  readonly #dir: string;
  readonly #host: CheckpointHost;
  readonly #checkpoints: Map<string, CheckpointOffsets>;
  /** Commits and deletes of one name run one after another, so a merge sees the previous commit. */
  readonly #chains = new Map<string, Promise<void>>();
  #closed = false;
  #failure: WalIOError | null = null;

  private constructor(fileSystem: FileSystem, dir: string, host: CheckpointHost, checkpoints: Map<string, CheckpointOffsets>) {
    this.#fileSystem = fileSystem;
    this.#dir = dir;
    this.#host = host;
    this.#checkpoints = checkpoints;
  }

  /**
   * Loads every checkpoint in `dir`, removing temp files a crash left behind.
   * @throws CorruptionError (LOG_CORRUPT) when a checkpoint file is damaged
   */
  static async open(fileSystem: FileSystem, dir: string, host: CheckpointHost): Promise<CheckpointStore> {
    await fileSystem.mkdir(dir);
    await fileSystem.syncDir(dirname(dir));
    const checkpoints = new Map<string, CheckpointOffsets>();
    for (const fileName of (await fileSystem.readdir(dir)).sort()) {
      if (fileName.endsWith('.tmp')) {
        // A commit that crashed before its rename: the old checkpoint stands.
        await fileSystem.unlink(join(dir, fileName));
        continue;
      }
      if (!fileName.endsWith(CHECKPOINT_SUFFIX)) continue;
      const name = fileName.slice(0, -CHECKPOINT_SUFFIX.length);
      if (!isValidName(name)) continue;
      const path = join(dir, fileName);
      checkpoints.set(name, decodeCheckpoint(await readCheckpointFile(fileSystem, path), path));
    }
    return new CheckpointStore(fileSystem, dir, host, checkpoints);
  }

  /**
   * Durably records offsets for `name`. By default they are merged into the
   * checkpoint (other logs keep their offsets); `{ replace: true }` replaces it.
   * Resolves once the checkpoint is on stable storage.
   * @param name checkpoint name, same rules as a topic name
   * @param offsets `{ 'topic/partition': nextOffsetToProcess }`
   * @throws InvalidArgumentError for a bad name, key or offset, or an offset beyond the log's nextOffset
   * @example
   * await mgr.checkpoints.commit('indexer', { 'orders/0': 10, 'orders/1': 7 });
   */
  commit(name: string, offsets: CheckpointOffsets, options: CommitOptions = {}): Promise<void> {
    // Bad input rejects the returned promise, as every other failure does.
    try {
      return this.#commit(name, offsets, options);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  #commit(name: string, offsets: CheckpointOffsets, options: CommitOptions): Promise<void> {
    this.#checkOpen('commit checkpoint');
    checkCheckpointName(name, 'commit checkpoint');
    const entries = this.#checkOffsets(offsets);
    checkOptionKeys(options, ['replace'], 'commit checkpoint');
    if (options.replace !== undefined && typeof options.replace !== 'boolean') {
      throw new InvalidArgumentError(`Cannot commit checkpoint: option "replace" must be a boolean, got ${describe(options.replace)}`);
    }
    const replace = options.replace === true;
    const logKeys = entries.map(({ topic, partition }) => logKey(topic, partition));
    return this.#serialize(name, () => this.#host.guardCommit(logKeys, async () => {
      for (const { topic, partition, key, offset } of entries) {
        const nextOffset = await this.#host.nextOffsetOf(topic, partition);
        if (offset > nextOffset) {
          throw new InvalidArgumentError(
            `Cannot commit checkpoint "${name}": offset ${offset} for ${key} is beyond the log's nextOffset ${nextOffset}; commit the offset after the last record processed, at most nextOffset`,
          );
        }
      }
      const merged: Record<string, number> = replace ? {} : { ...this.#checkpoints.get(name) };
      for (const { key, offset } of entries) merged[key] = offset;
      const content = encodeCheckpoint(merged);
      await writeFileAtomic(this.#fileSystem, this.#dir, `${name}${CHECKPOINT_SUFFIX}`, content, { durable: true });
      this.#checkpoints.set(name, Object.freeze(merged));
    }));
  }

  /**
   * The last committed offsets of `name`.
   * @returns a frozen `{ 'topic/partition': offset }`, or undefined when there is no such checkpoint
   */
  get(name: string): CheckpointOffsets | undefined {
    // Reads answer from memory, which a failed commit left as it was: only close stops them.
    if (this.#closed) throw managerClosedError('get checkpoint');
    checkStoredCheckpointName(name, 'get checkpoint');
    return this.#checkpoints.get(name);
  }

  /** Names of every checkpoint, sorted. */
  list(): string[] {
    if (this.#closed) throw managerClosedError('list checkpoints');
    return [...this.#checkpoints.keys()].sort();
  }

  /**
   * Removes a checkpoint durably (unlink, folder fsync).
   * @returns true when it existed
   */
  delete(name: string): Promise<boolean> {
    try {
      this.#checkOpen('delete checkpoint');
      checkStoredCheckpointName(name, 'delete checkpoint');
    } catch (error) {
      return Promise.reject(error as Error);
    }
    let existed = false;
    return this.#serialize(name, async () => {
      existed = this.#checkpoints.has(name);
      if (!existed) return;
      await this.#fileSystem.unlink(join(this.#dir, `${name}${CHECKPOINT_SUFFIX}`));
      await this.#fileSystem.syncDir(this.#dir);
      this.#checkpoints.delete(name);
    }).then(() => existed);
  }

  /** @internal Waits for every commit in flight; later calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#chains.values()].map((chain) => chain.catch(() => {})));
  }

  #serialize(name: string, work: () => Promise<void>): Promise<void> {
    const previous = this.#chains.get(name) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.#failStop(work));
    this.#chains.set(name, next);
    const cleanUp = (): void => {
      if (this.#chains.get(name) === next) this.#chains.delete(name);
    };
    next.then(cleanUp, cleanUp);
    return next;
  }

  #checkOffsets(offsets: unknown): { topic: string; partition: number; key: string; offset: number }[] {
    // A plain object only: a Map's entries are not its keys, and would be read as no offsets at all.
    const prototype: unknown = typeof offsets === 'object' && offsets !== null ? Object.getPrototypeOf(offsets) : undefined;
    if (prototype !== Object.prototype && prototype !== null) {
      throw new InvalidArgumentError(`Cannot commit checkpoint: offsets must be a plain object { 'topic/partition': offset }, got ${describeOffsets(offsets)}`);
    }
    const entries = [];
    for (const [key, offset] of Object.entries(offsets as Record<string, unknown>)) {
      const { topic, partition } = parseLogKey(key, this.#host.maxPartitions, 'commit checkpoint');
      checkNonNegativeSafeInteger(offset, 'commit checkpoint', `offset for ${key}`);
      entries.push({ topic, partition, key, offset });
    }
    return entries;
  }

  #checkOpen(action: string): void {
    if (this.#failure !== null) throw this.#failure;
    if (this.#closed) throw managerClosedError(action);
  }

  /**
   * Runs `work`; an I/O error stops the store for good. After a failed
   * fsync the kernel may have dropped the dirty pages, so a later sync of
   * the same folder could report success for a lost rename: never retry.
   */
  async #failStop(work: () => Promise<void>): Promise<void> {
    if (this.#failure !== null) throw this.#failure;
    try {
      await work();
    } catch (error) {
      if (error instanceof WalError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      this.#failure = new WalIOError(`Cannot write checkpoints in ${this.#dir}: ${reason}; reopen the manager to continue`, error);
      throw this.#failure;
    }
  }
}

/** The file bytes of a checkpoint. */
export function encodeCheckpoint(offsets: CheckpointOffsets): Buffer {
  const body = Buffer.from(JSON.stringify({ offsets }), 'utf8');
  if (CHECKPOINT_HEADER_SIZE_BYTES + body.length > CHECKPOINT_SIZE_BYTES_MAX) {
    throw new InvalidArgumentError(
      `Cannot commit checkpoint: it needs ${body.length} bytes, maximum is ${CHECKPOINT_SIZE_BYTES_MAX}; split its offsets over several checkpoints`,
    );
  }
  const content = Buffer.alloc(CHECKPOINT_HEADER_SIZE_BYTES + body.length);
  content.writeUInt32LE(CHECKPOINT_MAGIC, 0);
  content.writeUInt32LE(CHECKPOINT_VERSION, 4);
  content.writeUInt32LE(body.length, 8);
  content.writeUInt32LE(crc32(body), 12);
  body.copy(content, CHECKPOINT_HEADER_SIZE_BYTES);
  return content;
}

/** A checkpoint file's bytes, at most one byte past the limit (so an oversized one is seen, never loaded whole). */
async function readCheckpointFile(fileSystem: FileSystem, path: string): Promise<Buffer> {
  const handle = await fileSystem.open(path, {});
  try {
    return await readWhole(handle, CHECKPOINT_SIZE_BYTES_MAX + 1);
  } finally {
    await handle.close();
  }
}

function describeOffsets(offsets: unknown): string {
  return offsets instanceof Map ? 'a Map' : describe(offsets);
}

/** Parses and checks a checkpoint file; throws a CorruptionError naming the file on any damage. */
export function decodeCheckpoint(content: Buffer, path: string): CheckpointOffsets {
  const damaged = (filePosition: number, reason: string): CorruptionError =>
    new CorruptionError(path, filePosition, reason, { action: 'load checkpoint', remedy: 'restore the file from a backup or delete it' });
  if (content.length < CHECKPOINT_HEADER_SIZE_BYTES) throw damaged(0, `the file is ${content.length} bytes, shorter than its header`);
  if (content.length > CHECKPOINT_SIZE_BYTES_MAX) throw damaged(0, `the file is larger than the ${CHECKPOINT_SIZE_BYTES_MAX}-byte limit`);
  if (content.readUInt32LE(0) !== CHECKPOINT_MAGIC) throw damaged(0, 'bad magic');
  const version = content.readUInt32LE(4);
  if (version !== CHECKPOINT_VERSION) throw new FormatUnsupportedError(path, version, CHECKPOINT_VERSION);
  const bodySizeBytes = content.readUInt32LE(8);
  if (CHECKPOINT_HEADER_SIZE_BYTES + bodySizeBytes !== content.length) {
    throw damaged(8, `body size field says ${bodySizeBytes} bytes, file holds ${content.length - CHECKPOINT_HEADER_SIZE_BYTES}`);
  }
  const body = content.subarray(CHECKPOINT_HEADER_SIZE_BYTES);
  // Past the checksum, damage is somewhere in the body.
  const bodyDamaged = (reason: string): CorruptionError => damaged(CHECKPOINT_HEADER_SIZE_BYTES, reason);
  if (crc32(body) !== content.readUInt32LE(12)) throw damaged(12, 'checksum mismatch');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw bodyDamaged('body is not JSON');
  }
  const offsets = (parsed as { offsets?: unknown } | null)?.offsets;
  if (typeof offsets !== 'object' || offsets === null) throw bodyDamaged('body has no offsets');
  const result: Record<string, number> = {};
  for (const [key, offset] of Object.entries(offsets)) {
    try {
      // Any partition number: a checkpoint outlives a lower maxPartitions.
      parseLogKey(key, Number.MAX_SAFE_INTEGER, 'load checkpoint');
    } catch {
      throw bodyDamaged(`bad key ${describe(key)}`);
    }
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw bodyDamaged(`bad offset for ${key}`);
    result[key] = offset;
  }
  return Object.freeze(result);
}
