/**
 * Copies a folder that a live log (or manager) is writing, as the image a
 * crash would leave: each file as it is when it is read, and no LOCK file
 * (a reboot makes every lock stale).
 *
 * Not fs.cpSync: its copyFileSync copies with libuv's sendfile loop, which
 * spins for ever when the source shrinks during the copy (sendfile returns 0
 * before the size it stat'ed is reached). A seal trims a segment's
 * preallocated zeros at any moment, and this hung a test file of the suite
 * at 100% CPU. readFileSync reads to the file's end, however long that is
 * now. A file renamed away meanwhile (a prepared segment taking its name)
 * makes the copy start over in a new folder.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ATTEMPTS_MAX = 10;

/**
 * Copies `fromDir` into a folder that `newFolder()` names (it need not exist yet) and returns that folder.
 * @throws the copy's error when it is not a file vanishing mid-copy, or after ATTEMPTS_MAX tries
 */
export function copyLiveFolder(fromDir: string, newFolder: () => string): string {
  for (let attempt = 1; ; attempt += 1) {
    const image = newFolder();
    try {
      copyTree(fromDir, image);
      return image;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= ATTEMPTS_MAX) throw error;
    }
  }
}

function copyTree(fromDir: string, toDir: string): void {
  mkdirSync(toDir, { recursive: true });
  for (const entry of readdirSync(fromDir, { withFileTypes: true })) {
    const from = join(fromDir, entry.name);
    const to = join(toDir, entry.name);
    if (entry.isDirectory()) copyTree(from, to);
    else if (entry.isFile() && entry.name !== 'LOCK') writeFileSync(to, readFileSync(from));
  }
}
