import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WalError } from '../errors.js';
import { checkPartition, checkTopicName, isValidName, parseLogKey, parsePartitionFolder } from './topic-name.js';

const VALID = ['orders', 'a', 'A-Z_0.9', '...', '.a', 'a..b', '-', 'x'.repeat(249)];
const INVALID: unknown[] = ['', '.', '..', '../x', 'a/b', 'a\\b', 'x'.repeat(250), 'ünïcode', 'a b', 'a\0b', '~manager', 'é', '日本', 5, null, undefined, {}];

test('valid topic names are accepted', () => {
  for (const name of VALID) {
    assert.equal(isValidName(name), true, name);
    checkTopicName(name, 'test');
  }
});

test('hostile topic names are rejected with INVALID_ARGUMENT', () => {
  for (const name of INVALID) {
    assert.equal(isValidName(name), false, String(name));
    assert.throws(
      () => checkTopicName(name, 'append records'),
      (error: unknown) => error instanceof WalError && error.code === 'INVALID_ARGUMENT' && error.message.startsWith('Cannot append records:'),
    );
  }
});

test('partitions must be integers in [0, maxPartitions)', () => {
  checkPartition(0, 4, 'test');
  checkPartition(3, 4, 'test');
  for (const partition of [-1, 4, 1.5, Number.NaN, Infinity, '1', null]) {
    assert.throws(() => checkPartition(partition, 4, 'test'), { code: 'INVALID_ARGUMENT' }, String(partition));
  }
});

test('partition folders are canonical decimal numbers only', () => {
  assert.equal(parsePartitionFolder('0'), 0);
  assert.equal(parsePartitionFolder('17'), 17);
  for (const name of ['007', '-1', '1.0', 'a', '', '12345678901', 'LOCK']) assert.equal(parsePartitionFolder(name), null, name);
});

test('checkpoint keys split into a valid topic and partition', () => {
  assert.deepEqual(parseLogKey('orders/3', 10, 'test'), { topic: 'orders', partition: 3 });
  for (const key of ['orders', 'orders/', '/3', '../3', 'a/b/3', 'orders/10', 'orders/03', 'orders/-1']) {
    assert.throws(() => parseLogKey(key, 10, 'test'), { code: 'INVALID_ARGUMENT' }, key);
  }
});
