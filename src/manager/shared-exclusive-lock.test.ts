import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gate } from '../../test/gate.js';
import { SharedExclusiveLock } from './shared-exclusive-lock.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('shared holders overlap; an exclusive one waits for them, and shared ones that come later wait for it', async () => {
  const lock = new SharedExclusiveLock();
  const events: string[] = [];
  const first = gate();
  const second = gate();
  const sharedA = lock.shared(async () => {
    events.push('A in');
    await first.opened;
    events.push('A out');
  });
  const sharedB = lock.shared(async () => {
    events.push('B in');
    await second.opened;
    events.push('B out');
  });
  await turn();
  assert.deepEqual(events, ['A in', 'B in'], 'shared holders run together');
  const exclusive = lock.exclusive(async () => {
    events.push('X in');
    await turn();
    events.push('X out');
  });
  const sharedC = lock.shared(async () => {
    events.push('C in');
  });
  await turn();
  first.open();
  await turn();
  assert.deepEqual(events, ['A in', 'B in', 'A out'], 'the exclusive holder waits for every shared one');
  second.open();
  await Promise.all([sharedA, sharedB, exclusive, sharedC]);
  assert.deepEqual(events, ['A in', 'B in', 'A out', 'B out', 'X in', 'X out', 'C in'], 'a later shared holder waits for the exclusive one');
});

test('exclusive holders take turns, and a failing holder releases the lock', async () => {
  const lock = new SharedExclusiveLock();
  const events: string[] = [];
  const failing = lock.exclusive(async () => {
    events.push('1 in');
    await turn();
    throw new Error('boom');
  });
  const next = lock.exclusive(async () => {
    events.push('2 in');
    return 2;
  });
  const shared = lock.shared(async () => {
    events.push('shared');
    return 'ok';
  });
  await assert.rejects(failing, /boom/);
  assert.equal(await next, 2);
  assert.equal(await shared, 'ok');
  assert.deepEqual(events.slice(0, 2), ['1 in', '2 in']);
  assert.ok(events.includes('shared'));
});
