/**
 * A wake-up call for waiters on "something new happened" (tails waiting for
 * the next acknowledgement): one shared promise per round, so a thousand
 * waiting tails cost one promise, not a thousand listeners.
 */
export class Wakeup {
  #pending: { readonly promise: Promise<void>; readonly resolve: () => void } | null = null;

  /** Resolves at the next {@link wake}, or when `signal` aborts (its listener is removed either way). */
  next(signal?: AbortSignal): Promise<void> {
    if (this.#pending === null) {
      let resolve!: () => void;
      const promise = new Promise<void>((resolvePending) => {
        resolve = resolvePending;
      });
      this.#pending = { promise, resolve };
    }
    const woken = this.#pending.promise;
    if (signal === undefined) return woken;
    return new Promise<void>((resolve) => {
      const onAbort = (): void => resolve();
      signal.addEventListener('abort', onAbort, { once: true });
      void woken.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /** Wakes everyone waiting now; later waiters wait for the next call. */
  wake(): void {
    const pending = this.#pending;
    this.#pending = null;
    pending?.resolve();
  }
}
