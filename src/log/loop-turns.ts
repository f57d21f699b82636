import type { Clock } from '../io/clock.js';

/**
 * Whether the event loop has turned lately. Under 'os' and batch a flush
 * does no thread-pool I/O: it writes with writeSync and resolves the group
 * at once. Producers that await each append in a loop then form a chain of
 * process.nextTick flushes and promise reactions that never ends, and the
 * event loop never reaches its timers (the batch sync timer) or its I/O
 * callbacks. Measured: under batch 5 ms, four such producers kept
 * `durableOffset` at 0 for 3 s, until a rotation awaited real I/O. The
 * flusher asks this watch, and when the loop has been held up too long it
 * schedules the next flush with setImmediate, which lets the loop turn.
 */
export class LoopTurnWatch {
  readonly #clock: Clock;
  #lastTurnMs = 0;
  #turnPending = false;
  readonly #onTurn = (): void => {
    this.#turnPending = false;
    this.#lastTurnMs = this.#clock.monotonicMs();
  };

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * Milliseconds the event loop has been held up, as far as this watch saw:
   * since the start of a watch (one setImmediate outstanding at a time) that
   * has not yet run. 0 when a new watch starts.
   */
  heldUpMs(nowMs: number): number {
    if (this.#turnPending) return nowMs - this.#lastTurnMs;
    this.#turnPending = true;
    this.#lastTurnMs = nowMs;
    setImmediate(this.#onTurn);
    return 0;
  }
}
