/**
 * The package runs in browsers: no file under src/ (tests and src/testing/ aside) may import a
 * Node module or use Node's byte-array global. Nothing is bundled; the sources are read.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const sourceDir = fileURLToPath(new URL('.', import.meta.url));

function shippedSources(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'testing') found.push(...shippedSources(path));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      found.push(path);
    }
  }
  return found;
}

const forbidden: readonly [RegExp, string][] = [
  [/\bfrom\s+['"]node:/, 'imports a node: module'],
  [/\bimport\s*\(\s*['"]node:/, 'imports a node: module dynamically'],
  [/\brequire\s*\(/, 'calls require'],
  [/\bBuffer\b/, 'uses Buffer'],
  [/\bprocess\.(env|versions|nextTick|platform)\b/, 'uses process'],
];

it('keeps node: modules and Buffer out of the shipped sources', () => {
  const files = shippedSources(sourceDir);
  assert.ok(files.length >= 6, `found only ${files.length} sources`);
  assert.ok(files.some((file) => file.endsWith('mite-fetch.ts')));
  const offences: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const [pattern, what] of forbidden) {
      if (pattern.test(text)) offences.push(`${relative(sourceDir, file)} ${what}`);
    }
  }
  assert.deepEqual(offences, []);
});

it('imports only @mite/protocol and its own modules, mppx under mppx/, x402 types in x402/', () => {
  for (const file of shippedSources(sourceDir)) {
    const text = readFileSync(file, 'utf8');
    const name = relative(sourceDir, file).split(sep).join('/');
    for (const match of text.matchAll(/\b(import\s+type\s+[^;]*?)?\bfrom\s+['"]([^'"]+)['"]/g)) {
      const typeOnly = match[1] !== undefined;
      const specifier = match[2] ?? '';
      const allowed =
        specifier === '@mite/protocol' ||
        specifier.startsWith('./') ||
        specifier.startsWith('../') ||
        // mppx is an optional peer dependency: only the @mite/client/mppx entry point loads it.
        (name.startsWith('mppx/') && specifier === 'mppx') ||
        // Types are erased: the x402 scheme loads nothing of @x402/fetch at run time.
        (name.startsWith('x402/') && typeOnly && specifier === '@x402/fetch');
      assert.ok(allowed, `${name} imports ${specifier}${typeOnly ? ' (types)' : ''}`);
    }
  }
});

it('keeps the x402 scheme out of the main entry: only @mite/client/x402 loads it', () => {
  const files = shippedSources(sourceDir);
  assert.ok(files.some((file) => relative(sourceDir, file) === join('x402', 'mite-scheme.ts')));
  for (const file of files) {
    if (relative(sourceDir, file).startsWith('x402')) continue;
    const text = readFileSync(file, 'utf8');
    assert.doesNotMatch(text, /from\s+['"][^'"]*x402\//, relative(sourceDir, file));
  }
});
