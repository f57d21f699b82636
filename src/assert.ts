import { AssertionError } from 'node:assert';

/**
 * Checks an invariant of the storage core. A failure is a bug, never an
 * expected condition: nothing catches it, and it stays on in production
 * because continuing from an impossible state could write bad data.
 */
export function assert(condition: boolean, message = 'invariant violated'): asserts condition {
  if (!condition) throw new AssertionError({ message });
}

/** Marks a branch the type system proves cannot run (exhaustive switches). */
export function unreachable(value: never): never {
  throw new AssertionError({ message: `unreachable: ${String(value)}` });
}
