import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '@mite/testkit';
import { type LiveWorld, startLiveWorld } from '../../client/src/testing/live-world.ts';
import { runCliProcess } from './test-helpers.ts';
import { tokensFileName } from './tokens-command.ts';
import { saveWalletSession } from './wallet-session.ts';

describe('mite tokens (child processes)', { timeout: 90_000 }, () => {
  let world: LiveWorld;

  before(async () => {
    // No 16, to see a denomination the platform does not issue refused; up to 512 for a price
    // of 0.001.
    world = await startLiveWorld('sqlite', '1.00', {
      tokenDenominationsMicros: [1n, 2n, 4n, 8n, 32n, 64n, 128n, 256n, 512n],
      shopTakesTokens: true,
    });
  });
  after(() => world?.close());

  it('withdraws tokens from the logged-in wallet into an owner-only file, and lists them', async () => {
    const dir = tempDir('mite-tokens-');
    saveWalletSession(dir, {
      platformUrl: world.platformUrl,
      email: 'reader@example.com',
      token: world.token,
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      budget: { maxPerPayment: '1.00', maxPerOriginPerDay: '5.00', maxTotal: '20.00' },
    });
    const env = { MITE_CONFIG_DIR: dir };
    const before = await world.walletMicros();
    const withdrew = await runCliProcess(['tokens', 'withdraw', '0.000011'], env);
    assert.equal(withdrew.code, 0, withdrew.stderr);
    assert.match(
      withdrew.stdout,
      /^withdrew 0\.000011 as 3 tokens; you hold 0\.000011 in 3 tokens\n$/,
    );
    assert.equal(before - (await world.walletMicros()), 11n);
    assert.equal(statSync(join(dir, tokensFileName)).mode & 0o777, 0o600);

    const listed = await runCliProcess(['tokens', 'list', '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const body = JSON.parse(listed.stdout) as { total: string; tokens: { denomination: string }[] };
    assert.equal(body.total, '0.000011');
    assert.deepEqual(
      body.tokens.map((token) => token.denomination),
      ['0.000008', '0.000002', '0.000001'],
    );

    // Bad input is one line and a non-zero exit, and changes nothing.
    const bad = await runCliProcess(['tokens', 'withdraw', 'lots'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^mite: not an amount: lots\n$/);
    const unissued = await runCliProcess(['tokens', 'withdraw', '0.000016'], env);
    assert.equal(unissued.code, 1);
    assert.match(unissued.stderr, /issues no token of 16 micro-units/);
    assert.equal(before - (await world.walletMicros()), 11n);

    // Spending: an answer (0.001) paid with tokens alone, the body printed.
    const more = await runCliProcess(['tokens', 'withdraw', '0.001'], env);
    assert.equal(more.code, 0, more.stderr);
    const walletAfterWithdrawals = await world.walletMicros();
    const spent = await runCliProcess(['tokens', 'spend', `${world.shopUrl}/api/answer`], env);
    assert.equal(spent.code, 0, spent.stderr);
    assert.match(spent.stdout, /^42 for /);
    assert.match(
      spent.stderr,
      /^mite: 200, paid 0\.001 in 6 tokens to mer_\S+ for \/api\/answer; you hold 0\.000011 in 3 tokens\n$/,
    );
    assert.equal(await world.walletMicros(), walletAfterWithdrawals, 'nothing from the wallet');
    // Too few tokens: one line, a non-zero exit, nothing paid from the wallet either.
    const short = await runCliProcess(['tokens', 'spend', `${world.shopUrl}/api/answer`], env);
    assert.equal(short.code, 1, short.stdout);
    assert.match(
      short.stderr,
      /^mite: paymentFailed: the tokens held cannot pay this price; nothing was paid\n$/,
    );
    assert.equal(await world.walletMicros(), walletAfterWithdrawals);
    const kept = await runCliProcess(['tokens', 'list', '--json'], env);
    assert.equal((JSON.parse(kept.stdout) as { total: string }).total, '0.000011');
    const notUrl = await runCliProcess(['tokens', 'spend', 'nowhere'], env);
    assert.equal(notUrl.code, 2);
    assert.match(notUrl.stderr, /^mite: not a URL: nowhere\n$/);
  });
});
