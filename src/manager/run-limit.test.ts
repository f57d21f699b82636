import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunLimit } from './run-limit.js';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve = (): void => {};
  let reject = (_error: Error): void => {};
  const promise = new Promise<void>((resolveNow, rejectNow) => {
    resolve = resolveNow;
    reject = rejectNow;
  });
  return { promise, resolve, reject };
}

test('at most maxInFlight tasks run at once; the others start in arrival order as slots free', async () => {
  const limit = new RunLimit(2);
  const gates = Array.from({ length: 5 }, deferred);
  const started: number[] = [];
  const runs = gates.map((gate, index) =>
    limit.run(async () => {
      started.push(index);
      await gate.promise;
      return index;
    }),
  );
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, [0, 1]);
  assert.equal(limit.inFlightCount, 2);
  gates[1]?.resolve();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, [0, 1, 2]);
  assert.equal(limit.inFlightCount, 2);
  for (const gate of gates) gate.resolve();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3, 4]);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.equal(limit.inFlightCount, 0);
});

test('a task that rejects passes its error on and frees its slot', async () => {
  const limit = new RunLimit(1);
  const failing = deferred();
  const first = limit.run(() => failing.promise);
  const second = limit.run(async () => 'second ran');
  failing.reject(new Error('close failed'));
  await assert.rejects(first, /close failed/);
  assert.equal(await second, 'second ran');
  assert.equal(limit.inFlightCount, 0);
});

test('a limit below one task is refused', () => {
  assert.throws(() => new RunLimit(0), /at least one task/);
  assert.throws(() => new RunLimit(1.5), /at least one task/);
});
