/**
 * The batch policy's promise in time: a power loss may take only the
 * records acknowledged in the last `intervalMs`. This keeps the clock for
 * it: when the oldest acknowledged, unsynced record was acknowledged, and
 * how long syncs take, so that the timer starts a sync early enough to end
 * in time, and so that acknowledgements wait for a sync that runs late
 * rather than pile up more records at risk than `intervalMs` allows.
 */
import { assert } from '../assert.js';

export class SyncDeadline {
  readonly intervalMs: number;
  /** Acknowledgement time of the oldest acknowledged record no sync covers; -1 when there is none. */
  #unsyncedSinceMs = -1;
  /** Start of the sync in flight; -1 when none runs. */
  #syncStartMs = -1;
  /** First acknowledgement since the sync in flight started (its groups were written after the sync's target was taken). */
  #firstAckDuringSyncMs = -1;
  /** How long the last sync took, at most intervalMs: how much earlier than the deadline the next one starts. */
  #leadMs = 0;

  constructor(intervalMs: number) {
    assert(intervalMs > 0, 'a batch interval is positive');
    this.intervalMs = intervalMs;
  }

  /** A group was acknowledged at `nowMs` and no sync covers it yet. */
  acknowledged(nowMs: number): void {
    if (this.#unsyncedSinceMs < 0) this.#unsyncedSinceMs = nowMs;
    if (this.#syncStartMs >= 0 && this.#firstAckDuringSyncMs < 0) this.#firstAckDuringSyncMs = nowMs;
  }

  syncStarted(nowMs: number): void {
    assert(this.#syncStartMs < 0, 'one sync at a time');
    this.#syncStartMs = nowMs;
    this.#firstAckDuringSyncMs = -1;
  }

  /**
   * The sync started last ended and covered everything written when it
   * started. `everythingSynced` says whether acknowledgements made meanwhile
   * (of later writes) are covered too, i.e. whether any remain at risk.
   */
  syncEnded(nowMs: number, everythingSynced: boolean): void {
    assert(this.#syncStartMs >= 0, 'a sync was started');
    this.#leadMs = Math.min(this.intervalMs, nowMs - this.#syncStartMs);
    if (everythingSynced) {
      this.#unsyncedSinceMs = -1;
    } else {
      assert(this.#firstAckDuringSyncMs >= 0, 'records left unsynced were acknowledged during the sync');
      this.#unsyncedSinceMs = this.#firstAckDuringSyncMs;
    }
    this.#syncStartMs = -1;
    this.#firstAckDuringSyncMs = -1;
  }

  /** The sync started last is over, whether or not it ended (a failed one stops the log); a no-op after {@link syncEnded}. */
  syncStopped(): void {
    this.#syncStartMs = -1;
    this.#firstAckDuringSyncMs = -1;
  }

  /** How long the timer waits: long enough to gather a group, short enough that a sync as slow as the last one ends by the deadline. */
  timerDelayMs(nowMs: number): number {
    if (this.#unsyncedSinceMs < 0) return this.intervalMs - this.#leadMs;
    return Math.max(0, this.#unsyncedSinceMs + this.intervalMs - this.#leadMs - nowMs);
  }

  /**
   * True once the oldest unsynced acknowledgement is `intervalMs` old: the
   * sync runs late, and a record acknowledged now would join more than
   * `intervalMs` of acknowledgements at risk. Such acknowledgements wait for
   * a sync that covers them.
   */
  isLate(nowMs: number): boolean {
    return this.#unsyncedSinceMs >= 0 && nowMs - this.#unsyncedSinceMs >= this.intervalMs;
  }
}
