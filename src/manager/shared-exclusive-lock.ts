/**
 * A lock that many holders share or one holds alone. Checkpoint commits
 * share it; a retention pass over a log guarded by checkpoints holds it
 * alone, from reading the guard to the last deleted segment, so that a
 * commit that lowers a checkpoint cannot land in between and find its
 * records gone. A waiting exclusive holder goes before shared holders that
 * come after it, so a stream of commits cannot starve retention.
 */
export class SharedExclusiveLock {
  #sharedCount = 0;
  /** Settles when the exclusive holder (or the one waiting for shared holders to leave) is done. */
  #exclusive: Promise<void> | null = null;
  #sharedDrained: (() => void) | null = null;

  /** Runs `use` while no exclusive holder has or waits for the lock. */
  async shared<T>(use: () => Promise<T>): Promise<T> {
    while (this.#exclusive !== null) await this.#exclusive;
    this.#sharedCount += 1;
    try {
      return await use();
    } finally {
      this.#sharedCount -= 1;
      if (this.#sharedCount === 0) this.#sharedDrained?.();
    }
  }

  /** Runs `use` once every earlier holder, shared or exclusive, is done; later ones wait for it. */
  async exclusive<T>(use: () => Promise<T>): Promise<T> {
    while (this.#exclusive !== null) await this.#exclusive;
    let done!: () => void;
    this.#exclusive = new Promise<void>((resolve) => {
      done = resolve;
    });
    try {
      while (this.#sharedCount > 0) {
        await new Promise<void>((resolve) => {
          this.#sharedDrained = resolve;
        });
      }
      this.#sharedDrained = null;
      return await use();
    } finally {
      this.#exclusive = null;
      done();
    }
  }
}
