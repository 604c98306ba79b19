import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@mite/testkit';
import { miteCommandFor, shellWord } from './invocation.ts';

/** A package folder with the three ways in: the bundle, the bin script and the sources. */
function fakePackage(name: string): string {
  const dir = path.join(tempDir('mite-invocation-'), name);
  for (const [file, mode] of [
    ['dist/mite.mjs', 0o755],
    ['bin/mite.js', 0o755],
    ['src/main.ts', 0o644],
  ] as const) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), '', { mode });
  }
  return dir;
}

describe('the mite command the banner prints', () => {
  it('runs the script of this run by its absolute path when mite is not on the PATH', () => {
    const dir = fakePackage('cli');
    assert.equal(miteCommandFor(path.join(dir, 'dist/mite.mjs'), ''), `node ${dir}/dist/mite.mjs`);
    assert.equal(
      miteCommandFor(path.join(dir, 'bin/mite.js'), '/nowhere'),
      `node ${dir}/bin/mite.js`,
    );
    // The sources need tsx, which bin/mite.js finds from its own folder.
    assert.equal(
      miteCommandFor(path.join(dir, 'src/main.ts'), undefined),
      `node ${dir}/bin/mite.js`,
    );
  });

  it('is plain mite when the mite on the PATH is this package’s', () => {
    const dir = fakePackage('cli');
    const pathDir = tempDir('mite-path-');
    symlinkSync(path.join(dir, 'bin/mite.js'), path.join(pathDir, 'mite'));
    const pathVariable = ['/nowhere', pathDir].join(path.delimiter);
    assert.equal(miteCommandFor(path.join(dir, 'dist/mite.mjs'), pathVariable), 'mite');
    assert.equal(miteCommandFor(path.join(dir, 'src/main.ts'), pathVariable), 'mite');
    // Another package's mite is not this one.
    const other = fakePackage('other');
    assert.equal(
      miteCommandFor(path.join(other, 'dist/mite.mjs'), pathVariable),
      `node ${other}/dist/mite.mjs`,
    );
  });

  it('quotes a path the shell would split', () => {
    assert.equal(shellWord('/a/b-c.js'), '/a/b-c.js');
    assert.equal(shellWord("/my dir/it's.js"), `'/my dir/it'\\''s.js'`);
    const dir = fakePackage('with space');
    assert.equal(
      miteCommandFor(path.join(dir, 'dist/mite.mjs'), ''),
      `node '${dir}/dist/mite.mjs'`,
    );
  });
});
