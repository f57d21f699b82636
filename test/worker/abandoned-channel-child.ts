/**
 * Opens a log and a shared append channel, appends through it, then closes
 * the log but neither the channel nor the producer side (a producer thread
 * that just ended). The process must then exit on its own (the
 * close-with-the-log test).
 *
 * Usage: node abandoned-channel-child.js <dir>
 */
import { Wal } from '../../src/log/wal.js';
import { SharedAppendChannel } from '../../src/worker/shared-append-channel.js';
import { SharedAppender } from '../../src/worker/shared-appender.js';
import { die, say } from '../crash/child-io.js';

const [dir] = process.argv.slice(2);
if (dir === undefined) die('abandoned-channel-child', 'usage: abandoned-channel-child.js <dir>');
const wal = await Wal.open({ dir, fsync: 'os' });
const channel = SharedAppendChannel.open(wal, { ringBytes: 8192 });
const appender = SharedAppender.attach(channel.handle);
const { offset } = await appender.append('only record');
await wal.close();
say(`appended ${offset}; log closed`);
