/**
 * The batch clock with explicit times: when the timer fires, when an
 * acknowledgement is late, and what stays at risk after a sync.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SyncDeadline } from './sync-deadline.js';

describe('SyncDeadline', () => {
  test('the first sync is due intervalMs after the first unsynced acknowledgement', () => {
    const deadline = new SyncDeadline(10);
    deadline.acknowledged(1000);
    deadline.acknowledged(1004);
    assert.equal(deadline.timerDelayMs(1004), 6);
    assert.equal(deadline.isLate(1009), false);
    assert.equal(deadline.isLate(1010), true);
  });

  test('after a slow sync the next one starts earlier by its duration, and never later than now', () => {
    const deadline = new SyncDeadline(10);
    deadline.acknowledged(0);
    deadline.syncStarted(10);
    deadline.syncEnded(14, true);
    assert.equal(deadline.isLate(100), false, 'nothing is at risk after a full sync');
    deadline.acknowledged(100);
    assert.equal(deadline.timerDelayMs(100), 6, 'starts 4 ms early: the last sync took 4 ms');
    deadline.syncStarted(106);
    deadline.syncEnded(150, true);
    deadline.acknowledged(200);
    assert.equal(deadline.timerDelayMs(200), 0, 'a sync slower than the interval starts at once');
  });

  test('acknowledgements made during a sync stay at risk from their own time', () => {
    const deadline = new SyncDeadline(10);
    deadline.acknowledged(0);
    deadline.syncStarted(10);
    deadline.acknowledged(12);
    deadline.acknowledged(15);
    assert.equal(deadline.isLate(12), true, 'the record of time 0 is still unsynced at 12');
    deadline.syncEnded(16, false);
    assert.equal(deadline.isLate(21), false);
    assert.equal(deadline.isLate(22), true, 'the record of time 12 reaches the interval at 22');
  });
});
