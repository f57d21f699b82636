/**
 * Folders for tests: one temp root per test file, removed when the file's
 * tests end, and a new (not yet created) path under it per call.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** Returns a function that gives a fresh, not yet existing folder path under a temp root named by `prefix`. */
export function freshFolders(prefix: string): () => string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(root, { recursive: true, force: true }));
  let folderCount = 0;
  return () => {
    folderCount += 1;
    return join(root, `d${folderCount}`);
  };
}
