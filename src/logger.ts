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

const guarded = new WeakSet<Logger>();

/**
 * `logger` with every call shielded. A logger that throws (a stream ended
 * during shutdown, a failing transport) or returns a rejected promise must
 * not break the storage code that called it: a throw in the middle of a
 * failure path left appends and close() waiting for ever and the folder
 * locked. What the logger throws is dropped; there is nowhere else to say it.
 */
export function guardedLogger(logger: Logger): Logger {
  if (logger === silentLogger || guarded.has(logger)) return logger;
  const shield =
    (method: keyof Logger) =>
    (object: object, message?: string): void => {
      try {
        const result: unknown = message === undefined ? logger[method](object) : logger[method](object, message);
        if (typeof (result as { then?: unknown } | null)?.then === 'function') (result as Promise<unknown>).then(undefined, ignore);
      } catch {
        // dropped: see above
      }
    };
  const shielded: Logger = { debug: shield('debug'), info: shield('info'), warn: shield('warn'), error: shield('error') };
  guarded.add(shielded);
  return shielded;
}
