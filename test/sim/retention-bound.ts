/**
 * How far retention may have moved a managed log's firstOffset, for a race
 * test: retention is the only thing that deletes records of a managed log,
 * and with a checkpoint guard it may delete no segment holding a record at
 * or after the guard's offset as the pass read it. So at any moment a
 * log's firstOffset is at most the largest guard offset any pass begun
 * before then could have read (CheckpointModel.guardCeiling), 0 before any
 * pass or without a policy, and unbounded under limits without a guard.
 *
 * That bound takes the highest guard a pass could have read, so it cannot
 * see a pass that read a guard, then deleted below it after a commit that
 * lowered it had resolved. A protection can: once a commit naming a log
 * resolved, while no later call of that checkpoint is made, no record at
 * or after the committed offset that still existed then may go (the
 * manager makes guarded passes and such commits exclude each other). It
 * needs the log's firstOffset when the commit resolved, read from a Wal of
 * the log held open at that moment.
 */
import type { RetentionPolicy } from '../../src/manager/retention.js';
import type { CheckpointCall, CheckpointModel } from './checkpoint-model.js';

interface Pass {
  readonly calledAt: number;
  settledAt: number | null;
}

/** A resolved commit of `offset` for log `key` to checkpoint `name`, when the log's firstOffset was `firstOffset`. */
interface Protection {
  readonly name: string;
  readonly call: CheckpointCall;
  readonly key: string;
  readonly offset: number;
  readonly firstOffset: number;
  readonly at: number;
}

export class RetentionBound {
  readonly #passes: Pass[] = [];
  readonly #protections: Protection[] = [];

  /** An enforceRetention() call made at `calledAt`; settle it with the returned function. */
  passCalled(calledAt: number): (settledAt: number) => void {
    const pass: Pass = { calledAt, settledAt: null };
    this.#passes.push(pass);
    return (settledAt) => {
      pass.settledAt = settledAt;
    };
  }

  /**
   * The largest firstOffset log `key` of `topic` may have at moment `at`.
   * Every checkpoint call made before `at` must have settled.
   */
  firstOffsetMax(policy: RetentionPolicy | undefined, model: CheckpointModel, topic: string, key: string, at: number): number {
    const passes = this.#passes.filter((pass) => pass.calledAt < at);
    if (policy === undefined || passes.length === 0) return 0;
    if (policy.checkpoint === undefined) return policy.maxBytes === undefined && policy.maxAgeMs === undefined ? 0 : Infinity;
    let bound = 0;
    for (const pass of passes) {
      const until = Math.min(pass.settledAt ?? at, at);
      bound = Math.max(bound, model.guardCeiling(policy.checkpoint, key, topic, pass.calledAt, until));
    }
    return bound;
  }

  /** Commit `call` of `name` resolved at `at` with `offset` for `key`, whose firstOffset was then `firstOffset`. */
  protect(name: string, call: CheckpointCall, key: string, offset: number, firstOffset: number, at: number): void {
    this.#protections.push({ name, call, key, offset, firstOffset, at });
  }

  /**
   * The largest firstOffset log `key` may have at moment `at` by the
   * protections of the commits that resolved before then and still stand
   * (Infinity when none applies). Every checkpoint call must have settled.
   */
  protectedFirstOffsetMax(policy: RetentionPolicy | undefined, model: CheckpointModel, key: string, at: number): { bound: number; by: string } {
    let result = { bound: Infinity, by: '' };
    const guard = policy?.checkpoint;
    if (guard === undefined) return result;
    for (const protection of this.#protections) {
      if (protection.key !== key || protection.at >= at) continue;
      // Under 'min' a checkpoint that names the log bounds the smallest offset too.
      if (guard !== 'min' && guard !== protection.name) continue;
      if (model.calledAfter(protection.name, protection.call, at)) continue;
      const bound = Math.max(protection.offset, protection.firstOffset);
      if (bound < result.bound) result = { bound, by: `${protection.name} committed ${protection.offset} with firstOffset ${protection.firstOffset}` };
    }
    return result;
  }
}
