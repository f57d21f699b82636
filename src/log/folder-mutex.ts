/**
 * A mutex per folder across the processes of this machine, for the few
 * milliseconds in which an opener judges and takes a folder's LOCK. Without
 * it two openers that both find the same stale LOCK can both take it over:
 * the second removes the LOCK the first has just written, and both own the
 * log (docs/decisions.md, "Ownership").
 *
 * The mutex is a listening socket in Linux's abstract namespace, named after
 * the folder: binding a name is atomic and exclusive, and the kernel frees it
 * when its process dies, so a crashed holder never leaves it behind (a file
 * would need the same stale-owner judgement this exists to make safe).
 * Elsewhere (no abstract namespace) the body runs without it.
 */
import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** How long an opener waits for another opener of the same folder to finish taking its lock. */
export const FOLDER_MUTEX_WAIT_MS_MAX = 5_000;
const RETRY_INTERVAL_MS = 2;

/**
 * Runs `body` while this process holds `dir`'s mutex; waits while another
 * opener holds it.
 * @param busyError what to throw when the mutex stays taken for {@link FOLDER_MUTEX_WAIT_MS_MAX}
 */
export async function withFolderMutex<T>(dir: string, body: () => Promise<T>, busyError: () => Error): Promise<T> {
  if (process.platform !== 'linux') return body();
  const name = await mutexName(dir);
  const deadlineMs = performance.now() + FOLDER_MUTEX_WAIT_MS_MAX;
  let bound = await tryBind(name);
  while (bound === 'busy' && performance.now() < deadlineMs) {
    await delay(RETRY_INTERVAL_MS);
    bound = await tryBind(name);
  }
  if (bound === 'busy') throw busyError();
  try {
    return await body();
  } finally {
    bound?.close();
  }
}

/**
 * The abstract socket name of a folder: a hash of its real path, so that
 * spellings of one folder (relative, `..`, symlinks) share one mutex.
 */
async function mutexName(dir: string): Promise<string> {
  // A folder that is not on the real file system (a simulated one) is keyed by its path.
  const path = await realpath(dir).catch(() => resolve(dir));
  return `\0tidewal-lock-${createHash('sha256').update(path).digest('hex').slice(0, 48)}`;
}

/**
 * The bound server; 'busy' when another holder has the name; null when no
 * mutex is to be had here for another reason (sockets refused by a sandbox,
 * say): then the body runs unserialized, as on systems without an abstract
 * namespace, rather than refuse to open.
 */
function tryBind(name: string): Promise<Server | 'busy' | null> {
  return new Promise((settle) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => settle(error.code === 'EADDRINUSE' ? 'busy' : null));
    server.listen(name, () => settle(server));
  });
}
