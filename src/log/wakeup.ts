/**
 * A wake-up call for waiters on "something new happened" (tails waiting for
 * the next acknowledgement): one shared promise per round, so a thousand
 * waiting tails cost one promise, not a thousand listeners. A waiter with
 * an abort signal gets its own callback instead, dropped the moment it
 * aborts: on an idle log nothing may keep an aborted tail (and its signal)
 * alive until the next acknowledgement. Waiters on one signal share one
 * listener of it (abort-listeners.ts).
 */
import { onAbort } from './abort-listeners.js';

export class Wakeup {
  #pending: { readonly promise: Promise<void>; readonly resolve: () => void } | null = null;
  readonly #abortable = new Set<() => void>();

  /** Resolves at the next {@link wake}, or when `signal` aborts (its listener is removed either way). */
  next(signal?: AbortSignal): Promise<void> {
    if (signal === undefined) {
      if (this.#pending === null) {
        let resolve!: () => void;
        const promise = new Promise<void>((resolvePending) => {
          resolve = resolvePending;
        });
        this.#pending = { promise, resolve };
      }
      return this.#pending.promise;
    }
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let forgetSignal = (): void => {};
      const done = (): void => {
        this.#abortable.delete(done);
        forgetSignal();
        resolve();
      };
      this.#abortable.add(done);
      forgetSignal = onAbort(signal, done);
    });
  }

  /** Wakes everyone waiting now; later waiters wait for the next call. */
  wake(): void {
    const pending = this.#pending;
    this.#pending = null;
    pending?.resolve();
    if (this.#abortable.size === 0) return;
    const waiters = [...this.#abortable];
    this.#abortable.clear();
    for (const done of waiters) done();
  }
}
