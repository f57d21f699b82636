import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '../logger.js';
import { descriptorsNeeded, LOG_DESCRIPTORS_MAX, openFilesSoftLimit, parseOpenFilesSoftLimit } from './descriptor-budget.js';
import { OPEN_LOGS_LIMIT, WalManager } from './wal-manager.js';
import { freshFolders } from '../../test/temp-folders.js';

const freshDir = freshFolders('tidewal-descriptors-');

function warnings(): Logger & { readonly seen: { object: object; message: string | undefined }[] } {
  const seen: { object: object; message: string | undefined }[] = [];
  const ignore = (): void => {};
  return { seen, debug: ignore, info: ignore, error: ignore, warn: (object, message) => void seen.push({ object, message }) };
}

test('the soft open-files limit is read from /proc/self/limits text', () => {
  const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
  assert.equal(parseOpenFilesSoftLimit(text), 1024);
  assert.equal(parseOpenFilesSoftLimit('Max open files            unlimited            unlimited            files\n'), null);
  assert.equal(parseOpenFilesSoftLimit('Max processes 10 10 processes\n'), null);
});

test('a log may hold 7 descriptors, so the defaults need about 2,000', () => {
  assert.equal(LOG_DESCRIPTORS_MAX, 7);
  assert.equal(descriptorsNeeded(256, 128), 256 * 7 + 128 + 64);
});

test('a manager whose bounds exceed the open-files limit warns once at open, naming both numbers; one within it does not', async (t) => {
  const limit = openFilesSoftLimit();
  if (limit === null) {
    t.skip('no /proc/self/limits on this system');
    return;
  }
  const tooMany = Math.ceil(limit / LOG_DESCRIPTORS_MAX) + 1;
  if (tooMany > OPEN_LOGS_LIMIT) {
    // An open-files limit of millions (LimitNOFILE=infinity) needs more logs than maxOpenLogs accepts.
    t.skip(`the open-files limit (${limit}) is too high to exceed with maxOpenLogs <= ${OPEN_LOGS_LIMIT}`);
    return;
  }
  const loud = warnings();
  const big = await WalManager.open({ dir: freshDir(), maxOpenLogs: tooMany, retentionIntervalMs: 0, logger: loud });
  await big.close();
  assert.equal(loud.seen.length, 1, JSON.stringify(loud.seen));
  assert.match(loud.seen[0]?.message ?? '', new RegExp(`open-files limit \\(${limit}\\) is below the ${descriptorsNeeded(tooMany, 128)} descriptors.*raise ulimit -n or lower maxOpenLogs`));
  const quiet = warnings();
  const small = await WalManager.open({ dir: freshDir(), maxOpenLogs: 4, retentionIntervalMs: 0, logger: quiet });
  await small.close();
  assert.deepEqual(quiet.seen, []);
});
