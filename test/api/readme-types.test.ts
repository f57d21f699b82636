/**
 * The README's TypeScript examples type-check against the shipped
 * declarations (build/src/index.d.ts, what a user's `tsc` sees), under
 * `strict` and `exactOptionalPropertyTypes`. A member the examples use
 * that the build strips as internal, or a signature change, fails here.
 *
 * Each ```ts block is its own module. Its `import ... from 'tidewal'`
 * lines are replaced by one import of every export, and the names an
 * example leaves to the reader (`handle`, `record1`, `workerData`, ...)
 * are declared with the types the example implies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const declarations = join(repoRoot, 'build', 'src', 'index.d.ts');

const PRELUDE = `
import { Wal, WalManager, SharedAppendChannel, SharedAppender } from 'tidewal';
import type { SharedAppendHandle } from 'tidewal';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
void [Wal, WalManager, SharedAppendChannel, SharedAppender, Worker, once];
`;

/** Names the examples use without making them, with the types the examples imply. */
const READER_SUPPLIED: ReadonlyMap<string, string> = new Map([
  ['wal', 'declare const wal: Wal;'],
  ['record1', 'declare const record1: Uint8Array;'],
  ['record2', 'declare const record2: string;'],
  ['bytes', 'declare const bytes: Uint8Array;'],
  ['workerData', 'declare const workerData: SharedAppendHandle;'],
  ['handle', 'declare function handle(record: { topic: string; partition: number; offset: number; data: Uint8Array }): void;'],
  ['done', 'declare function done(): boolean;'],
  ['apply', 'declare function apply(offset: number, data: Uint8Array): void;'],
]);

/** The declarations of the reader-supplied names that `block` uses and does not make itself. */
function suppliedFor(block: string): string {
  return [...READER_SUPPLIED]
    .filter(([name]) => new RegExp(`\\b${name}\\b`).test(block) && !new RegExp(`\\b(const|let|function) ${name}\\b`).test(block))
    .map(([, declaration]) => declaration)
    .join('\n');
}

/** The ```ts blocks of a Markdown text, without their fences. */
function typeScriptBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '');
}

test("the README's TypeScript examples type-check against the shipped declarations", () => {
  const blocks = typeScriptBlocks(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
  assert.ok(blocks.length >= 3, `the README has its examples (found ${blocks.length} ts blocks)`);
  const dir = mkdtempSync(join(tmpdir(), 'tidewal-readme-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    const files = blocks.map((block, index) => {
      const path = join(dir, `example-${index}.ts`);
      const body = block.replace(/^import .* from 'tidewal';$/gm, '');
      writeFileSync(path, `${PRELUDE}\n${suppliedFor(body)}\n${body}\nexport {};\n`);
      return path;
    });
    const program = ts.createProgram(files, {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2023.d.ts'],
      types: ['node'],
      typeRoots: [join(repoRoot, 'node_modules', '@types')],
      strict: true,
      exactOptionalPropertyTypes: true,
      noEmit: true,
      skipLibCheck: true,
      paths: { tidewal: [declarations] },
    });
    const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const where = diagnostic.file === undefined ? '' : `${diagnostic.file.fileName.replace(dir, 'README')}: `;
      return where + ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    });
    assert.deepEqual(problems, [], `README examples:\n${blocks.map((block, index) => `--- example-${index}.ts\n${block}`).join('\n')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
