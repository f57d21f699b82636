/**
 * Runs under `strace -e inject=fdatasync:error=EIO` (see strace-eio.test.ts):
 * appends under { batch }, then syncs, and reports on stdout what each call
 * did. Usage: node sync-eio-child.js <dir> <recordCount>
 */
import { Wal, WalError } from '../../src/index.js';
import { die, say } from '../crash/child-io.js';

function describeError(error: unknown): string {
  const code = error instanceof WalError ? error.code : 'untyped';
  const cause = error instanceof Error ? (error.cause as NodeJS.ErrnoException | undefined)?.code ?? 'none' : 'none';
  return `${code} ${cause}`;
}

async function main(): Promise<void> {
  const [dir, countText] = process.argv.slice(2);
  if (dir === undefined || countText === undefined) die('sync-eio-child', 'usage: sync-eio-child.js <dir> <recordCount>');
  const wal = await Wal.open({ dir, fsync: { batch: { intervalMs: 3_600_000 } } });
  for (let index = 0; index < Number(countText); index++) {
    const { offset } = await wal.append(`record ${index}`);
    say(`A ${offset}`);
  }
  try {
    await wal.sync();
    say('S ok');
  } catch (error) {
    say(`S ${describeError(error)}`);
  }
  try {
    await wal.append('after the failure');
    say('L ok');
  } catch (error) {
    say(`L ${describeError(error)}`);
  }
  await wal.close().catch(() => {});
  say(`D ${wal.state}`);
}

main().catch((error: unknown) => die('sync-eio-child', error instanceof Error ? (error.stack ?? error.message) : String(error)));
