import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
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

/** Runs a command line as a person would paste it, in a shell in `cwd`. */
function runShell(
  line: string,
  env: Readonly<Record<string, string>>,
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', line], { cwd, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code: number | null) => resolve({ code, stdout, stderr }));
  });
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
    const login = /^ +(MITE_PASSWORD='([^']+)' (.+) login .*--email (\S+))$/m.exec(stdout);
    const [, loginLine = '', password = '', mite = '', email = ''] = login ?? assert.fail(stdout);
    const payLine = new RegExp(`^ +(.+ pay ${article})$`, 'm').exec(stdout)?.[1];
    assert.equal(payLine, `${mite} pay ${article}`);
    assert.doesNotMatch(mite, /npm|npx/, 'a command that works outside the repository');
    const configDir = tempDir('mite-config-');
    const env = { MITE_CONFIG_DIR: configDir };

    // The site prices only what exists, and only for GET and HEAD.
    assert.equal((await fetch(article.replace(/[^/]+$/, 'no-such-article'))).status, 404);
    const posted = await fetch(article, { method: 'POST' });
    assert.deepEqual([posted.status, posted.headers.get('allow')], [405, 'GET, HEAD']);
    assert.equal((await fetch(article, { method: 'PUT' })).status, 405);
    // Its 402 tells a person where and how to pay, and who sells.
    const unpaid = await fetch(article);
    assert.equal(unpaid.status, 402);
    const problem = (await unpaid.json()) as Record<string, string>;
    assert.equal(problem.payCommand, `mite pay ${article}`);
    assert.equal(problem.platform, platformUrl);
    assert.equal(problem.merchant, 'The Daily Mite (demo)');
    assert.match(problem.detail ?? '', new RegExp(`at ${platformUrl}, .*mite pay ${article}`));

    // Without a session: a one-line error and exit 2, nothing paid.
    const early = await runCliProcess(['pay', article], env);
    assert.deepEqual([early.code, early.stdout], [2, '']);
    assert.match(early.stderr, /^mite: no wallet session in .*log in first/);

    // The banner's commands, run as printed by a shell in another folder.
    const elsewhere = tempDir('mite-elsewhere-');
    const loggedIn = await runShell(loginLine, env, elsewhere);
    assert.equal(loggedIn.code, 0, loggedIn.stderr);
    assert.equal(statSync(join(configDir, 'wallet.json')).mode & 0o777, 0o600);
    assert.ok(!loggedIn.stdout.includes(password));
    const before = await balance(platformUrl, email, password);

    const first = await runShell(payLine, env, elsewhere);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^Mites in the machine\n/);
    const origin = new URL(article).origin;
    assert.equal(
      first.stderr.split('\n')[0],
      // The demo's challenges name each article by its full URL (demo-site.ts).
      `mite: paying 0.02 USD to "The Daily Mite (demo)" (${problem.merchantId}) for ` +
        `${article}, at ${platformUrl}; limits: 1.00 a payment, 5.00 more ` +
        `at ${origin} today, 20.00 more in all (set at \`mite login\`)`,
    );
    assert.match(
      first.stderr.split('\n').slice(1).join('\n'),
      /^mite: 200, paid 0\.02 USD to "The Daily Mite \(demo\)" \(mer_\S+\) for http:\/\/127\.0\.0\.1:\d+\/articles\/mites-in-the-machine \(pay_\S+\)\n$/,
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

    // Plain http is refused before anything is sent, but on the loopback.
    const plain = await runCliProcess(['pay', 'http://news.example/x'], env);
    assert.deepEqual([plain.code, plain.stdout], [2, '']);
    assert.match(
      plain.stderr,
      /^mite: http:\/\/news\.example is plain http: Mite pays over https only/,
    );
    const plainLogin = await runCliProcess(
      ['login', '--platform', 'http://pay.example', '--email', email],
      { ...env, MITE_PASSWORD: password },
    );
    assert.deepEqual([plainLogin.code, plainLogin.stdout], [2, '']);
    assert.match(plainLogin.stderr, /^mite: --platform http:\/\/pay\.example is not https/);
  });
});
