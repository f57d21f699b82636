import { WalError, WalIOError } from '../errors.js';

/**
 * Errors of an open as callers handle them: a WalError, with any errno error
 * as its cause. Assertion failures (bugs) and WalErrors pass unchanged.
 * @param subject what was being opened: "log", "manager"
 */
export function asOpenError(error: unknown, dir: string, subject: string): unknown {
  if (error instanceof WalError || !(error instanceof Error) || error.name === 'AssertionError') return error;
  const code = (error as NodeJS.ErrnoException).code;
  const detail = code === undefined ? error.message : `${error.message} (${code})`;
  return new WalIOError(`Cannot open ${subject} in ${dir}: ${detail}; check the folder exists, is writable and has space`, error);
}
