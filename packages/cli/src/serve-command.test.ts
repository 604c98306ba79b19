import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { postgresSkipReason, requirePgDatabase, tempDir } from '@mite/testkit';
import Database from 'better-sqlite3';
import { processExists, runCliProcess, startCli, waitForUrl } from './test-helpers.ts';

/**
 * Child processes compile TypeScript on start; give each test room for that. Six of them run one
 * after another, each a platform start: on a loaded CI machine (two cores shared with the other
 * suites) the first alone took 23 s.
 */
const TEST_TIMEOUT_MS = 150_000;

describe('mite serve (child process)', { timeout: TEST_TIMEOUT_MS }, () => {
  it('serves the platform, writes the first admin key once, and exits 0 on SIGTERM', async () => {
    const dataDir = tempDir('mite-serve-');
    const cli = startCli(['serve', '--port', '0', '--data-dir', dataDir]);
    const base = await waitForUrl(cli);
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    const { stdout } = cli.output;
    assert.match(stdout, new RegExp(`health: +${base}/healthz\n`));
    assert.match(stdout, new RegExp(`API docs: +${base}/v1/docs\n`));
    assert.match(stdout, new RegExp(`OpenAPI: +${base}/v1/openapi\\.json\n`));
    assert.match(stdout, new RegExp(`database: +sqlite:${dataDir}/ledger\\.sqlite`));
    assert.match(stdout, new RegExp(`data dir: +${dataDir}\n`));
    // No processor configured: no top-ups, and certainly not the sandbox's free money.
    assert.match(stdout, /top-ups: +off \(no card processor/);
    assert.doesNotMatch(stdout, /SANDBOX/);
    const keyFile = join(dataDir, 'admin-key');
    assert.match(stdout, new RegExp(`first admin key written to ${keyFile} `));

    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.match(health.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await health.json(), { status: 'ok' });

    const openApi = await fetch(`${base}/v1/openapi.json`);
    assert.equal(openApi.status, 200);
    const document = (await openApi.json()) as { openapi?: unknown; paths?: object };
    assert.match(String(document.openapi), /^3\./);
    assert.ok(document.paths !== undefined && '/v1/merchants' in document.paths);

    const missing = await fetch(`${base}/no/such/thing`);
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const problem = (await missing.json()) as Record<string, unknown>;
    assert.equal(problem.status, 404);
    assert.equal(typeof problem.type, 'string');
    assert.equal(typeof problem.title, 'string');

    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const secret = readFileSync(keyFile, 'utf8').trim();
    assert.notEqual(secret, '');
    assert.equal((await createMerchant(base, secret, 'first')).status, 201);
    assert.equal((await createMerchant(base, 'not-a-key', 'bad')).status, 401);
    // The first operator's console login, written like the key, works and is not printed.
    const operatorFile = join(dataDir, 'operator-login');
    assert.match(
      stdout,
      new RegExp(`first operator\u2019s console login written to ${operatorFile} `),
    );
    assert.equal(statSync(operatorFile).mode & 0o777, 0o600);
    const login = /^email: (\S+)\npassword: (\S+)\n$/.exec(readFileSync(operatorFile, 'utf8'));
    assert.ok(login, 'the operator login file names an email and a password');
    assert.equal(login[1], 'operator@mite.local');
    assert.ok(!stdout.includes(login[2] ?? ''), 'the operator password is not printed');
    const console = await fetch(`${base}/v1/operator-sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: login[1], password: login[2] }),
    });
    assert.equal(console.status, 201, await console.clone().text());

    const pid = cli.child.pid ?? assert.fail('no pid');
    cli.child.kill('SIGTERM');
    const run = await cli.exited;
    assert.deepEqual([run.code, run.signal], [0, null], run.stderr);
    assert.equal(processExists(pid), false);
    assert.equal(run.stderr, '');
    assert.ok(!run.stdout.includes(secret), 'the admin key is not printed');

    const again = startCli(['serve', '--port', '0', '--data-dir', dataDir]);
    const againBase = await waitForUrl(again);
    assert.doesNotMatch(again.output.stdout, /admin key/);
    assert.doesNotMatch(again.output.stdout, /first operator/);
    assert.equal((await createMerchant(againBase, secret, 'second')).status, 201);
    again.child.kill('SIGTERM');
    const second = await again.exited;
    assert.deepEqual([second.code, second.signal], [0, null], second.stderr);
    assert.ok(!(second.stdout + second.stderr).includes(secret));
    assert.equal(readFileSync(keyFile, 'utf8').trim(), secret, 'the key file is unchanged');
    assert.equal(countAdminKeys(join(dataDir, 'platform.sqlite')), 1);

    const verified = await runCliProcess(['verify', '--data-dir', dataDir]);
    assert.deepEqual([verified.code, verified.stdout], [0, 'ok\n'], verified.stderr);
  });

  it('exits 0 on SIGINT, creating the data directory and reading MITE_PORT', async () => {
    const dataDir = `${tempDir('mite-serve-')}/nested/data`;
    const cli = startCli(['serve', '--data-dir', dataDir], { MITE_PORT: '0' });
    const base = await waitForUrl(cli);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    cli.child.kill('SIGINT');
    const run = await cli.exited;
    assert.deepEqual([run.code, run.signal], [0, null], run.stderr);
  });

  it('runs on PostgreSQL from MITE_DATABASE_URL', { skip: postgresSkipReason() }, async () => {
    const url = await requirePgDatabase();
    const env = { MITE_DATABASE_URL: url };
    const cli = startCli(['serve', '--port', '0', '--data-dir', tempDir('mite-serve-')], env);
    const base = await waitForUrl(cli);
    assert.match(cli.output.stdout, /database: +postgres(ql)?:\/\//);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    cli.child.kill('SIGTERM');
    const run = await cli.exited;
    assert.deepEqual([run.code, run.signal], [0, null], run.stderr);

    const verified = await runCliProcess(['verify'], env);
    assert.deepEqual([verified.code, verified.stdout], [0, 'ok\n'], verified.stderr);
  });

  it('rejects --port abc with one line and a non-zero exit', async () => {
    const run = await runCliProcess(['serve', '--port', 'abc', '--data-dir', tempDir('mite-')]);
    assert.notEqual(run.code, 0);
    assertOneLine(run.stderr);
    assert.match(run.stderr, /--port/);
    assert.match(run.stderr, /abc/);
  });

  it('exits 1 with one line when the port is in use', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const dataDir = tempDir('mite-serve-');
      const run = await runCliProcess(['serve', '--port', String(port), '--data-dir', dataDir]);
      assert.equal(run.code, 1);
      assertOneLine(run.stderr);
      assert.match(run.stderr, new RegExp(`port ${port} .*already in use`));
      assert.equal(run.stdout, '');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('exits 1 with one line, without the password, when the database URL is bad', async () => {
    const dataDir = tempDir('mite-serve-');
    const env = { MITE_DATABASE_URL: 'mysql://mite:hunter2@localhost/mite' };
    const run = await runCliProcess(['serve', '--port', '0', '--data-dir', dataDir], env);
    assert.equal(run.code, 1);
    assertOneLine(run.stderr);
    assert.match(
      run.stderr,
      /^mite: cannot start the platform on mysql:\/\/mite:\*\*\*@localhost\/mite: /,
    );
    assert.doesNotMatch(run.stderr, /hunter2/);
  });
});

/** `POST /v1/merchants` as the bearer of `secret`. */
function createMerchant(base: string, secret: string, idempotencyKey: string): Promise<Response> {
  return fetch(`${base}/v1/merchants`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${secret}`,
      'content-type': 'application/json',
      'idempotency-key': idempotencyKey,
    },
    body: JSON.stringify({ name: 'x', feeBasisPoints: 0, payoutThreshold: '0' }),
  });
}

/** How many admin keys a closed SQLite platform database holds. */
function countAdminKeys(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    const row = db.prepare('SELECT count(*) AS n FROM admin_keys').get() as { n: number };
    return row.n;
  } finally {
    db.close();
  }
}

/** Exactly one line, and no stack trace. */
function assertOneLine(text: string): void {
  assert.equal(text.trimEnd().split('\n').length, 1, text);
  assert.doesNotMatch(text, /\n\s+at /);
}
