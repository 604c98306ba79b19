import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openLedger } from '@mite/ledger';
import { freePort, postgresSkipReason, requirePgDatabase, tempDir } from '@mite/testkit';
import { runCli } from './create-program.ts';
import {
  createSqliteLedger,
  createTestContext,
  SAMPLE,
  tamperCreditsPosted,
} from './test-helpers.ts';

describe('runCli (in process, real ledgers)', { timeout: 60_000 }, () => {
  it('prints help and exits 0 for --help', async () => {
    const context = createTestContext();
    assert.equal(await runCli(['--help'], context), 0);
    assert.match(context.out.join(''), /serve/);
    assert.match(context.out.join(''), /demo/);
    assert.match(context.out.join(''), /verify/);
  });

  it('exits 2 with one line for an unknown command or option', async () => {
    for (const args of [['frobnicate'], ['serve', '--nope']]) {
      const context = createTestContext();
      assert.equal(await runCli(args, context), 2, args.join(' '));
      assert.equal(context.err.join('').trimEnd().split('\n').length, 1, context.err.join(''));
      assert.match(context.err.join(''), /^mite: /);
    }
  });

  it('serve: opens the database from MITE_DATABASE_URL rather than the data directory', async () => {
    const cwd = tempDir('mite-cli-');
    // Ledger and platform tables both live in this one file.
    const file = join(tempDir('mite-cli-'), 'elsewhere.sqlite');
    const context = createTestContext({
      cwd,
      env: { MITE_DATABASE_URL: `sqlite:${file}`, MITE_PORT: '0' },
    });
    const exit = runCli(['serve'], context);
    await context.printed('Mite is running');
    assert.equal(existsSync(`${file}.lock`), true, 'the ledger is open');
    context.sendSignal('SIGINT');
    assert.equal(await exit, 0, context.err.join(''));
    assert.match(context.out.join(''), new RegExp(`database: +sqlite:${file}\n`));
    assert.equal(existsSync(join(cwd, '.mite', 'ledger.sqlite')), false);
    assert.equal(existsSync(join(cwd, '.mite', 'platform.sqlite')), false);
    await assertLedgerClosed(file);
  });

  it(
    'serve: never prints the password of a PostgreSQL URL',
    { skip: postgresSkipReason() },
    async () => {
      const url = await requirePgDatabase();
      // The throwaway cluster trusts local connections, so any password is accepted.
      const withPassword = new URL(url);
      withPassword.password = 'hunter2';
      const context = createTestContext({
        cwd: tempDir('mite-cli-'),
        env: { MITE_DATABASE_URL: withPassword.href, MITE_PORT: '0' },
      });
      const exit = runCli(['serve'], context);
      await context.printed('Mite is running');
      context.sendSignal('SIGINT');
      assert.equal(await exit, 0, context.err.join(''));
      withPassword.password = '***';
      const printed = context.out.join('') + context.err.join('');
      assert.ok(printed.includes(`database:  ${withPassword.href}\n`), printed);
      assert.doesNotMatch(printed, /hunter2/);
    },
  );

  it('serve: a database that fails to open is one line without the password, exit 1', async () => {
    const url = `postgres://mite:hunter2@127.0.0.1:${await freePort()}/mite`;
    const context = createTestContext({
      cwd: tempDir('mite-cli-'),
      env: { MITE_DATABASE_URL: url },
    });
    assert.equal(await runCli(['serve', '--port', '0'], context), 1);
    const line = context.err.join('');
    assert.match(
      line,
      /^mite: cannot start the platform on postgres:\/\/mite:\*\*\*@127\.0\.0\.1:\d+\/mite: \S/,
    );
    assert.doesNotMatch(line, /hunter2/);
    assert.equal(line.trimEnd().split('\n').length, 1);
    assert.equal(context.out.join(''), '');
  });

  it('serve: holds the ledger open until shutdown, then closes it', async () => {
    const cwd = tempDir('mite-cli-');
    const file = join(cwd, 'data', 'ledger.sqlite');
    const context = createTestContext({ cwd });
    const exit = runCli(['serve', '--port', '0', '--data-dir', 'data'], context);
    await context.printed('Mite is running');
    assert.equal(existsSync(`${file}.lock`), true, 'the ledger is open');
    await assert.rejects(openLedger({ url: `sqlite:${file}` }), /already open in this process/);
    context.sendSignal('SIGTERM');
    assert.equal(await exit, 0, context.err.join(''));
    assert.match(context.out.join(''), /Received SIGTERM, shutting down/);
    await assertLedgerClosed(file);
  });

  it('serve: a data directory that cannot be created is one line, exit 1', async () => {
    const cwd = tempDir('mite-cli-');
    writeFileSync(join(cwd, 'file'), '');
    const context = createTestContext({ cwd });
    assert.equal(await runCli(['serve', '--port', '0', '--data-dir', 'file/sub'], context), 1);
    assert.match(context.err.join(''), /^mite: cannot create data directory .*file\/sub: .*\n$/);
  });

  it('serve: a bad MITE_PORT is a usage error, exit 2', async () => {
    const context = createTestContext({ cwd: tempDir('mite-cli-'), env: { MITE_PORT: 'x' } });
    assert.equal(await runCli(['serve'], context), 2);
    assert.match(context.err.join(''), /^mite: MITE_PORT='x': expected an integer/);
  });

  it('serve: a bad MITE_LOG_LEVEL is a usage error, exit 2', async () => {
    const context = createTestContext({
      cwd: tempDir('mite-cli-'),
      env: { MITE_LOG_LEVEL: 'loud' },
    });
    assert.equal(await runCli(['serve', '--port', '0'], context), 2);
    assert.equal(
      context.err.join(''),
      "mite: MITE_LOG_LEVEL='loud': expected one of fatal, error, warn, info, debug, trace, silent\n",
    );
    assert.equal(context.out.join(''), '');
  });

  it('serve: logs JSON lines to stderr at MITE_LOG_LEVEL', async () => {
    const context = createTestContext({
      cwd: tempDir('mite-cli-'),
      env: { MITE_LOG_LEVEL: 'info' },
    });
    const exit = runCli(['serve', '--port', '0'], context);
    await context.printed('Mite is running');
    const base = /Mite is running: (\S+)/.exec(context.out.join(''))?.[1] ?? assert.fail('no URL');
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    context.sendSignal('SIGTERM');
    assert.equal(await exit, 0, context.err.join(''));
    const lines = context.err.join('').trimEnd().split('\n');
    assert.ok(lines.length > 0);
    const entries = lines.map((line) => JSON.parse(line) as { level: number });
    assert.ok(entries.every((entry) => entry.level >= 30));
    assert.ok(
      lines.some((line) => line.includes('/healthz')),
      'the request is logged',
    );
  });

  it('demo: keeps its data in ./.mite/demo by default, apart from serve', async () => {
    const cwd = tempDir('mite-cli-');
    const context = createTestContext({ cwd });
    const exit = runCli(['demo', '--port', '0'], context);
    await context.printed('Mite is running');
    context.sendSignal('SIGINT');
    assert.equal(await exit, 0, context.err.join(''));
    const dataDir = join(cwd, '.mite', 'demo');
    assert.match(context.out.join(''), new RegExp(`data dir: +${dataDir}\n`));
    assert.match(context.out.join(''), /Demo credentials, for a local sandbox only/);
    assert.equal(existsSync(join(dataDir, 'ledger.sqlite')), true);
    assert.equal(existsSync(join(cwd, '.mite', 'ledger.sqlite')), false);
  });

  it('verify: reports a clean ledger as ok, exit 0', async () => {
    const cwd = tempDir('mite-cli-');
    await createSqliteLedger(join(cwd, '.mite', 'ledger.sqlite'));
    const context = createTestContext({ cwd });
    assert.equal(await runCli(['verify'], context), 0, context.err.join(''));
    assert.equal(context.out.join(''), 'ok\n');
  });

  it('verify: prints the problems of a corrupted store, exit 1, and closes the ledger', async () => {
    const file = await corruptedLedger();
    const context = createTestContext();
    assert.equal(await runCli(['verify', '--database-url', `sqlite:${file}`], context), 1);
    assert.equal(context.out.join(''), expectedProblemsText(file));
    assert.equal(context.err.join(''), '');
    await assertLedgerClosed(file, { corrupted: true });
  });

  it('verify --json: prints the report as JSON', async () => {
    const file = await corruptedLedger();
    const context = createTestContext({ env: { MITE_DATABASE_URL: `sqlite:${file}` } });
    assert.equal(await runCli(['verify', '--json'], context), 1);
    assert.deepEqual(JSON.parse(context.out.join('')), {
      ok: false,
      database: `sqlite:${file}`,
      problems: expectedProblems(),
    });
  });

  it(
    'verify: shows a PostgreSQL URL without its password',
    { skip: postgresSkipReason() },
    async () => {
      const url = await requirePgDatabase();
      const withPassword = new URL(url);
      withPassword.password = 'hunter2';
      const context = createTestContext();
      const args = ['verify', '--json', '--database-url', withPassword.href];
      assert.equal(await runCli(args, context), 0, context.err.join(''));
      withPassword.password = '***';
      assert.deepEqual(JSON.parse(context.out.join('')), {
        ok: true,
        database: withPassword.href,
        problems: [],
      });
      assert.doesNotMatch(context.out.join('') + context.err.join(''), /hunter2/);
    },
  );

  it('verify: exits 2 when there is no ledger in the data directory', async () => {
    const cwd = tempDir('mite-cli-');
    const context = createTestContext({ cwd });
    assert.equal(await runCli(['verify'], context), 2);
    assert.match(context.err.join(''), /^mite: no ledger at .*\.mite\/ledger\.sqlite/);
    assert.equal(existsSync(join(cwd, '.mite')), false, 'verify created nothing');
  });

  it('verify: exits 2 when the ledger cannot be opened', async () => {
    const context = createTestContext();
    assert.equal(await runCli(['verify', '--database-url', 'mysql://x/y'], context), 2);
    assert.equal(
      context.err.join(''),
      'mite: cannot open the ledger at mysql://x/y: ledger url must start with sqlite: or postgres://\n',
    );
  });
});

/** A closed SQLite ledger whose second account claims 5 more posted credits than it received. */
async function corruptedLedger(): Promise<string> {
  const file = join(tempDir('mite-cli-'), 'ledger.sqlite');
  await createSqliteLedger(file);
  tamperCreditsPosted(file, SAMPLE.creditAccountId, SAMPLE.amount + 5n);
  return file;
}

function expectedProblems(): string[] {
  const { ledger, amount, creditAccountId } = SAMPLE;
  return [
    `ledger ${ledger}: posted debits ${amount} != credits ${amount + 5n}`,
    `account ${creditAccountId}: creditsPosted is ${amount + 5n}, its transfers sum to ${amount}`,
  ];
}

function expectedProblemsText(file: string): string {
  return [`2 problems in sqlite:${file}:`, ...expectedProblems().map((p) => `- ${p}`), ''].join(
    '\n',
  );
}

/** The ledger at `file` was closed: its lock is gone and it opens again in this process. */
async function assertLedgerClosed(
  file: string,
  { corrupted = false }: { readonly corrupted?: boolean } = {},
): Promise<void> {
  assert.equal(existsSync(`${file}.lock`), false, 'the lock file is gone');
  const ledger = await openLedger({ url: `sqlite:${file}`, verifyOnOpen: !corrupted });
  await ledger.close();
}
