/**
 * Every condition a caller can handle is a {@link WalError} with a stable
 * `code`. Subclasses exist for `instanceof`; the code is what to switch on.
 */
export type WalErrorCode =
  | 'INVALID_ARGUMENT'
  | 'LOG_CORRUPT'
  | 'WAL_FAILED'
  | 'WAL_CLOSED'
  | 'LOCKED'
  | 'OFFSET_OUT_OF_RANGE'
  | 'FORMAT_UNSUPPORTED'
  | 'CONFLICT';

/**
 * Base class of every error tidewal reports on purpose.
 *
 * @example
 * try { await wal.append(data); }
 * catch (error) { if (error instanceof WalError && error.code === 'WAL_CLOSED') reopen(); }
 */
export class WalError extends Error {
  /** Stable, machine-readable reason; safe to switch on. */
  readonly code: WalErrorCode;

  constructor(code: WalErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WalError';
    this.code = code;
  }
}

/** A bad argument or option; nothing was changed. */
export class InvalidArgumentError extends WalError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
    this.name = 'InvalidArgumentError';
  }
}

/** Data on disk is damaged somewhere other than a torn tail. */
export class CorruptionError extends WalError {
  /** The damaged file. */
  readonly file: string;
  /** Byte position of the first bad frame inside `file`. */
  readonly filePosition: number;
  /** What is wrong there, without the file, position and remedy of the message. */
  readonly reason: string;

  /**
   * @param options.action what failed, for the message (default "read log")
   * @param options.remedy what the caller can do (default: open with repair, for a log's segments)
   */
  constructor(file: string, filePosition: number, reason: string, options?: { readonly action?: string; readonly remedy?: string }) {
    super(
      'LOG_CORRUPT',
      `Cannot ${options?.action ?? 'read log'}: ${reason} in ${file} at byte ${filePosition}; ` +
        (options?.remedy ?? 'open with { repair: true } to cut the log there (the cut bytes are kept in a .broken file)'),
    );
    this.name = 'CorruptionError';
    this.file = file;
    this.filePosition = filePosition;
    this.reason = reason;
  }
}

/** A write or sync failed; the log stopped and must be reopened (which runs recovery). */
export class WalIOError extends WalError {
  constructor(message: string, cause: unknown) {
    super('WAL_FAILED', message, { cause });
    this.name = 'WalIOError';
  }
}

/** The log (or the manager, consumer or channel in front of it) was closed; open it again to continue. */
export class WalClosedError extends WalError {
  /**
   * @param closed what is closed, for the message (default "log")
   * @param remedy what to do (default: open it again with Wal.open())
   */
  constructor(action: string, closed = 'log', remedy = 'open it again with Wal.open()') {
    super('WAL_CLOSED', `Cannot ${action}: the ${closed} is closed; ${remedy}`);
    this.name = 'WalClosedError';
  }
}

/** Another owner (this process or another) holds the directory. */
export class LockedError extends WalError {
  /**
   * @param dir the folder of the log or manager
   * @param owner who holds it
   * @param subject what was being opened
   */
  constructor(dir: string, owner: string, subject: 'log' | 'manager' = 'log') {
    super('LOCKED', `Cannot open ${subject} in ${dir}: it is already open (${owner}); close the other owner first`);
    this.name = 'LockedError';
  }
}

/** An offset outside the readable range `[firstOffset, nextOffset)`. */
export class OffsetOutOfRangeError extends WalError {
  readonly offset: number;

  /**
   * @param nextOffset the log's nextOffset: the range is [firstOffset, nextOffset)
   * @param acceptsNextOffset the call takes nextOffset itself (tail from it, truncate everything below it)
   */
  constructor(action: string, offset: number, firstOffset: number, nextOffset: number, acceptsNextOffset = false) {
    super(
      'OFFSET_OUT_OF_RANGE',
      `Cannot ${action}: offset ${offset} is outside the log's range [${firstOffset}, ${nextOffset})` +
        (offset < firstOffset
          ? `; the records before ${firstOffset} were deleted (truncateBefore or retention), start at firstOffset`
          : acceptsNextOffset
            ? `; the highest offset accepted here is ${nextOffset} (nextOffset)`
            : nextOffset <= firstOffset
              ? '; the log holds no records: read without from, or tail it'
              : `; the highest offset accepted here is ${nextOffset - 1}`),
    );
    this.name = 'OffsetOutOfRangeError';
    this.offset = offset;
  }
}

/** A file written by a format version this code does not know. */
export class FormatUnsupportedError extends WalError {
  constructor(file: string, version: number, supported: number) {
    super(
      'FORMAT_UNSUPPORTED',
      `Cannot open ${file}: format version is ${version}, this tidewal reads version ${supported}; ` +
        'upgrade tidewal to read it',
    );
    this.name = 'FormatUnsupportedError';
  }
}
