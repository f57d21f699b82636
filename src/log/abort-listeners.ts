/**
 * One 'abort' listener per signal, however many waiters share it. Tails and
 * consumers of a server usually share one shutdown signal; a listener each
 * made Node warn of a leak (MaxListenersExceededWarning) past ten waiting
 * tails, though every listener went away with its waiter. Raising the
 * limit on the caller's own signal (setMaxListeners) is not ours to do.
 */
interface SignalWaiters {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

const waitersBySignal = new WeakMap<AbortSignal, SignalWaiters>();

/**
 * Calls `callback` once when `signal` aborts (at once if it has).
 * @returns a function that drops the callback; the signal's listener goes with the last one
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  if (signal.aborted) {
    callback();
    return ignore;
  }
  let waiters = waitersBySignal.get(signal);
  if (waiters === undefined) {
    const callbacks = new Set<() => void>();
    const listener = (): void => {
      waitersBySignal.delete(signal);
      for (const call of [...callbacks]) call();
      callbacks.clear();
    };
    waiters = { callbacks, listener };
    waitersBySignal.set(signal, waiters);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { callbacks, listener } = waiters;
  // A distinct function per call: one callback may wait on a signal twice.
  const call = (): void => callback();
  callbacks.add(call);
  return () => {
    if (!callbacks.delete(call) || callbacks.size > 0) return;
    // The last waiter left: a long-lived signal keeps nothing of ours alive.
    signal.removeEventListener('abort', listener);
    if (waitersBySignal.get(signal)?.callbacks === callbacks) waitersBySignal.delete(signal);
  };
}

function ignore(): void {}
