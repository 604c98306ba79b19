/**
 * The platform's monthly caps over real HTTP, on both databases: a purchase exactly at a cap goes
 * through and the next is refused before money moves; months roll over in the operator's time
 * zone; purchases racing to a cap cannot pass it together; a failed payment gives its spending
 * back; resellable goods (classed by the operator) are under their lower cap; token withdrawals
 * count too; the wallet's summary shows it all.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { forEachDialect } from '../db/testing.ts';
import type { Backend, PlatformOverrides } from '../platform-testing.ts';
import { defaultRuleSetInput } from '../risk/rule-set.ts';
import { outputsFor, outputsJson, startTokenWorld } from '../tokens/testing/token-world.ts';
import {
  lastSecondOfNovemberInSeoulMs,
  startLimitsWorld,
  testCaps,
  units,
} from './testing/limits-world.ts';

const world = (
  t: TestContext,
  backend: Backend,
  topUp = '50.00',
  overrides: PlatformOverrides = {},
) => startLimitsWorld(t, backend, { topUp, overrides });

function scopeOf(summary: Record<string, unknown>, scope: string): Record<string, unknown> {
  const scopes = summary.scopes as Record<string, unknown>[];
  return scopes.find((candidate) => candidate.scope === scope) ?? assert.fail(`no ${scope}`);
}

forEachDialect('spending limits', (backend, it) => {
  it('lets a purchase reach the cap exactly and refuses the next, before money moves', async (t) => {
    const w = await world(t, backend);
    const four = await w.offer('4.00');
    const two = await w.offer('2.00');
    const cent = await w.offer('0.01');
    assert.equal((await w.buy(four)).status, 201);
    assert.equal((await w.buy(four)).status, 201);
    assert.equal((await w.buy(two)).status, 201, 'exactly at the cap of 10.00');
    const balance = async () =>
      (await w.env.call('GET', '/v1/wallet', { auth: w.user })).body?.balance;
    const before = await balance();
    const refused = await w.buy(cent);
    assert.equal(refused.status, 403);
    assert.equal(refused.body?.type, '/v1/problems/policy-blocked');
    assert.equal(refused.body?.rule, 'limit.monthly.content');
    assert.match(String(refused.body?.detail), /past its limit of 10\.00/);
    assert.equal(await balance(), before, 'nothing was charged');
    const content = scopeOf(await w.spending(), 'content');
    assert.deepEqual(content, { scope: 'content', spent: '10.00', cap: '10.00', ownLimit: null });
    // Goods have a cap of their own.
    assert.equal((await w.buy(await w.offer('5.00', { category: 'goods' }))).status, 201);
    const decisions = await w.env.platform.platformDb.db
      .selectFrom('policy_decisions')
      .select(['rule', 'reason', 'verdict'])
      .execute();
    assert.deepEqual(
      decisions.map((d) => [d.rule, d.verdict]),
      [['limit.monthly.content', 'block']],
    );
    assert.match(decisions[0]?.reason ?? '', /0\.01 would take this month's spending on content/);
  });

  it('takes a refund off the month the payment counted in', async (t) => {
    const w = await world(t, backend);
    const bought = await w.buy(await w.offer('10.00'));
    assert.equal(bought.status, 201);
    const four = await w.offer('4.00');
    assert.equal((await w.buy(four)).status, 403, 'at the cap');
    const refunded = await w.env.call(
      'POST',
      `/v1/payments/${String(bought.body?.paymentId)}/refunds`,
      {
        auth: w.apiKey,
        body: { amount: '4.00' },
      },
    );
    assert.equal(refunded.status, 201, refunded.text);
    assert.equal(scopeOf(await w.spending(), 'content').spent, '6.00');
    assert.equal((await w.buy(four)).status, 201, 'the refunded room is spent again');
  });

  it('rolls the month over at midnight in the operator\u2019s time zone', async (t) => {
    const w = await world(t, backend);
    const ten = await w.offer('10.00');
    assert.equal((await w.buy(ten)).status, 201);
    w.clock.nowMs = lastSecondOfNovemberInSeoulMs;
    assert.equal((await w.buy(await w.offer('0.01'))).status, 403, 'still November in Seoul');
    assert.equal((await w.spending()).month, '2026-11');
    w.clock.nowMs = lastSecondOfNovemberInSeoulMs + 1000; // 15:00 UTC: midnight in Seoul
    assert.equal((await w.buy(ten)).status, 201, 'December in Seoul, though November in UTC');
    const december = await w.spending();
    assert.equal(december.month, '2026-12');
    assert.equal(december.timeZone, 'Asia/Seoul');
    assert.equal(scopeOf(december, 'content').spent, '10.00');
  });

  it('holds the cap against purchases racing to it', async (t) => {
    const w = await world(t, backend);
    const one = await w.offer('1.00');
    const answers = await Promise.all(Array.from({ length: 16 }, () => w.buy(one)));
    const statuses = answers.map((answer) => answer.status).sort();
    assert.equal(statuses.filter((status) => status === 201).length, 10, statuses.join(','));
    assert.equal(statuses.filter((status) => status === 403).length, 6);
    assert.equal(scopeOf(await w.spending(), 'content').spent, '10.00');
    const wallet = await w.env.call('GET', '/v1/wallet', { auth: w.user });
    assert.equal(wallet.body?.balance, '40.00', 'ten purchases charged, six not');
  });

  it('gives back the spending of a payment the wallet could not pay', async (t) => {
    const w = await world(t, backend, '3.00');
    const refused = await w.buy(await w.offer('4.00'));
    assert.equal(
      refused.body?.type,
      '/v1/problems/insufficient-funds',
      JSON.stringify(refused.body),
    );
    assert.equal(scopeOf(await w.spending(), 'content').spent, '0.00');
    assert.equal((await w.buy(await w.offer('3.00'))).status, 201);
    assert.equal(scopeOf(await w.spending(), 'content').spent, '3.00');
  });

  it('keeps resellable goods, classed by the operator, under their lower cap', async (t) => {
    const w = await world(t, backend);
    const path = `/v1/merchants/${w.merchantId}/spending-class`;
    const byMerchant = await w.env.call('PUT', path, {
      auth: w.apiKey,
      body: { category: 'goods', resellable: false },
    });
    assert.equal(byMerchant.status, 403, 'a merchant does not class itself');
    const classed = await w.env.call('PUT', path, {
      auth: w.env.admin,
      body: { category: 'goods', resellable: true },
    });
    assert.equal(classed.status, 200, classed.text);
    const bad = await w.env.call('PUT', path, {
      auth: w.env.admin,
      body: { category: 'gift cards', resellable: true },
    });
    assert.equal(bad.status, 400);
    // Classed before its first sale, so no node holds its terms in memory yet.
    const gift = await w.offer('2.00', { category: 'goods' });
    assert.equal((await w.buy(gift)).status, 201);
    const refused = await w.buy(gift);
    assert.equal(refused.status, 403);
    assert.equal(refused.body?.rule, 'limit.monthly.resellable');
    const summary = await w.spending();
    assert.equal(scopeOf(summary, 'resellable').spent, '2.00');
    assert.equal(scopeOf(summary, 'goods').spent, '2.00');
  });
});

forEachDialect('spending limits on token withdrawals', (backend, it) => {
  it('counts a withdrawal under content, and refuses one past the cap', async (t) => {
    // The shop's user bought one article of 0.02 (20,000 micro-units): 6 remain under this cap.
    const cap = 20_006n;
    const world = await startTokenWorld(t, backend, {
      platformCaps: { ...testCaps, categoryMonthlyMicros: { content: cap, goods: cap } },
    });
    await world.withdraw([4n, 2n]);
    const refused = await world.env.call('POST', '/v1/tokens/withdrawals', {
      auth: world.shop.user,
      body: { outputs: outputsJson(outputsFor([world.keyOf(1n)])) },
      headers: { 'idempotency-key': 'one-too-many' },
    });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.body?.rule, 'limit.monthly.content');
    const summary = await world.env.call('GET', '/v1/users/me/spending', { auth: world.shop.user });
    assert.equal(scopeOf(summary.body ?? {}, 'content').spent, '0.020006');
  });
});

forEachDialect('spending limits the user sets', (backend, it) => {
  it('blocks a category at zero, holds a merchant limit, and lets a raise through once confirmed', async (t) => {
    const w = await world(t, backend);
    const setLimit = (scope: string, body: Record<string, unknown>) =>
      w.env.call('PUT', `/v1/users/me/limits/${scope}`, { auth: w.user, body });
    assert.equal((await setLimit('goods', { limit: '0' })).status, 200);
    const goods = await w.buy(await w.offer('0.01', { category: 'goods' }));
    assert.equal(goods.status, 403);
    assert.equal(goods.body?.rule, 'limit.monthly.goods');
    assert.match(String(goods.body?.detail), /blocked on this account/);

    assert.equal((await setLimit(`merchant:${w.merchantId}`, { limit: '3.00' })).status, 200);
    const one = await w.offer('1.00');
    const racing = await Promise.all(Array.from({ length: 5 }, () => w.buy(one)));
    assert.equal(racing.filter((answer) => answer.status === 201).length, 3);
    const refused = racing.find((answer) => answer.status === 403);
    assert.equal(refused?.body?.rule, 'limit.monthly.merchant');
    const summary = await w.spending();
    assert.deepEqual(scopeOf(summary, `merchant:${w.merchantId}`), {
      scope: `merchant:${w.merchantId}`,
      spent: '3.00',
      cap: '3.00',
      ownLimit: '3.00',
    });

    const unconfirmed = await setLimit(`merchant:${w.merchantId}`, { limit: '4.00' });
    assert.equal(unconfirmed.status, 403, 'a raise needs the password');
    assert.equal((await w.buy(one)).status, 403, 'and changed nothing');
    const raised = await setLimit(`merchant:${w.merchantId}`, {
      limit: '4.00',
      password: 'a long passphrase',
    });
    assert.equal(raised.status, 200, raised.text);
    assert.equal((await w.buy(one)).status, 201, 'the raised limit is in force at once');
    assert.equal((await setLimit(`merchant:${w.merchantId}`, { limit: '1.00' })).status, 200);
    assert.equal((await w.buy(one)).status, 403, 'a lowering is in force at once');
  });

  it('caps a minor with a guardian\u2019s consent lower, and refuses one without', async (t) => {
    const w = await world(t, backend);
    const declared = await w.env.call('PUT', '/v1/users/me/birth-date', {
      auth: w.user,
      body: { birthDate: '2012-05-01' },
    });
    assert.equal(declared.status, 200, declared.text);
    const refused = await w.buy(await w.offer('0.50'));
    assert.equal(refused.body?.rule, 'limit.minor-consent');
    const summary = await w.spending();
    assert.equal(scopeOf(summary, 'content').cap, '2.00', 'a minor\u2019s cap');
  });
});

forEachDialect('the cash-out rule over the monthly spending', (backend, it) => {
  it('asks to confirm resellable spending above nine tenths of the cap, by the default rules', async (t) => {
    const w = await world(t, backend, '100.00', {
      platformCaps: {
        ...testCaps,
        categoryMonthlyMicros: { content: 200n * units, goods: 200n * units },
        resellableMonthlyMicros: 100n * units,
      },
      riskRules: defaultRuleSetInput,
    });
    const classed = await w.env.call('PUT', `/v1/merchants/${w.merchantId}/spending-class`, {
      auth: w.env.admin,
      body: { category: 'goods', resellable: true },
    });
    assert.equal(classed.status, 200);
    assert.equal((await w.buy(await w.offer('89.00', { category: 'goods' }))).status, 201);
    assert.equal(
      (await w.buy(await w.offer('1.00', { category: 'goods' }))).status,
      201,
      'exactly 90%',
    );
    const over = await w.buy(await w.offer('0.01', { category: 'goods' }));
    assert.equal(over.status, 403);
    assert.equal(over.body?.type, '/v1/problems/policy-challenged');
    assert.equal(over.body?.rule, 'cash-out.resellable');
    assert.doesNotMatch(String(over.body?.detail), /[0-9]/, 'the user is told no threshold');
  });
});
