import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createMiteFetch } from '@mite/client';
import { tempDir } from '@mite/testkit';
import { demoShopLines, demoSiteLines, formatDemoCredentials } from './demo-command.ts';
import { buildCliBundle, startCli, waitForUrl } from './test-helpers.ts';

describe('mite demo (child process)', { timeout: 60_000 }, () => {
  it('built as npm start runs it: seeds the demo, prints its credentials, and a demo user can log in', async (t) => {
    // `npm start` runs the build, whose ledger writer thread runs a script built ahead of time:
    // seeding the demo's wallets goes through it.
    const built = await buildCliBundle();
    t.after(() => built.remove());
    const code = readFileSync(built.file, 'utf8');
    assert.doesNotMatch(code, /from ["'](tsx|esbuild)["']/, 'the build loads no compiler');
    const dataDir = tempDir('mite-demo-');
    const cli = startCli(['demo', '--port', '0', '--data-dir', dataDir], {}, built.file);
    const base = await waitForUrl(cli);
    const { stdout } = cli.output;
    assert.match(stdout, new RegExp(`wallet: +${base}/wallet/\n`));
    assert.match(stdout, new RegExp(`dashboard: +${base}/dashboard/\n`));
    assert.match(stdout, new RegExp(`console: +${base}/console/\n`));
    assert.match(stdout, new RegExp(`users \\(log in to the wallet at ${base}/wallet/login/, `));
    const wallet = await fetch(`${base}/wallet/login/`);
    assert.equal(wallet.status, 200);
    assert.match(wallet.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(stdout, new RegExp(`health: +${base}/healthz\n`));
    assert.match(stdout, new RegExp(`API docs: +${base}/v1/docs\n`));
    assert.match(stdout, /Demo credentials, for a local sandbox only/);
    assert.match(stdout, /top-ups: +SANDBOX card processor\n/);
    assert.match(stdout, /SANDBOX FUNDING: NO REAL MONEY MOVES/);
    assert.match(stdout, /first admin key written to /);
    assert.ok(existsSync(join(dataDir, 'admin-key')));
    const secret = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
    assert.ok(!stdout.includes(secret), 'the admin key is not printed');

    const users = [...stdout.matchAll(/^ {4}(\S+@\S+) +(\S+) +(\d+\.\d+)$/gm)];
    assert.ok(users.length > 0, stdout);
    assert.match(stdout, /^ {4}\S.* +\S+ +mite_\S+$/m, 'a merchant with its API key');
    assert.match(stdout, /^ {4}\S+ +\d+\.\d+ +\S/m, 'an offer with its price');
    // The game shop and the tip jar: pages for browsers, 402s naming their offers for programs.
    const shop = /^Demo game shop \(.*\): (http:\S+)$/m.exec(stdout)?.[1];
    const jar = /^Demo tip jar \(.*\): (http:\S+)$/m.exec(stdout)?.[1];
    for (const [site, paid] of [
      [shop, '/buy/gems-100?order=1'],
      [jar, '/tip/0.50?order=1'],
    ]) {
      assert.ok(site !== undefined && paid !== undefined, stdout);
      const page = await fetch(site, { headers: { accept: 'text/html' } });
      assert.equal(page.status, 200, site);
      assert.match(await page.text(), /<mite-paywall /);
      const unpaid = await fetch(`${site}${paid}`);
      assert.equal(unpaid.status, 402, `${site}${paid}`);
      const request = /request="([^"]+)"/.exec(unpaid.headers.get('www-authenticate') ?? '')?.[1];
      const details = JSON.parse(Buffer.from(request ?? '', 'base64url').toString('utf8'));
      assert.match(String(details.methodDetails.offer), /^off_/, 'sold as a platform offer');
    }
    const [, email, password] = users[0] ?? assert.fail('no demo user');
    const session = await fetch(`${base}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    assert.equal(session.status, 201, await session.clone().text());
    await listenToTheRadio(
      stdout,
      base,
      String(((await session.json()) as { token: string }).token),
    );
    // The demo's operator logs in to the console (its password is published with the others).
    const operator = /^ {4}(operator@\S+) +(\S+)$/m.exec(stdout) ?? assert.fail('no operator');
    const console = await fetch(`${base}/v1/operator-sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: operator[1], password: operator[2] }),
    });
    assert.equal(console.status, 201, await console.clone().text());
    assert.doesNotMatch(stdout, /first operator/, 'the demo makes its own first operator');

    cli.child.kill('SIGTERM');
    const run = await cli.exited;
    assert.deepEqual([run.code, run.signal], [0, null], run.stderr);
    assert.equal(run.stderr, '');
  });
});

/**
 * The demo radio: a song paid by the second and the API by the call, through payment sessions
 * opened at the demo platform; once the client is done, the radio closes them and each settles at
 * exactly what was served.
 */
async function listenToTheRadio(stdout: string, base: string, token: string): Promise<void> {
  const radio = /^Demo radio \(.*\): (http:\S+)$/m.exec(stdout)?.[1];
  assert.ok(radio !== undefined, stdout);
  assert.match(stdout, / pay --stream 'http:\S+\/songs\/morning-mites\?seconds=10'/);
  const miteFetch = createMiteFetch({
    wallet: { platformUrl: base, token },
    budget: { maxPerPayment: '0.50', maxPerOriginPerDay: '1.00', maxTotal: '1.00' },
    sessions: { depositMicros: 5_000n },
  });
  const forecast = await miteFetch(`${radio}/api/forecast`);
  assert.match(await forecast.text(), /Forecast/);
  const song = await miteFetch(`${radio}/songs/morning-mites?seconds=5`, {
    headers: { accept: 'text/event-stream' },
  });
  assert.match(await song.text(), /Morning Mites: second 5/);
  const closed = await miteFetch.closeSessions();
  const paid = closed.reduce((sum, one) => sum + one.paidMicros, 0n);
  assert.equal(paid, 500n + 5n * 100n);
  let settled = 0n;
  for (let wait = 0; wait < 100; wait++) {
    const listed = await fetch(`${base}/v1/users/me/payment-sessions`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const items = ((await listed.json()) as { items: Record<string, unknown>[] }).items;
    if (items.length === 2 && items.every((item) => item.state === 'settled')) {
      settled = items.reduce((sum, item) => sum + BigInt(String(item.settledAmount)), 0n);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(settled, paid);
}

describe('formatDemoCredentials', () => {
  const credentials = {
    users: [
      { email: 'ada@demo', password: 'pw-ada', balance: '10.00' },
      { email: 'bo@demo.example', password: 'pw', balance: '0.00' },
    ],
    merchants: [{ name: 'Shop', merchantId: 'mer_1', apiKey: 'mite_k_1' }],
    offers: [{ offerId: 'off_1', title: 'An article', price: '0.02', merchant: 'Shop' }],
    merchantPeople: [{ merchant: 'Shop', email: 'shop@demo', password: 'pw-shop' }],
    operators: [{ email: 'op@demo', password: 'pw-op' }],
  };

  it('prints users, merchants and offers in aligned columns', () => {
    assert.deepEqual(formatDemoCredentials(credentials, undefined), [
      'Demo credentials, for a local sandbox only (published, never for real money or real data):',
      '  users (log in with POST /v1/sessions):',
      '    email            password  starting balance',
      '    ada@demo         pw-ada    10.00',
      '    bo@demo.example  pw        0.00',
      '  merchants (API key as a Bearer token):',
      '    name  merchant id  API key',
      '    Shop  mer_1        mite_k_1',
      '  merchants\u2019 owners (log in to a merchant\u2019s dashboard with POST /v1/merchant-sessions):',
      '    email      password  merchant',
      '    shop@demo  pw-shop   Shop',
      '  operators (log in to the console with POST /v1/operator-sessions):',
      '    email    password',
      '    op@demo  pw-op',
      '  offers:',
      '    offer id  price  title       merchant',
      '    off_1     0.02   An article  Shop',
    ]);
  });

  it('says where users log in to the wallet, and owners to the dashboard, when the web apps are served', () => {
    const lines = formatDemoCredentials(
      credentials,
      'http://127.0.0.1:8787/wallet/login/',
      'http://127.0.0.1:8787/dashboard/login/',
      'http://127.0.0.1:8787/console/login/',
    );
    assert.equal(
      lines[1],
      '  users (log in to the wallet at http://127.0.0.1:8787/wallet/login/, or with POST /v1/sessions):',
    );
    assert.equal(
      lines[8],
      '  merchants\u2019 owners (log in to the dashboard at http://127.0.0.1:8787/dashboard/login/, or with POST /v1/merchant-sessions):',
    );
    assert.equal(
      lines[11],
      '  operators (log in to the console at http://127.0.0.1:8787/console/login/, or with POST /v1/operator-sessions):',
    );
  });
});

describe('demoSiteLines', () => {
  const site = {
    url: 'http://127.0.0.1:4000',
    articleUrl: 'http://127.0.0.1:4000/articles/a',
    close: () => Promise.resolve(),
  };
  const user = { email: 'ada@demo', password: 'pw' };

  it('prints the commands with the mite that runs now, and how to put mite on the PATH', () => {
    const lines = demoSiteLines(site, 'http://127.0.0.1:8787', user, 'node /repo/mite.mjs');
    assert.ok(
      lines.includes(
        "    MITE_PASSWORD='pw' node /repo/mite.mjs login --platform http://127.0.0.1:8787 --email ada@demo",
      ),
    );
    assert.ok(lines.includes('    node /repo/mite.mjs pay http://127.0.0.1:4000/articles/a'));
    assert.ok(lines.some((line) => /read it in a browser/.test(line)));
    assert.match(lines.at(-1) ?? '', /npm link -w packages\/cli/);
  });

  it('prints plain mite commands when mite is on the PATH', () => {
    const lines = demoSiteLines(site, 'http://127.0.0.1:8787', user, 'mite');
    assert.equal(lines.at(-1), '    mite pay http://127.0.0.1:4000/articles/a');
  });
});

describe('demoShopLines', () => {
  it('prints where the game shop and the tip jar are', () => {
    const lines = demoShopLines({
      gameShop: { url: 'http://127.0.0.1:4001' },
      tipJar: { url: 'http://127.0.0.1:4002' },
    });
    assert.match(lines[0] ?? '', /^Demo game shop .*: http:\/\/127\.0\.0\.1:4001$/);
    assert.match(lines[1] ?? '', /^Demo tip jar .*: http:\/\/127\.0\.0\.1:4002$/);
  });
});
