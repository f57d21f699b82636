import { InvalidArgumentError, WalError, WalIOError } from '../errors.js';

/**
 * Errors of an open as callers handle them: a WalError, with any errno error
 * as its cause. Assertion failures (bugs) and WalErrors pass unchanged.
 * @param subject what was being opened: "log", "manager"
 */
export function asOpenError(error: unknown, dir: string, subject: string): unknown {
  if (error instanceof WalError || !(error instanceof Error)) return error;
  // Only an errno error is an I/O failure; anything else (a bug, or a
  // caller's fileSystem or logger throwing) passes as it is, not disguised.
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) return error;
  // A file (or a symlink to nothing) where a folder must be is the caller's path, not a failing disk.
  if (code === 'ENOTDIR') {
    return new InvalidArgumentError(`Cannot open ${subject} in ${dir}: it, or a folder above it, is not a folder but a file or a symlink to nothing (${code}); give the path of a folder, new or existing`, { cause: error });
  }
  // A path no file system can hold is also the caller's to fix.
  if (code === 'ENAMETOOLONG' || code === 'ELOOP') {
    const what = code === 'ENAMETOOLONG' ? 'its path, or a name in it, is too long' : 'its path runs into a loop of symlinks';
    return new InvalidArgumentError(`Cannot open ${subject} in ${dir}: ${what} (${code}); give a shorter path, or one without the loop`, { cause: error });
  }
  // A folder where the log keeps one of its files (LOCK, a segment, a temp
  // file): space and permissions are not the problem, the folder is.
  if (code === 'EISDIR') {
    const path = (error as NodeJS.ErrnoException).path;
    const where = typeof path === 'string' ? path : `one of its file names (LOCK, clean-shutdown, a segment or a .tmp file) in ${dir}`;
    return new InvalidArgumentError(
      `Cannot open ${subject} in ${dir}: ${where} is a folder, where the ${subject} keeps a file of its own (${code}); move that folder out of ${dir}`,
      { cause: error },
    );
  }
  return new WalIOError(`Cannot open ${subject} in ${dir}: ${error.message} (${code}); ${remedyFor(code)}`, error);
}

/** What the caller can do about an errno error of an open. */
function remedyFor(code: string): string {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'free space on its disk (or raise the quota), then open again';
    case 'EACCES':
    case 'EPERM':
      return 'give this process permission to read and write the folder and its files';
    case 'EROFS':
      return 'its file system is mounted read-only: remount it read-write, or choose another folder';
    case 'EMFILE':
    case 'ENFILE':
      return 'the process is out of file descriptors: raise its limit (ulimit -n), or lower maxOpenFiles / maxOpenLogs';
    case 'EIO':
      return 'the device reported an I/O error: check the disk and the system log (dmesg) before opening again';
    default:
      return 'check the folder exists, is writable and has space';
  }
}
