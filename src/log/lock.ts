/**
 * One owner per log folder. The LOCK file is created with O_EXCL and holds
 * the owner's pid, process start time, boot id and the identity of the
 * folder it locks. A LOCK whose process is gone (a crash, kill -9, a
 * reboot) is stale and taken over; the start time guards against a recycled
 * pid, the boot id against a pid and start time that a process of a later
 * boot happens to share, and the folder identity against a copy of a live
 * log's folder (a backup), whose owner holds the original, not the copy. A
 * live owner of this folder, this process included, makes open fail at once.
 */
import { readFileSync, statSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { LockedError } from '../errors.js';
import type { FileSystem } from '../io/file-system.js';
import { isErrno } from '../io/node-file-system.js';
import { writeFully } from '../io/write-fully.js';
import { FOLDER_MUTEX_WAIT_MS_MAX, withFolderMutex } from './folder-mutex.js';

export const LOCK_FILE_NAME = 'LOCK';

/** Start time of a process in clock ticks since boot (Linux), or '' where unknown. */
function processStartTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may hold spaces, so count after ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? '';
  } catch {
    return '';
  }
}

/** This boot's random id (Linux), or '' where unknown. */
function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * The folder's device and inode (`dev:ino`), or '' where it cannot be read
 * (a file system that is not the host's). A copy of a folder has another
 * inode; a rename or another spelling of the path keeps it.
 */
function folderIdentity(dir: string): string {
  try {
    const stat = statSync(dir, { bigint: true });
    return `${stat.dev}:${stat.ino}`;
  } catch {
    return '';
  }
}

const ownStartTime = processStartTime(process.pid);
const ownBootId = readBootId();

function isAlive(pid: number, startTime: string, bootId: string): boolean {
  // A LOCK written before the last reboot names no live process, whatever
  // its pid and start time now match (both restart counting at boot).
  if (bootId !== '' && ownBootId !== '' && bootId !== ownBootId) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return isErrno(error, 'EPERM');
  }
  const current = processStartTime(pid);
  return current === '' || startTime === '' || current === startTime;
}

/**
 * Takes the folder's lock; throws {@link LockedError} if a live owner holds it.
 * @param owned what the lock guards, for the error: a log (in `dir`), or the manager in another folder
 */
export async function acquireLock(fileSystem: FileSystem, dir: string, owned: LockSubject = { subject: 'log', dir }): Promise<void> {
  // Judging a LOCK stale and replacing it must be one step: two openers that
  // both found it stale would otherwise both take it over.
  await withFolderMutex(dir, () => takeLock(fileSystem, dir, owned), () =>
    new LockedError(owned.dir, `by another opener that has been taking it for over ${FOLDER_MUTEX_WAIT_MS_MAX} ms`, owned.subject),
  );
}

/** What a lock guards, for the error: a log (in `dir`), or the manager in another folder. */
interface LockSubject {
  readonly subject: 'log' | 'manager';
  readonly dir: string;
}

async function takeLock(fileSystem: FileSystem, dir: string, owned: LockSubject): Promise<void> {
  const path = join(dir, LOCK_FILE_NAME);
  const folderId = folderIdentity(dir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await fileSystem.open(path, { write: true, exclusive: true });
      const content = Buffer.from(`${process.pid} ${ownStartTime} ${ownBootId} ${folderId}\n`);
      try {
        await writeFully(handle, content, 0, content.length, 0);
      } finally {
        await handle.close();
      }
      return;
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
    }
    const owner = await readOwner(fileSystem, path);
    // A LOCK of an older version holds no boot id or folder identity: it is
    // judged by what it holds.
    const [pidText = '', startTime = '', bootId = '', lockedFolderId = ''] = owner.split(' ');
    const pid = Number(pidText);
    const parsed = Number.isInteger(pid) && pid > 0;
    const copied = lockedFolderId !== '' && folderId !== '' && lockedFolderId !== folderId;
    if (parsed && !copied && isAlive(pid, startTime, bootId)) {
      throw new LockedError(owned.dir, pid === process.pid ? 'by this process' : `by process ${pid}`, owned.subject);
    }
    if (!parsed) {
      // Empty or garbled: an opener killed between creating LOCK and filling
      // it, or one that is between those two steps right now. The second
      // takes microseconds, so a LOCK still empty after a pause is stale.
      await delay(EMPTY_LOCK_GRACE_MS);
      if ((await readOwner(fileSystem, path)) !== owner) throw new LockedError(owned.dir, 'by an opener that just took it', owned.subject);
    }
    // Stale: its owner died without closing. Remove it and try once more; a
    // second failure means another opener (one that takes no folder mutex:
    // an older version, another system) raced us and won.
    await fileSystem.unlink(path);
  }
  throw new LockedError(owned.dir, 'by another opener that raced this one', owned.subject);
}

/** How long an empty LOCK must stay empty before it counts as stale. */
const EMPTY_LOCK_GRACE_MS = 250;

async function readOwner(fileSystem: FileSystem, path: string): Promise<string> {
  return (await fileSystem.readFile(path))?.toString('utf8').trim() ?? '';
}

export async function releaseLock(fileSystem: FileSystem, dir: string): Promise<void> {
  await fileSystem.unlink(join(dir, LOCK_FILE_NAME));
}
