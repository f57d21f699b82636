/**
 * The logging interface tidewal uses: a subset of pino's, so a pino logger
 * (or anything with the same methods) can be passed as it is.
 */
export interface Logger {
  debug(object: object, message?: string): void;
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

function ignore(): void {}

/** The default: logs nothing. */
export const silentLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
