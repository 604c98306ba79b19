import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAmount } from '@mite/protocol';
import { tempDir } from '@mite/testkit';
import { runCliProcess, startCli, waitForUrl } from './test-helpers.ts';

function micros(amount: unknown): bigint {
  const parsed = parseAmount(String(amount));
  assert.ok(parsed.ok, `not an amount: ${String(amount)}`);
  return parsed.value;
}

async function balance(platformUrl: string, email: string, password: string): Promise<string> {
  const session = await fetch(`${platformUrl}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const { token } = (await session.json()) as { token: string };
  const wallet = await fetch(`${platformUrl}/v1/wallet`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return String(((await wallet.json()) as { balance: string }).balance);
}

describe('mite login and mite pay against the demo (child processes)', { timeout: 90_000 }, () => {
  it('pays for an article once, reuses the receipt, and refuses above --max', async (t) => {
    const demo = startCli(['demo', '--port', '0', '--data-dir', tempDir('mite-pay-demo-')]);
    t.after(async () => {
      demo.child.kill('SIGTERM');
      await demo.exited;
    });
    const platformUrl = await waitForUrl(demo);
    const { stdout } = demo.output;
    const article = /an article: +(http:\/\/\S+)/.exec(stdout)?.[1] ?? assert.fail(stdout);
    const login = /MITE_PASSWORD='([^']+)' npm run mite -- (login .+)$/m.exec(stdout);
    const [, password = '', loginCommand = ''] = login ?? assert.fail(stdout);
    const email = /--email (\S+)/.exec(loginCommand)?.[1] ?? assert.fail(loginCommand);
    const configDir = tempDir('mite-config-');
    const env = { MITE_CONFIG_DIR: configDir };

    // Without a session: a one-line error and exit 2, nothing paid.
    const early = await runCliProcess(['pay', article], env);
    assert.deepEqual([early.code, early.stdout], [2, '']);
    assert.match(early.stderr, /^mite: no wallet session in .*log in first/);

    const loggedIn = await runCliProcess(loginCommand.split(' '), {
      ...env,
      MITE_PASSWORD: password,
    });
    assert.equal(loggedIn.code, 0, loggedIn.stderr);
    assert.equal(statSync(join(configDir, 'wallet.json')).mode & 0o777, 0o600);
    assert.ok(!loggedIn.stdout.includes(password));
    const before = await balance(platformUrl, email, password);

    const first = await runCliProcess(['pay', article], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^Mites in the machine\n/);
    assert.match(
      first.stderr,
      /^mite: 200, paid 0\.02 USD to mer_\S+ for \/articles\/mites-in-the-machine \(pay_\S+\)\n$/,
    );
    const after = await balance(platformUrl, email, password);
    assert.equal(micros(before) - micros(after), 20_000n);

    // The receipt kept on disk opens the article again without paying.
    const again = await runCliProcess(['pay', '--json', article], env);
    assert.equal(again.code, 0, again.stderr);
    const record = JSON.parse(again.stdout) as { status: number; paid: unknown; body: string };
    assert.deepEqual([record.status, record.paid], [200, null]);
    assert.match(record.body, /^Mites in the machine/);
    assert.equal(await balance(platformUrl, email, password), after);

    // Above --max: nothing paid, a one-line error, exit 1.
    const dear = await runCliProcess(
      ['pay', '--max', '0.01', article.replace(/[^/]+$/, 'the-402-comeback')],
      env,
    );
    assert.deepEqual([dear.code, dear.stdout], [1, '']);
    assert.match(dear.stderr, /^mite: overBudget: .*nothing was paid\)\n$/);
    assert.equal(await balance(platformUrl, email, password), after);
    const spending = JSON.parse(
      readFileSync(join(configDir, 'spending.json'), 'utf8'),
    ) as unknown[];
    assert.equal(spending.length, 1);

    const bad = await runCliProcess(['pay', 'ftp://example.com/x'], env);
    assert.deepEqual([bad.code, bad.stdout], [2, '']);
    assert.match(bad.stderr, /^mite: only http and https URLs/);
  });
});
