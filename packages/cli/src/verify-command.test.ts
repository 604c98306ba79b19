import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@mite/testkit';
import {
  createSqliteLedger,
  processExists,
  runCliProcess,
  SAMPLE,
  startCli,
  tamperCreditsPosted,
  waitForUrl,
} from './test-helpers.ts';

describe('mite verify (child process)', { timeout: 60_000 }, () => {
  it('reports a fresh SQLite ledger as ok, in text and in JSON', async () => {
    const url = `sqlite:${tempDir('mite-verify-')}/ledger.sqlite`;
    const text = await runCliProcess(['verify', '--database-url', url]);
    assert.deepEqual([text.code, text.stdout, text.stderr], [0, 'ok\n', '']);

    const json = await runCliProcess(['verify', '--json'], { MITE_DATABASE_URL: url });
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { ok: true, database: url, problems: [] });
  });

  it('reports the problems of a corrupted store with exit 1, in text and in JSON', async () => {
    const dataDir = tempDir('mite-verify-');
    const file = join(dataDir, 'ledger.sqlite');
    await createSqliteLedger(file);
    const before = await runCliProcess(['verify', '--data-dir', dataDir]);
    assert.deepEqual([before.code, before.stdout, before.stderr], [0, 'ok\n', '']);

    const { ledger, amount, creditAccountId } = SAMPLE;
    tamperCreditsPosted(file, creditAccountId, amount + 5n);
    const problems = [
      `ledger ${ledger}: posted debits ${amount} != credits ${amount + 5n}`,
      `account ${creditAccountId}: creditsPosted is ${amount + 5n}, its transfers sum to ${amount}`,
    ];
    const text = await runCliProcess(['verify', '--data-dir', dataDir]);
    assert.equal(text.code, 1, text.stderr);
    assert.equal(text.stderr, '');
    assert.equal(
      text.stdout,
      [`2 problems in sqlite:${file}:`, ...problems.map((p) => `- ${p}`), ''].join('\n'),
    );

    const json = await runCliProcess(['verify', '--json'], { MITE_DATABASE_URL: `sqlite:${file}` });
    assert.equal(json.code, 1, json.stderr);
    assert.equal(json.stderr, '');
    assert.deepEqual(JSON.parse(json.stdout), { ok: false, database: `sqlite:${file}`, problems });
  });

  it('exits 2 with one line while `mite serve` has the ledger open', async () => {
    const dataDir = tempDir('mite-verify-');
    const serve = startCli(['serve', '--port', '0', '--data-dir', dataDir]);
    try {
      await waitForUrl(serve);
      const run = await runCliProcess(['verify', '--data-dir', dataDir]);
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(
          `^mite: cannot open the ledger at sqlite:${dataDir}/ledger\\.sqlite: .*open in another process \\(pid ${serve.child.pid}\\)`,
        ),
      );
    } finally {
      serve.child.kill('SIGTERM');
      const stopped = await serve.exited;
      assert.equal(stopped.code, 0, stopped.stderr);
    }
    assert.equal(processExists(serve.child.pid ?? 0), false);
    const after = await runCliProcess(['verify', '--data-dir', dataDir]);
    assert.deepEqual([after.code, after.stdout], [0, 'ok\n'], after.stderr);
  });

  it('exits 2 with one line when there is no ledger', async () => {
    const run = await runCliProcess(['verify', '--data-dir', tempDir('mite-verify-')]);
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /^mite: no ledger at \S+\/ledger\.sqlite \(start one with `mite serve`.*\n$/,
    );
    assert.equal(run.stdout, '');
  });

  it('exits 2 with one line on a usage error', async () => {
    const run = await runCliProcess(['verify', '--frobnicate']);
    assert.equal(run.code, 2);
    assert.equal(run.stderr, "mite: unknown option '--frobnicate'\n");
  });
});
