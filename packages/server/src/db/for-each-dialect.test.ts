import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { postgresSkipReasonFor } from '@mite/testkit';

const fixture = fileURLToPath(new URL('./for-each-dialect.fixture.ts', import.meta.url));

describe('forEachDialect', () => {
  it('skips the PostgreSQL variants only where PostgreSQL is missing and not required', () => {
    const missing = 'PostgreSQL is not installed (set MITE_REQUIRE_PG=1 to fail)';
    assert.equal(postgresSkipReasonFor({}, undefined), missing);
    assert.equal(postgresSkipReasonFor({ MITE_PG_URL: '' }, undefined), missing);
    assert.equal(postgresSkipReasonFor({ MITE_REQUIRE_PG: '0' }, undefined), missing);
    assert.equal(postgresSkipReasonFor({}, '/usr/lib/postgresql/15/bin'), undefined);
    assert.equal(
      postgresSkipReasonFor({ MITE_PG_URL: 'postgres://localhost/x' }, undefined),
      undefined,
    );
    // Required: the variants run, and fail on the missing server rather than pass unseen.
    assert.equal(postgresSkipReasonFor({ MITE_REQUIRE_PG: '1' }, undefined), undefined);
  });

  it('registers each PostgreSQL test as skipped, with the reason, and runs SQLite ones', async () => {
    // Without the runner's context, which would make the child report to it rather than print.
    const { NODE_TEST_CONTEXT: _context, ...env } = process.env;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--test-reporter=tap', fixture],
      { cwd: fileURLToPath(new URL('.', import.meta.url)), env },
    );
    const results = stdout
      .split('\n')
      .filter((line) => /^\s+(not )?ok \d+ - /.test(line))
      .map((line) => line.trim());
    const skip = '# SKIP PostgreSQL is not installed (set MITE_REQUIRE_PG=1 to fail)';
    assert.deepEqual(results, [
      'ok 1 - runs',
      'ok 2 - runs with options',
      `ok 1 - runs ${skip}`,
      `ok 2 - runs with options ${skip}`,
    ]);
    assert.match(stdout, /^# skipped 2$/m);
    assert.match(stdout, /^# fail 0$/m);
  });
});
