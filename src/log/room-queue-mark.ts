/**
 * Tells `sync()` when every append that waited for room (`maxPendingBytes`)
 * before it was called has joined a write group, or given up. Such appends
 * were called before the sync, so "everything appended so far" includes
 * them; without this, sync() covered only the groups that existed at the
 * call and resolved while those appends were still waiting (a review's
 * fuzzer found it; under 'os' they were even acknowledged before sync()
 * resolved, yet not synced).
 *
 * Appends are let in first come, first served, so a count of entries and of
 * settled ones is enough: the sync waits for the count it saw.
 */
interface MarkWaiter {
  /** Settled once this many appends have. */
  readonly count: number;
  readonly resolve: () => void;
}

export class RoomQueueMark {
  #enteredCount = 0;
  #settledCount = 0;
  #waiters: MarkWaiter[] = [];

  /** An append starts waiting for room; returns its place, for {@link settled}. */
  enter(): number {
    this.#enteredCount += 1;
    return this.#enteredCount;
  }

  /** The append at `place` joined a group or gave up (the log failed or closed). */
  settled(place: number): void {
    if (place <= this.#settledCount) return;
    this.#settledCount = place;
    if (this.#waiters.length === 0) return;
    const waiting: MarkWaiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.count <= this.#settledCount) waiter.resolve();
      else waiting.push(waiter);
    }
    this.#waiters = waiting;
  }

  /** Resolves once every append that entered before this call has settled (at once when none waits). */
  allEnteredSettled(): Promise<void> | null {
    const count = this.#enteredCount;
    if (count <= this.#settledCount) return null;
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }
}
