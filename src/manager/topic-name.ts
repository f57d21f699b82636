/**
 * Names that become paths. A topic name, a partition number or a
 * checkpoint name is checked here before any path is built from it, so that
 * no caller input can point outside the manager's folder (`../x`, `a/b`),
 * create a stray folder, or collide with the manager's own files (which use
 * a character, `~`, that no valid name may hold).
 */
import { InvalidArgumentError } from '../errors.js';
import { describe } from '../log/options.js';

/** Longest topic name; Kafka's limit. A topic is a folder name, well under the 255 bytes a file name may hold. */
export const TOPIC_NAME_LENGTH_MAX = 249;

/**
 * Longest checkpoint (and consumer-group) name. A checkpoint is the file
 * `<name>.checkpoint`, written through `<name>.checkpoint.<pid>.<seq>.tmp`:
 * up to 34 bytes more than the name, and a file name holds 255 bytes. At
 * 249 a commit failed with ENAMETOOLONG and stopped the store.
 */
export const CHECKPOINT_NAME_LENGTH_MAX = 200;

/** Default bound on partition numbers: keeps one topic's folder listing bounded. */
export const PARTITIONS_DEFAULT_MAX = 65_536;

/** Hard ceiling of `maxPartitions`; partition numbers are folder names and must stay small integers. */
export const PARTITIONS_LIMIT = 2 ** 31;

/** ASCII letters, digits, `.`, `_` and `-` only: no separators, no unicode look-alikes. */
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;

/** Canonical decimal: no sign, no leading zeros (so `007` and `7` are not two folders). */
const PARTITION_FOLDER_PATTERN = /^(0|[1-9][0-9]{0,9})$/;

/** True when `name` is a valid topic name. */
export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && NAME_PATTERN.test(name) && name !== '.' && name !== '..';
}

/**
 * Checks a topic name.
 * @param name the caller's value
 * @param action what the caller was doing, for the message ("append records")
 * @throws InvalidArgumentError unless `name` matches `[A-Za-z0-9._-]{1,249}` and is not `.` or `..`
 * @example
 * checkTopicName('orders', 'append records');
 */
export function checkTopicName(name: unknown, action: string): asserts name is string {
  checkName(name, action, 'topic', TOPIC_NAME_LENGTH_MAX);
}

/** The rules of a topic name, at most CHECKPOINT_NAME_LENGTH_MAX long: for the name of a checkpoint to write (a commit, a consumer group). */
export function checkCheckpointName(name: unknown, action: string): asserts name is string {
  checkName(name, action, 'checkpoint name', CHECKPOINT_NAME_LENGTH_MAX);
}

/**
 * The rules of a topic name: for the name of a checkpoint to read or delete.
 * Earlier versions wrote names longer than CHECKPOINT_NAME_LENGTH_MAX where
 * the file name fitted; such checkpoints still load, guard retention and can
 * be deleted, but no new one is written.
 */
export function checkStoredCheckpointName(name: unknown, action: string): asserts name is string {
  checkName(name, action, 'checkpoint name', TOPIC_NAME_LENGTH_MAX);
}

function checkName(name: unknown, action: string, what: string, lengthMax: number): asserts name is string {
  if (isValidName(name) && name.length <= lengthMax) return;
  if (typeof name !== 'string') {
    throw new InvalidArgumentError(`Cannot ${action}: ${what} must be a string, got ${describe(name)}`);
  }
  throw new InvalidArgumentError(
    `Cannot ${action}: ${what} ${describe(name)} is not valid; ` +
      `it must be 1 to ${lengthMax} of the characters A-Z a-z 0-9 . _ - and not "." or ".."`,
  );
}

/**
 * Checks a partition number.
 * @param partition the caller's value
 * @param maxPartitions partitions are in `[0, maxPartitions)`
 * @throws InvalidArgumentError unless `partition` is an integer in range
 */
export function checkPartition(partition: unknown, maxPartitions: number, action: string): asserts partition is number {
  if (typeof partition === 'number' && Number.isInteger(partition) && partition >= 0 && partition < maxPartitions) return;
  throw new InvalidArgumentError(
    `Cannot ${action}: partition must be an integer in [0, ${maxPartitions}), got ${describe(partition)}`,
  );
}

/** The partition a folder name stands for, or `null` when the folder is not a partition. */
export function parsePartitionFolder(name: string): number | null {
  return PARTITION_FOLDER_PATTERN.test(name) ? Number(name) : null;
}

/** A log's key in checkpoints: `'topic/partition'`. */
export function logKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/**
 * Splits and checks a checkpoint key `'topic/partition'`.
 * @throws InvalidArgumentError when the key is not a valid topic, a slash, and a valid partition
 */
export function parseLogKey(key: string, maxPartitions: number, action: string): { topic: string; partition: number } {
  const slashIndex = key.lastIndexOf('/');
  const topic = key.slice(0, slashIndex);
  const partition = slashIndex < 0 ? null : parsePartitionFolder(key.slice(slashIndex + 1));
  if (slashIndex < 0 || partition === null || !isValidName(topic)) {
    throw new InvalidArgumentError(`Cannot ${action}: key ${describe(key)} is not 'topic/partition'`);
  }
  checkPartition(partition, maxPartitions, action);
  return { topic, partition };
}
