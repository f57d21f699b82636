import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CorruptionError, WalError } from '../errors.js';
import { Wal } from '../log/wal.js';
import type { Logger } from '../logger.js';
import { decodeJournalEntry, encodeJournalEntry, JOURNAL_ENTRY_HEADER_BYTES } from './journal-entry.js';
import { JOURNAL_FOLDER_NAME, MANAGER_FOLDER_NAME, WalManager } from './wal-manager.js';
import { freshFolders } from '../../test/temp-folders.js';
import { copyLiveFolder } from '../../test/copy-live-folder.js';
import { flipByte, framesOf, lastSegmentPath } from '../../test/corruption/damage.js';

const freshDir = freshFolders('tidewal-journal-');

function journalSegments(dir: string): string[] {
  const journalDir = join(dir, MANAGER_FOLDER_NAME, JOURNAL_FOLDER_NAME);
  return existsSync(journalDir) ? readdirSync(journalDir).filter((name) => name.endsWith('.wal')) : [];
}

/** A logger that keeps what it was told. */
function recordingLogger(): Logger & { readonly messages: { object: object; message: string | undefined }[] } {
  const messages: { object: object; message: string | undefined }[] = [];
  const keep = (object: object, message?: string): void => {
    messages.push({ object, message });
  };
  return { messages, debug: keep, info: keep, warn: keep, error: keep };
}

test('a journal entry round-trips, and a record that is not one is LOG_CORRUPT', () => {
  const bytes = Buffer.from('frame bytes');
  const entry = decodeJournalEntry(encodeJournalEntry('orders/7', 2 ** 40 + 3, 123_456_789_012, bytes), 'test');
  assert.equal(entry.logKey, 'orders/7');
  assert.equal(entry.segmentBaseOffset, 2 ** 40 + 3);
  assert.equal(entry.filePosition, 123_456_789_012);
  assert.deepEqual(entry.bytes, bytes);
  const good = encodeJournalEntry('t/0', 0, 0, bytes);
  const wrongVersion = Buffer.from(good);
  wrongVersion[0] = 9;
  const keyTooLong = Buffer.from(good);
  keyTooLong.writeUInt16LE(60_000, 2);
  for (const bad of [Buffer.alloc(JOURNAL_ENTRY_HEADER_BYTES - 1), wrongVersion, keyTooLong]) {
    assert.throws(() => decodeJournalEntry(bad, 'record 5'), (error: unknown) => error instanceof WalError && error.code === 'LOG_CORRUPT' && /record 5/.test(error.message));
  }
});

test("the shared stream journals 'always' logs, removes the journal on a clean close, and per-log makes none", async () => {
  const shared = freshDir();
  const mgr = await WalManager.open({ dir: shared, fsync: 'always', retentionIntervalMs: 0 });
  await Promise.all([0, 1, 2, 3].map((partition) => mgr.append('t', partition, ['a', 'b', 'c'])));
  assert.equal(journalSegments(shared).length, 1, 'the journal holds the writes while open');
  await mgr.close();
  assert.deepEqual(journalSegments(shared), [], 'a clean close leaves no journal to replay');

  const perLog = freshDir();
  const other = await WalManager.open({ dir: perLog, fsync: 'always', syncStream: 'per-log', retentionIntervalMs: 0 });
  await other.append('t', 0, 'a');
  assert.deepEqual(journalSegments(perLog), []);
  await other.close();

  // Under 'os' nothing waits for a flush: the journal is not even opened,
  // until a log whose own options ask for 'always' opens.
  const unsynced = freshDir();
  const mixed = await WalManager.open({
    dir: unsynced,
    fsync: 'os',
    retentionIntervalMs: 0,
    logOptions: (topic) => (topic === 'durable' ? { fsync: 'always' } : {}),
  });
  await mixed.append('t', 0, 'a');
  assert.equal(existsSync(join(unsynced, MANAGER_FOLDER_NAME, JOURNAL_FOLDER_NAME)), false);
  await mixed.append('durable', 0, 'b');
  assert.equal(journalSegments(unsynced).length, 1, "the first 'always' log opens the journal");
  await mixed.close();
  assert.deepEqual(journalSegments(unsynced), []);
});

test('a copy taken while the manager runs (a crash) opens by replaying the journal, with every record', async () => {
  const dir = freshDir();
  const mgr = await WalManager.open({ dir, fsync: 'always', segmentMaxRecords: 5, retentionIntervalMs: 0 });
  const written = new Map<number, string[]>();
  await Promise.all(
    [0, 1, 2].map(async (partition) => {
      const records: string[] = [];
      for (let index = 0; index < 40; index++) {
        const data = `p${partition}-${index}`;
        assert.equal(await mgr.append('t', partition, data), index);
        records.push(data);
      }
      written.set(partition, records);
    }),
  );
  const crashed = copyLiveFolder(dir, freshDir);
  await mgr.close();
  for (const name of ['~manager/LOCK', '~manager/journal/LOCK', 't/0/LOCK', 't/1/LOCK', 't/2/LOCK']) rmSync(join(crashed, name), { force: true });

  const logger = recordingLogger();
  const reopened = await WalManager.open({ dir: crashed, fsync: 'always', segmentMaxRecords: 5, retentionIntervalMs: 0, logger });
  try {
    const replay = logger.messages.find((entry) => entry.message === 'replayed the shared journal');
    assert.ok(replay !== undefined, 'open replayed the journal');
    const summary = (replay.object as { replay: { entryCount: number; logCount: number } }).replay;
    assert.ok(summary.entryCount > 0);
    assert.equal(summary.logCount, 3);
    for (const [partition, records] of written) {
      const read: string[] = [];
      for await (const record of reopened.read('t', partition)) read.push(record.data.toString());
      assert.deepEqual(read, records);
    }
  } finally {
    await reopened.close();
  }
});

test('journal checkpoints run as the journal grows, with evictions closing logs, and the data stays readable', async () => {
  const dir = freshDir();
  const logger = recordingLogger();
  const mgr = await WalManager.open({
    dir,
    logger,
    fsync: 'always',
    segmentMaxRecords: 20,
    journalCheckpointBytes: 64 * 1024,
    retentionIntervalMs: 0,
    maxOpenLogs: 2,
  });
  const record = Buffer.alloc(4000, 7);
  for (let round = 0; round < 60; round++) {
    await Promise.all([0, 1, 2].map((partition) => mgr.append('t', partition, [record, record])));
  }
  for (const partition of [0, 1, 2]) {
    let count = 0;
    for await (const entry of mgr.read('t', partition)) {
      assert.deepEqual(entry.data, record);
      count += 1;
    }
    assert.equal(count, 120);
  }
  await mgr.close();
  assert.deepEqual(journalSegments(dir), []);
  const checkpoints = logger.messages.filter((entry) => entry.message === 'journal checkpoint').length;
  // 60 rounds x 3 logs x 8 KB is about 1.4 MB of journal: a checkpoint every 64 KiB.
  assert.ok(checkpoints >= 5, `checkpoints ran: ${checkpoints}`);
  assert.deepEqual(logger.messages.filter((entry) => /failed/.test(entry.message ?? '')), []);
});

test('a journal entry that names no log fails the open with LOG_CORRUPT, not INVALID_ARGUMENT', async () => {
  const dir = freshDir();
  const journal = await Wal.open({ dir: join(dir, MANAGER_FOLDER_NAME, JOURNAL_FOLDER_NAME), fsync: 'always' });
  await journal.append(encodeJournalEntry('../outside/0', 0, 0, Buffer.from('bytes')));
  await journal.close();
  await assert.rejects(WalManager.open({ dir, retentionIntervalMs: 0 }), (error: unknown) => {
    return error instanceof WalError && error.code === 'LOG_CORRUPT' && /not a log/.test(error.message);
  });
  assert.equal(existsSync(join(dir, '..', 'outside')), false, 'nothing was written outside the manager folder');
});

test("a damaged journal frame with good ones after it fails the open with LOG_CORRUPT and a remedy the manager has (not a Wal's repair option)", async () => {
  const dir = freshDir();
  const journalDir = join(dir, MANAGER_FOLDER_NAME, JOURNAL_FOLDER_NAME);
  const journal = await Wal.open({ dir: journalDir, fsync: 'always' });
  for (let index = 0; index < 3; index++) await journal.append(encodeJournalEntry('t/0', 0, 32 + index * 100, Buffer.alloc(100, index + 1)));
  await journal.close();
  const segment = lastSegmentPath(journalDir);
  const [first] = framesOf(segment);
  assert.ok(first !== undefined);
  flipByte(segment, first.position + first.sizeBytes - 8, 0xff);
  for (const repair of [false, true]) {
    await assert.rejects(WalManager.open({ dir, retentionIntervalMs: 0, ...(repair ? { repair } : {}) }), (error: unknown) => {
      assert.ok(error instanceof CorruptionError, String(error));
      assert.equal(error.file, segment);
      assert.equal(error.filePosition, first.position);
      assert.match(error.message, /^Cannot replay the manager's journal: .*move the journal folder .* aside to open the manager without it/);
      assert.doesNotMatch(error.message, /repair: true/);
      return true;
    });
  }
});

