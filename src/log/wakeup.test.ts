/**
 * Wakeup: tails wait on it for the next acknowledgement. A waiter with an
 * abort signal that aborts must be let go at once, not when the next wake
 * comes: on an idle log that may be never, and each aborted tail would keep
 * its signal and callbacks in memory (200,000 aborted tails held 330 MiB).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Wakeup } from './wakeup.js';

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

test('every waiter wakes at wake(), and one whose signal aborts wakes at once', async () => {
  const wakeup = new Wakeup();
  const woken: string[] = [];
  const controller = new AbortController();
  const plain = wakeup.next().then(() => woken.push('plain'));
  const abortable = wakeup.next(new AbortController().signal).then(() => woken.push('abortable'));
  const aborted = wakeup.next(controller.signal).then(() => woken.push('aborted'));
  controller.abort();
  await aborted;
  assert.deepEqual(woken, ['aborted']);
  wakeup.wake();
  await Promise.all([plain, abortable]);
  assert.deepEqual(woken.sort(), ['abortable', 'aborted', 'plain']);
  const late = wakeup.next();
  let lateWoken = false;
  void late.then(() => (lateWoken = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(lateWoken, false, 'a waiter that came after wake() waits for the next one');
  assert.equal(await Promise.race([wakeup.next(AbortSignal.abort()).then(() => 'resolved'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 50))]), 'resolved', 'an already aborted signal does not wait');
});

test('an aborted waiter keeps nothing alive until the next wake', async () => {
  const wakeup = new Wakeup();
  const abortOne = async (): Promise<WeakRef<AbortSignal>> => {
    const controller = new AbortController();
    const waiting = wakeup.next(controller.signal);
    controller.abort();
    await waiting;
    return new WeakRef(controller.signal);
  };
  const released: WeakRef<AbortSignal>[] = [];
  for (let index = 0; index < 100; index++) released.push(await abortOne());
  // No wake() comes (an idle log). Let the aborted waiters' promises settle, then collect.
  for (let round = 0; round < 3; round++) {
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
  }
  const alive = released.filter((reference) => reference.deref() !== undefined).length;
  assert.equal(alive, 0, `${alive} of 100 aborted signals are still held`);
  wakeup.wake();
});
