/**
 * A clock of events for race tests: every call and every settlement takes
 * the next tick, so that a model can tell what was called or settled
 * before what, whatever the wall clock says.
 */
export class EventClock {
  #now = 0;

  /** The next moment; every call returns a larger one. */
  tick(): number {
    this.#now += 1;
    return this.#now;
  }
}
