/**
 * The model of a WalManager's checkpoints in a race test: every commit and
 * delete in call order per name (the store runs those of one name one
 * after another, in call order), with when each was called and settled on
 * one event clock. From it: what get() must return once every call of a
 * name settled, and the largest offset a checkpoint guard could have held
 * for a log during a window of the clock (what retention may delete below).
 */
/** A checkpoint as get() returns it; undefined when there is none. */
export type CheckpointState = Readonly<Record<string, number>> | undefined;

export type CheckpointChange =
  | { readonly kind: 'commit'; readonly offsets: Readonly<Record<string, number>>; readonly replace: boolean }
  | { readonly kind: 'delete' };

/** One commit or delete: its change, and when it was called and settled. */
export interface CheckpointCall {
  readonly change: CheckpointChange;
  readonly calledAt: number;
  settledAt: number | null;
  outcome: 'pending' | 'resolved' | 'rejected';
}

function applyChange(state: CheckpointState, change: CheckpointChange): CheckpointState {
  if (change.kind === 'delete') return undefined;
  return { ...(change.replace ? {} : state), ...change.offsets };
}

/** True when `state` names some log of `topic` (only such checkpoints count for a 'min' guard). */
function followsTopic(state: CheckpointState, topic: string): boolean {
  return state !== undefined && Object.keys(state).some((key) => key.slice(0, key.lastIndexOf('/')) === topic);
}

export class CheckpointModel {
  readonly #calls = new Map<string, CheckpointCall[]>();

  /** Records a call of `name`, made at `calledAt` (it joins the name's queue now). */
  called(name: string, change: CheckpointChange, calledAt: number): CheckpointCall {
    const call: CheckpointCall = { change, calledAt, settledAt: null, outcome: 'pending' };
    let calls = this.#calls.get(name);
    if (calls === undefined) {
      calls = [];
      this.#calls.set(name, calls);
    }
    calls.push(call);
    return call;
  }

  settled(call: CheckpointCall, resolved: boolean, settledAt: number): void {
    call.settledAt = settledAt;
    call.outcome = resolved ? 'resolved' : 'rejected';
  }

  /** Names ever committed or deleted. */
  names(): string[] {
    return [...this.#calls.keys()].sort();
  }

  /** What get(name) must return now, or 'unsettled' while a call of it is in flight. */
  settledState(name: string): CheckpointState | 'unsettled' {
    const calls = this.#calls.get(name) ?? [];
    if (calls.some((call) => call.outcome === 'pending')) return 'unsettled';
    return this.#stateAfter(calls, calls.length);
  }

  /** True when a call of `name` was made after `call` (in call order) and before `before`. */
  calledAfter(name: string, call: CheckpointCall, before: number): boolean {
    const calls = this.#calls.get(name) ?? [];
    return calls.slice(calls.indexOf(call) + 1).some((later) => later.calledAt < before);
  }

  /**
   * The largest offset the guard `guard` (a checkpoint name or 'min') could
   * have held for log `key` of `topic` at any moment of (from, to), as
   * retention reads it: a named checkpoint without the log's offset (or no
   * checkpoint) guards from 0; 'min' takes the smallest offset over the
   * checkpoints that name some log of the topic (0 for one without this
   * log), and 0 when none does. Every call must have settled.
   */
  guardCeiling(guard: string, key: string, topic: string, from: number, to: number): number {
    const moments = new Set<number>([from, to]);
    for (const calls of this.#calls.values()) {
      for (const call of calls) {
        for (const at of [call.calledAt, call.settledAt ?? to]) if (at >= from && at < to) moments.add(at + 1);
      }
    }
    let ceiling = 0;
    for (const moment of moments) {
      ceiling = Math.max(ceiling, guard === 'min' ? this.#minCeilingAt(key, topic, moment) : this.#namedCeilingAt(guard, key, moment));
    }
    return ceiling;
  }

  /** The offsets (0 where it has none) that `name` may have held for `key` at some moment of (from, to). Every call must have settled. */
  offsetsBetween(name: string, key: string, from: number, to: number): number[] {
    const calls = this.#calls.get(name) ?? [];
    let landed = 0;
    while (landed < calls.length && (calls[landed]?.settledAt ?? Infinity) < from) landed += 1;
    let called = landed;
    while (called < calls.length && (calls[called]?.calledAt ?? Infinity) < to) called += 1;
    const offsets: number[] = [];
    for (let count = landed; count <= called; count += 1) offsets.push(this.#stateAfter(calls, count)?.[key] ?? 0);
    return offsets;
  }

  /** The states `name` may be in at `moment`: after every call settled before it, and possibly after those called before it. */
  #statesAt(name: string, moment: number): CheckpointState[] {
    const calls = this.#calls.get(name) ?? [];
    let landed = 0;
    while (landed < calls.length && (calls[landed]?.settledAt ?? Infinity) < moment) landed += 1;
    let called = landed;
    while (called < calls.length && (calls[called]?.calledAt ?? Infinity) < moment) called += 1;
    const states: CheckpointState[] = [];
    for (let count = landed; count <= called; count += 1) states.push(this.#stateAfter(calls, count));
    return states;
  }

  #namedCeilingAt(name: string, key: string, moment: number): number {
    return Math.max(0, ...this.#statesAt(name, moment).map((state) => state?.[key] ?? 0));
  }

  #minCeilingAt(key: string, topic: string, moment: number): number {
    let certain = Infinity;
    let possible = 0;
    for (const name of this.#calls.keys()) {
      const states = this.#statesAt(name, moment);
      const counting = states.filter((state) => followsTopic(state, topic));
      if (counting.length === 0) continue;
      const highest = Math.max(...counting.map((state) => state?.[key] ?? 0));
      possible = Math.max(possible, highest);
      // Counts whichever of its states it is in: the minimum is at most its highest.
      if (counting.length === states.length) certain = Math.min(certain, highest);
    }
    return certain === Infinity ? possible : certain;
  }

  /** The state after the first `count` calls (those rejected changed nothing). */
  #stateAfter(calls: readonly CheckpointCall[], count: number): CheckpointState {
    let state: CheckpointState = undefined;
    for (const call of calls.slice(0, count)) if (call.outcome !== 'rejected') state = applyChange(state, call.change);
    return state;
  }
}
