/**
 * Waiters on one signal share one listener of it: a server's shutdown
 * signal shared by many tails made Node warn of a leak past ten waiting
 * tails (MaxListenersExceededWarning), though nothing leaked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onAbort } from './abort-listeners.js';
import { Wal } from './wal.js';

test('one listener per signal: every callback runs once at abort, a dropped one never, and the last drop removes the listener', () => {
  const controller = new AbortController();
  const calls: string[] = [];
  const first = onAbort(controller.signal, () => calls.push('first'));
  const twice = (): number => calls.push('twice');
  onAbort(controller.signal, twice);
  onAbort(controller.signal, twice);
  const dropped = onAbort(controller.signal, () => calls.push('dropped'));
  assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
  dropped();
  dropped();
  controller.abort();
  controller.abort();
  assert.deepEqual(calls, ['first', 'twice', 'twice']);
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  first();

  const idle = new AbortController();
  const drops = [onAbort(idle.signal, () => calls.push('idle')), onAbort(idle.signal, () => calls.push('idle'))];
  for (const drop of drops) drop();
  assert.equal(getEventListeners(idle.signal, 'abort').length, 0, 'no listener stays on a signal nobody waits on');
  // A new waiter after every one left gets a listener again.
  onAbort(idle.signal, () => calls.push('again'));
  idle.abort();
  assert.deepEqual(calls.slice(3), ['again']);
});

test('a signal that already aborted calls back at once and adds no listener', () => {
  const signal = AbortSignal.abort();
  let called = 0;
  onAbort(signal, () => (called += 1))();
  assert.equal(called, 1);
  assert.equal(getEventListeners(signal, 'abort').length, 0);
});

test('100 tails waiting on one shutdown signal: one listener, no leak warning, all end at abort', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidewal-abort-listeners-'));
  const warnings: string[] = [];
  const onWarning = (warning: Error): number => warnings.push(warning.name);
  process.on('warning', onWarning);
  try {
    const wal = await Wal.open({ dir, fsync: 'os' });
    await wal.append('first');
    const controller = new AbortController();
    const ended = Array.from({ length: 100 }, async () => {
      const seen: number[] = [];
      for await (const record of wal.tail({ from: 0, signal: controller.signal })) seen.push(record.offset);
      return seen;
    });
    // Every tail waits once it has read record 0; on a cold start that takes a while.
    for (let waitedMs = 0; waitedMs < 5000 && getEventListeners(controller.signal, 'abort').length === 0; waitedMs += 5) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (let turn = 0; turn < 20; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
    controller.abort();
    for (const seen of await Promise.all(ended)) assert.deepEqual(seen, [0]);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    // Node emits the warning on the next tick after the eleventh listener.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
    await wal.close();
  } finally {
    process.off('warning', onWarning);
    rmSync(dir, { recursive: true, force: true });
  }
});
