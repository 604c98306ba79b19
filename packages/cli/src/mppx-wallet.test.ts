/**
 * The stock `mppx` command-line tool (mppx@0.11.0's own bin.js, in a child process) pays a Mite
 * 402 with the example configuration (examples/mppx/mppx.config.mjs) and the wallet `mite login`
 * keeps: a real platform and a merchant site behind `@mite/middleware`, on loopback. One spawn per
 * case; the platform runs on SQLite only (the interop test of @mite/client covers PostgreSQL).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isMitePaymentError } from '@mite/client';
import { mite } from '@mite/client/mppx';
import { tempDir } from '@mite/testkit';
import { Mppx } from 'mppx/client';
import { type LiveWorld, startLiveWorld } from '../../client/src/testing/live-world.ts';
import { walletMethodOptions } from './mppx-wallet.ts';
import {
  appendSpending,
  defaultBudget,
  saveWalletSession,
  type WalletBudget,
} from './wallet-session.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const mppxBin = join(repoRoot, 'node_modules', 'mppx', 'dist', 'bin.js');
const exampleConfig = join(repoRoot, 'examples', 'mppx', 'mppx.config.mjs');
const articleMicros = 20_000n;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `mppx -c examples/mppx/mppx.config.mjs <url>` from the repository root, with the wallet in
 * `configDir`. The update check (which would ask the npm registry) is off, and mppx's own state
 * and cache folders are temporary, so the run needs no network and leaves the home folder alone.
 */
function runMppx(url: string, configDir: string): Promise<Run> {
  const home = tempDir('mite-mppx-home-');
  const env = {
    ...process.env,
    MITE_CONFIG_DIR: configDir,
    NO_UPDATE_NOTIFIER: '1',
    XDG_STATE_HOME: join(home, 'state'),
    XDG_CACHE_HOME: join(home, 'cache'),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mppxBin, url, '-c', exampleConfig], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code: number | null) => resolve({ code, stdout, stderr }));
  });
}

/** A config folder as `mite login` leaves it, for the world's reader. */
function loggedIn(world: LiveWorld, budget: Partial<WalletBudget> = {}): string {
  const dir = tempDir('mite-mppx-wallet-');
  saveWalletSession(dir, {
    platformUrl: world.platformUrl,
    email: 'reader@example.com',
    token: world.token,
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    budget: { ...defaultBudget, ...budget },
  });
  return dir;
}

/** The wallet's payments, as the platform lists them. */
async function paymentCount(world: LiveWorld): Promise<number> {
  const { status, body } = await world.api('GET', '/v1/wallet/transactions');
  assert.equal(status, 200, JSON.stringify(body));
  const items = body['items'] as { kind: string }[];
  return items.filter((item) => item.kind === 'payment').length;
}

describe('the mppx command-line tool pays Mite with examples/mppx/mppx.config.mjs', () => {
  let world: LiveWorld;
  /** The wallet folder of the first case, which bought article 42. */
  let buyer = '';

  before(async () => {
    world = await startLiveWorld('sqlite');
  });
  after(() => world?.close());

  it('pays an article from the `mite login` wallet and prints it', async () => {
    buyer = loggedIn(world);
    const before = await world.walletMicros();
    const run = await runMppx(`${world.shopUrl}/articles/42`, buyer);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^article 42 for psn_/);
    assert.equal(before - (await world.walletMicros()), articleMicros, 'exactly the price');
    assert.equal(await paymentCount(world), 1);
    assert.match(run.stderr, /^mite: paying 0\.02 USD to "interop-news\.example" \(mer_/m);
    const paid = /^mite: paid 0\.02 USD to (\S+) for \/articles\/42 \((\S+)\)$/m.exec(run.stderr);
    assert.ok(paid, run.stderr);
    assert.equal(paid[1], world.merchantId);
    const { status, body } = await world.api('GET', `/v1/payments/${paid[2]}`);
    assert.equal(status, 200);
    assert.deepEqual([body['state'], body['amount']], ['succeeded', '0.02']);
    // The spending is logged where `mite pay` logs it, so the budget holds across runs.
    const spending = JSON.parse(readFileSync(join(buyer, 'spending.json'), 'utf8')) as unknown[];
    assert.deepEqual(spending, [
      {
        at: (spending[0] as { at: string }).at,
        origin: `merchant ${world.merchantId}`,
        amountMicros: '20000',
      },
    ]);
  });

  it('opens the article again in a later run with the receipt kept on disk, paying nothing', async () => {
    assert.notEqual(buyer, '', 'the first case ran');
    // A second later the site sends a new challenge, which only the kept receipt can answer.
    world.advanceShopSeconds(1);
    const before = await world.walletMicros();
    const run = await runMppx(`${world.shopUrl}/articles/42`, buyer);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^article 42 for psn_/);
    assert.doesNotMatch(run.stderr, /mite: pa(id|ying)/);
    assert.equal(await world.walletMicros(), before, 'nothing paid twice');
    assert.equal(await paymentCount(world), 1);
  });

  it('refuses a price over the budget set at login, exiting non-zero with nothing paid', async () => {
    const dir = loggedIn(world, { maxPerPayment: '0.01' });
    const before = await world.walletMicros();
    const payments = await paymentCount(world);
    const run = await runMppx(`${world.shopUrl}/articles/43`, dir);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    // mppx prints its error envelope on standard output, with the method's message.
    assert.match(run.stdout, /Request failed: 0\.02 is above the limit of 0\.01 per payment/);
    assert.doesNotMatch(run.stdout, /article 43/);
    assert.equal(await world.walletMicros(), before, 'no money moved');
    assert.equal(await paymentCount(world), payments);
  });
});

describe('walletMethodOptions: the budget of `mite login` holds across runs (in process)', () => {
  let world: LiveWorld;

  before(async () => {
    world = await startLiveWorld('sqlite');
  });
  after(() => world?.close());

  /** An mppx client as the example configuration makes it, with what it writes to the terminal. */
  function client(dir: string) {
    const lines: string[] = [];
    const options = walletMethodOptions({ MITE_CONFIG_DIR: dir }, (text) => lines.push(text));
    return { mppx: Mppx.create({ methods: [mite(options)], polyfill: false }), lines };
  }

  it("refuses a payment past the merchant's daily limit counting earlier runs, unpaid", async () => {
    const dir = loggedIn(world, { maxPerOriginPerDay: '1.00' });
    const at = new Date().toISOString();
    const origin = `merchant ${world.merchantId}`;
    appendSpending(dir, { at, origin, amountMicros: '990000' });
    appendSpending(dir, { at, origin: 'https://elsewhere.example', amountMicros: '500000' });
    const { mppx, lines } = client(dir);
    const before = await world.walletMicros();
    await assert.rejects(mppx.fetch(`${world.shopUrl}/articles/50`), (error) => {
      assert.ok(isMitePaymentError(error, 'approvalDenied'), String(error));
      return true;
    });
    assert.deepEqual(lines, [
      `mite: 0.02 more to ${origin} today would pass its daily limit of 1.00 (0.99 paid today; set at \`mite login\`)\n`,
    ]);
    assert.equal(await world.walletMicros(), before, 'no money moved');
  });

  it('counts every earlier payment against the total limit and shows what is left', async () => {
    const dir = loggedIn(world, { maxTotal: '1.00', maxPerOriginPerDay: '1.00' });
    const yesterday = new Date(Date.now() - 86_400_000).toISOString();
    const origin = `merchant ${world.merchantId}`;
    appendSpending(dir, { at: yesterday, origin, amountMicros: '970000' });
    const { mppx, lines } = client(dir);
    const paid = await mppx.fetch(`${world.shopUrl}/articles/51`);
    assert.equal(paid.status, 200);
    // Yesterday's 0.97 counts in all but not today: 1.00 left at the merchant, 0.03 in all.
    assert.match(
      lines[0] ?? '',
      /limits: 1\.00 a payment, 1\.00 more at merchant \S+ today, 0\.03 more in all/,
    );
    world.advanceShopSeconds(1);
    const next = client(dir);
    await assert.rejects(next.mppx.fetch(`${world.shopUrl}/articles/52`), (error) => {
      assert.ok(isMitePaymentError(error, 'overBudget'), String(error));
      assert.equal(error.limit, 'total');
      return true;
    });
  });
});
