/**
 * Merchants' fair-price caps over real HTTP, on both databases: the merchant sets its cap; a
 * purchase is charged its price until the month's spending with the merchant reaches the cap,
 * the one that crosses it is charged what is left, and the rest of the month is free (no money
 * moves, the receipt still grants access, the webhook event says 0); months roll over in the
 * operator's time zone; purchases racing past the cap never charge more than it in total; a
 * failed payment gives its spending back; a free item is not refused by a cap it adds nothing to.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { forEachDialect } from '../db/testing.ts';
import { type Backend, createMerchantWithKey, expectStatus } from '../platform-testing.ts';
import { fairCharge } from './fair-price.ts';
import {
  type Bought,
  type LimitsWorld,
  lastSecondOfNovemberInSeoulMs,
  startLimitsWorld,
  units,
} from './testing/limits-world.ts';

type World = LimitsWorld;

const world = (t: TestContext, backend: Backend, topUp = '50.00') =>
  startLimitsWorld(t, backend, { topUp });

function claimsOf(bought: Bought): Record<string, unknown> {
  assert.equal(bought.status, 201, JSON.stringify(bought.body));
  return bought.body?.claims as Record<string, unknown>;
}

async function fairSpent(w: World): Promise<bigint> {
  const row = await w.env.platform.platformDb.db
    .selectFrom('monthly_spending')
    .select('spent_micros')
    .where('scope', '=', `fairPrice:${w.merchantId}`)
    .executeTakeFirst();
  return row === undefined ? 0n : BigInt(row.spent_micros);
}

async function paymentRows(w: World) {
  return w.env.platform.platformDb.db
    .selectFrom('payments')
    .select(['id', 'amount_micros', 'list_price_micros', 'legs', 'state'])
    .orderBy('id')
    .execute();
}

forEachDialect('fair-price caps', (backend, it) => {
  it('is set by the merchant and the operator, for the merchant only', async (t) => {
    const w = await world(t, backend);
    assert.equal((await w.setCap('5.00')).status, 200);
    const path = `/v1/merchants/${w.merchantId}/fair-price-cap`;
    const read = await w.env.call('GET', path, { auth: w.apiKey });
    assert.deepEqual(read.body, { monthlyCap: '5.00' });
    assert.equal((await w.setCap('0')).status, 400, 'a cap of zero is no promise');
    assert.equal((await w.setCap('1000000.01')).status, 400);
    assert.equal((await w.setCap(null, w.user)).status, 403, 'not a user');
    const other = await createMerchantWithKey(w.env, { name: 'Other' });
    assert.equal((await w.setCap('1.00', other.apiKey)).status, 404, 'not another merchant');
    assert.equal((await w.setCap(null, w.env.admin)).status, 200, 'the operator removes it');
    const removed = await w.env.call('GET', path, { auth: w.env.admin });
    assert.deepEqual(removed.body, { monthlyCap: null });
  });

  it('charges up to the cap, the crossing item the remainder, and then nothing', async (t) => {
    const w = await world(t, backend);
    // Set before the merchant's first sale, so that no node holds its terms in memory yet.
    assert.equal((await w.setCap('5.00')).status, 200);
    const two = await w.offer('2.00');
    assert.equal(claimsOf(await w.buy(two)).amount, '2.00');
    assert.equal(claimsOf(await w.buy(two)).amount, '2.00');
    const crossing = claimsOf(await w.buy(two));
    assert.equal(crossing.amount, '1.00', 'what was left of the cap');
    assert.equal(crossing.fairPriceCap, '2.00', 'the receipt names the full price');
    const free = claimsOf(await w.buy(two));
    assert.equal(free.amount, '0.00');
    assert.equal(free.fairPriceCap, '2.00');
    assert.equal(await w.balance(), '45.00', 'never more than the cap');
    assert.equal(await fairSpent(w), 5n * units);
    const rows = await paymentRows(w);
    assert.deepEqual(
      rows.map((row) => [row.amount_micros, row.list_price_micros, row.state]),
      [
        ['2000000', '2000000', 'succeeded'],
        ['2000000', '2000000', 'succeeded'],
        ['1000000', '2000000', 'succeeded'],
        ['0', '2000000', 'succeeded'],
      ],
    );
    const legsOf = (index: number) => JSON.parse(rows[index]?.legs ?? 'null') as unknown[];
    const crossingTotal = (legsOf(2) as { amountMicros: string }[]).reduce(
      (sum, leg) => sum + BigInt(leg.amountMicros),
      0n,
    );
    assert.equal(crossingTotal, units, 'the crossing item\u2019s legs are for what it charged');
    assert.deepEqual(legsOf(3), [], 'a free item moves no money');
    const events = await w.env.platform.platformDb.db
      .selectFrom('webhook_events')
      .select(['payload'])
      .where('type', '=', 'payment.succeeded')
      .orderBy('created_at')
      .execute();
    const amounts = events.map((event) => (JSON.parse(event.payload) as { amount: string }).amount);
    assert.deepEqual(amounts.sort(), ['0.00', '1.00', '2.00', '2.00']);
  });

  it('charges items in full while exactly at the cap is not passed', async (t) => {
    const w = await world(t, backend);
    assert.equal((await w.setCap('4.00')).status, 200);
    const two = await w.offer('2.00');
    assert.equal(claimsOf(await w.buy(two)).amount, '2.00');
    const atCap = claimsOf(await w.buy(two));
    assert.equal(atCap.amount, '2.00', 'exactly at the cap: charged in full');
    assert.equal(atCap.fairPriceCap, undefined, 'charged in full: no term to sign');
    assert.equal(claimsOf(await w.buy(two)).amount, '0.00');
    assert.equal(await w.balance(), '46.00');
  });

  it('tells the user where they stand, for the pay window and the wallet', async (t) => {
    const w = await world(t, backend);
    const standing = async () =>
      expectStatus(
        await w.env.call('GET', `/v1/users/me/spending/merchants/${w.merchantId}`, {
          auth: w.user,
        }),
        200,
        'standing',
      );
    const none = { merchantId: w.merchantId, merchantName: 'Daily News', month: '2026-11' };
    assert.deepEqual(await standing(), { ...none, cap: null, spent: '0.00', left: null });
    assert.equal((await w.setCap('5.00')).status, 200);
    assert.deepEqual(await standing(), { ...none, cap: '5.00', spent: '0.00', left: '5.00' });
    const two = await w.offer('2.00');
    await w.buy(two);
    await w.buy(two);
    await w.buy(two);
    assert.deepEqual(await standing(), { ...none, cap: '5.00', spent: '5.00', left: '0.00' });
    const unknown = await w.env.call('GET', '/v1/users/me/spending/merchants/mer_none', {
      auth: w.user,
    });
    assert.equal(unknown.status, 404);
    const wallet = await w.env.call('GET', '/v1/users/me/spending', { auth: w.user });
    assert.deepEqual(wallet.body?.fairPriceCaps, [
      {
        merchantId: w.merchantId,
        merchantName: 'Daily News',
        cap: '5.00',
        spent: '5.00',
        left: '0.00',
      },
    ]);
  });

  it('starts again when the month rolls over in the operator\u2019s time zone', async (t) => {
    const w = await world(t, backend);
    assert.equal((await w.setCap('3.00')).status, 200);
    const three = await w.offer('3.00');
    assert.equal(claimsOf(await w.buy(three)).amount, '3.00');
    w.clock.nowMs = lastSecondOfNovemberInSeoulMs;
    assert.equal(claimsOf(await w.buy(three)).amount, '0.00', 'still November in Seoul');
    w.clock.nowMs = lastSecondOfNovemberInSeoulMs + 1000; // midnight in Seoul, 15:00 UTC
    assert.equal(claimsOf(await w.buy(three)).amount, '3.00', 'December in Seoul');
    assert.equal(claimsOf(await w.buy(three)).amount, '0.00');
    assert.equal(await w.balance(), '44.00');
  });

  it('never charges more than the cap to purchases racing past it', async (t) => {
    const w = await world(t, backend);
    assert.equal((await w.setCap('5.00')).status, 200);
    const three = await w.offer('3.00');
    const answers = await Promise.all(Array.from({ length: 12 }, () => w.buy(three)));
    const charged = answers.map((answer) => String(claimsOf(answer).amount)).sort();
    assert.deepEqual(charged, [...Array(10).fill('0.00'), '2.00', '3.00']);
    assert.equal(await w.balance(), '45.00');
    assert.equal(await fairSpent(w), 5n * units);
  });

  it('finishes a free payment left pending by a crash without asking the ledger', async (t) => {
    const w = await world(t, backend);
    assert.equal((await w.setCap('1.00')).status, 200);
    const one = await w.offer('1.00');
    assert.equal(claimsOf(await w.buy(one)).amount, '1.00');
    const free = claimsOf(await w.buy(one));
    assert.equal(free.amount, '0.00');
    // Back to where a crash between recording it and recording its outcome would leave it.
    const db = w.env.platform.platformDb.db;
    const paymentId = String(free.paymentId);
    await db
      .updateTable('payments')
      .set({ state: 'pending', completed_at: null })
      .where('id', '=', paymentId)
      .execute();
    await db.deleteFrom('webhook_events').where('payload', 'like', `%${paymentId}%`).execute();
    w.clock.nowMs += 60_000;
    assert.equal(await w.env.platform.services.payments.reconcilePending(), 1);
    const row = await db
      .selectFrom('payments')
      .select(['state', 'amount_micros'])
      .where('id', '=', paymentId)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, { state: 'succeeded', amount_micros: '0' });
    const events = await db
      .selectFrom('webhook_events')
      .select('payload')
      .where('payload', 'like', `%${paymentId}%`)
      .execute();
    assert.equal(events.length, 1, 'its event, once');
    assert.equal((JSON.parse(events[0]?.payload ?? '{}') as { amount: string }).amount, '0.00');
    assert.equal(await w.balance(), '49.00');
  });

  it('gives back the spending of a payment the wallet could not pay', async (t) => {
    const w = await world(t, backend, '3.00');
    assert.equal((await w.setCap('5.00')).status, 200);
    const refused = await w.buy(await w.offer('4.00'));
    assert.equal(refused.body?.type, '/v1/problems/insufficient-funds');
    assert.equal(await fairSpent(w), 0n);
    assert.equal(claimsOf(await w.buy(await w.offer('3.00'))).amount, '3.00');
    assert.equal(await fairSpent(w), 3n * units);
  });

  it('lets a free item through a category cap it adds nothing to', async (t) => {
    const w = await world(t, backend);
    assert.equal((await w.setCap('4.00')).status, 200);
    const other = await createMerchantWithKey(w.env, { name: 'Other' });
    assert.equal(claimsOf(await w.buy(await w.offer('4.00'))).amount, '4.00');
    assert.equal(
      claimsOf(await w.buy(await w.offer('6.00', { apiKey: other.apiKey }))).amount,
      '6.00',
    );
    const overCap = await w.buy(await w.offer('0.01', { apiKey: other.apiKey }));
    assert.equal(overCap.body?.rule, 'limit.monthly.content', 'the content cap is reached');
    assert.equal(claimsOf(await w.buy(await w.offer('1.00'))).amount, '0.00');
  });
});

test('a fair-price charge is the price, the room left under the cap, or zero', () => {
  assert.equal(fairCharge(3n, 10n, 0n), 3n);
  assert.equal(fairCharge(3n, 10n, 7n), 3n);
  assert.equal(fairCharge(3n, 10n, 8n), 2n);
  assert.equal(fairCharge(3n, 10n, 10n), 0n);
  assert.equal(fairCharge(3n, 10n, 12n), 0n, 'a cap lowered below the spending');
});
