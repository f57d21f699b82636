/**
 * Runs async tasks with at most a fixed number in flight; the rest wait in
 * arrival order. The log pool closes logs through one: each close briefly
 * needs descriptors of its own (the clean-shutdown marker's temp file, the
 * folder sync), and hundreds of logs let go at once (a consumer over many
 * partitions ending) made as many closes run together and fail with EMFILE.
 */
import { assert } from '../assert.js';

export class RunLimit {
  readonly maxInFlight: number;
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(maxInFlight: number) {
    assert(Number.isInteger(maxInFlight) && maxInFlight >= 1, 'a run limit allows at least one task');
    this.maxInFlight = maxInFlight;
  }

  /** Tasks running now. */
  get inFlightCount(): number {
    return this.#inFlight;
  }

  /** Runs `task` once fewer than `maxInFlight` tasks run; settles as the task does. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#inFlight >= this.maxInFlight) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#inFlight += 1;
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes straight to the next task: the count stays as it is.
      if (next !== undefined) next();
      else this.#inFlight -= 1;
    }
  }
}
