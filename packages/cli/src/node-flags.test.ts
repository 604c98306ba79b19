import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { serverNodeFlags } from './node-flags.ts';

const read = (path: string): string => readFileSync(new URL(path, import.meta.url), 'utf8');

it('npm start runs the built demo with the server V8 options', () => {
  const manifest = JSON.parse(read('../../../package.json')) as { scripts: { start: string } };
  assert.match(
    manifest.scripts.start,
    new RegExp(`&& node ${serverNodeFlags.join(' ')} packages/cli/dist/mite\\.mjs demo$`),
  );
});

it('the mite command starts node with the server V8 options', () => {
  const firstLine = read('../bin/mite.js').split('\n')[0];
  assert.equal(firstLine, `#!/usr/bin/env -S node ${serverNodeFlags.join(' ')}`);
});
