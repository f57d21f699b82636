// Runs every compiled *.test.js under build/ with node's test runner.
// Node 20's runner takes explicit files, so we list them here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.js')) found.push(path);
  }
  return found;
}

const filter = process.argv[2];
const files = [...findTests('build/src'), ...findTests('build/test')]
  .filter((file) => filter === undefined || file.includes(filter))
  .sort();
if (files.length === 0) {
  console.error('No test files found under build/: run `npm run build` first.');
  process.exit(1);
}
// A test that hangs fails after 5 minutes, named, instead of stalling the run
// (tests that need longer set their own timeout, which takes precedence).
// `npm run torture` raises it: its simulated power cuts run for minutes.
const timeoutMs = process.env.TIDEWAL_TEST_TIMEOUT_MS ?? '300000';
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', `--test-timeout=${timeoutMs}`, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
