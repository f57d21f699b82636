/**
 * tidewal: a durable, segmented, group-committed write-ahead log.
 * This is the only barrel: everything public is exported here.
 */
export { Wal } from './log/wal.js';
export type { WalRecord, RecordBlock, ReadOptions, TailOptions, SegmentInfo, AppendResult, WalState } from './log/wal.js';
export type { RecoverySummary, RepairSummary } from './log/recovery.js';
export type { WalOptions, FsyncPolicy } from './log/options.js';
export { FileCache } from './log/file-cache.js';
export {
  WalError,
  InvalidArgumentError,
  CorruptionError,
  WalIOError,
  WalClosedError,
  LockedError,
  OffsetOutOfRangeError,
  FormatUnsupportedError,
} from './errors.js';
export type { WalErrorCode } from './errors.js';
export type { FileSystem, FileHandle, OpenOptions } from './io/file-system.js';
export type { Clock } from './io/clock.js';
export { NodeFileSystem } from './io/node-file-system.js';
export type { Logger } from './logger.js';
export { WalManager } from './manager/wal-manager.js';
export type { WalManagerOptions, ManagedLogOptions, RetentionFailure, RetentionReport, SyncStream } from './manager/wal-manager.js';
export { CheckpointStore } from './manager/checkpoint-store.js';
export type { CheckpointOffsets, CommitOptions } from './manager/checkpoint-store.js';
export { Consumer } from './manager/consumer.js';
export type { ConsumeOptions, ConsumeFrom, ConsumerRecord } from './manager/consumer.js';
export type { RetentionPolicy } from './manager/retention.js';
export { SharedAppendChannel } from './worker/shared-append-channel.js';
export type { SharedAppendChannelOptions, AppendTarget } from './worker/shared-append-channel.js';
export { SharedAppender } from './worker/shared-appender.js';
export type { SharedAppendHandle } from './worker/shared-ring.js';
