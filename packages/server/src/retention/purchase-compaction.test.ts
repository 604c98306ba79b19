import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { challengeEcho, chargeRequest, issueChallenge } from '@mite/protocol';
import { uuidv7 } from 'uuidv7';
import { addOffer, insertInterruptedPayment, merchant, world } from '../payments/testing.ts';
import { forEachDialect } from '../db/testing.ts';
import { setUpShop, startPlatformUnderTest } from '../platform-testing.ts';
import { createReportRollup, reportRollupLookbackMs } from '../reports/report-rollup.ts';
import { dayStartMs } from '../reports/report-periods.ts';
import {
  createPurchaseCompaction,
  purchaseDetailRetentionMsFromEnv,
} from './purchase-compaction.ts';

const dayMs = 86_400_000;

/** A new session for the shop's user: the first has expired by the time details are erased. */
async function logIn(env: Awaited<ReturnType<typeof startPlatformUnderTest>>): Promise<string> {
  const session = await env.call('POST', '/v1/sessions', {
    body: { email: 'ada@example.com', password: 'a long passphrase' },
  });
  assert.equal(session.status, 201, session.text);
  return String(session.body?.token);
}
const retentionMs = 90 * dayMs;

/** A platform on a clock the test moves, a shop, a sword bought too, and the rollup caught up. */
async function oldPurchases(
  t: Parameters<typeof startPlatformUnderTest>[0],
  dialect: 'sqlite' | 'postgres',
) {
  const clock = { nowMs: 1_800_000_000_000 };
  const env = await startPlatformUnderTest(t, dialect, {
    clock: () => clock.nowMs,
    backgroundJobs: false,
    purchaseDetailRetentionMs: retentionMs,
  });
  const shop = await setUpShop(env);
  const sword = await env.call('POST', '/v1/offers', {
    auth: shop.apiKey,
    body: {
      resource: 'sword-1',
      title: 'A sword',
      price: '0.50',
      category: 'goods',
      accessPeriodSeconds: 0,
    },
  });
  assert.equal(sword.status, 201, sword.text);
  const bought = await env.call('POST', '/v1/payments', {
    auth: shop.user,
    body: { offerId: String(sword.body?.id) },
  });
  assert.equal(bought.status, 201, bought.text);
  const refund = await env.call('POST', `/v1/payments/${shop.paymentId}/refunds`, {
    auth: shop.apiKey,
    body: { amount: '0.01' },
  });
  assert.equal(refund.status, 201, refund.text);
  // The rollup sweeps ids once they are a lookback old by the system clock (uuidv7 reads it).
  const rollup = createReportRollup({
    platform: env.platform.platformDb,
    idClock: () => Date.now() + reportRollupLookbackMs + 60_000,
  });
  while (await rollup.runOnce());
  return {
    env,
    shop,
    clock,
    swordId: String(sword.body?.id),
    swordPayment: String(bought.body?.paymentId),
    t0: clock.nowMs,
  };
}

forEachDialect('purchase compaction', (dialect, it) => {
  it('keeps details for the retention period, then erases them into daily totals', async (t) => {
    const { env, shop, clock, swordId, swordPayment, t0 } = await oldPurchases(t, dialect);
    const { db } = env.platform.platformDb;
    const compaction = env.platform.services.purchaseCompaction;

    clock.nowMs = t0 + retentionMs - 1;
    assert.deepEqual(await compaction.runOnce(), { compacted: 0, more: false });
    clock.nowMs = t0 + retentionMs + 1;
    const recent = await env.call('POST', '/v1/payments', {
      auth: await logIn(env),
      body: { offerId: swordId },
    });
    assert.equal(recent.status, 201, recent.text);
    assert.equal((await compaction.runOnce()).compacted, 2);
    assert.equal((await compaction.runOnce()).compacted, 0, 'nothing is compacted twice');

    const rows = await db
      .selectFrom('payments')
      .select(['id', 'offer_id', 'resource', 'details_erased_at', 'amount_micros', 'legs'])
      .orderBy('id')
      .execute();
    assert.deepEqual(
      rows.map((row) => [
        row.id,
        row.offer_id === null,
        row.resource === null,
        row.details_erased_at !== null,
      ]),
      [
        [shop.paymentId, true, true, true],
        [swordPayment, true, true, true],
        [String(recent.body?.paymentId), false, false, false],
      ],
    );
    assert.equal(rows[0]?.amount_micros, '20000', 'the amount stays');
    const totals = await db
      .selectFrom('purchase_day_totals')
      .selectAll()
      .orderBy('amount_micros')
      .execute();
    const day = BigInt(dayStartMs(t0));
    assert.deepEqual(totals, [
      {
        merchant_id: shop.merchantId,
        day_at: day,
        offer_id: shop.offerId,
        payment_count: 1n,
        amount_micros: 20_000n,
      },
      {
        merchant_id: shop.merchantId,
        day_at: day,
        offer_id: swordId,
        payment_count: 1n,
        amount_micros: 500_000n,
      },
    ]);
    const access = await db.selectFrom('offer_access').select('payment_id').execute();
    assert.deepEqual(access, [], 'the ended access of the compacted payment is gone');
  });

  it('keeps the wallet history, refunds and merchant reports working on compacted rows', async (t) => {
    const { env, shop, clock, swordPayment, t0 } = await oldPurchases(t, dialect);
    clock.nowMs = t0 + retentionMs + 1;
    assert.equal((await env.platform.services.purchaseCompaction.runOnce()).compacted, 2);

    const user = await logIn(env);
    const history = await env.call('GET', '/v1/wallet/purchases', { auth: user });
    assert.equal(history.status, 200, history.text);
    const items = history.body?.items as Record<string, unknown>[];
    assert.deepEqual(
      items.map((item) => [
        item.paymentId,
        item.title,
        item.resource,
        item.amount,
        item.refunded,
        item.detailsErased,
      ]),
      [
        [swordPayment, null, null, '0.50', '0.00', true],
        [shop.paymentId, null, null, '0.02', '0.01', true],
      ],
    );
    const movements = await env.call('GET', '/v1/wallet/transactions', { auth: user });
    assert.equal(movements.status, 200, movements.text);
    const kinds = (movements.body?.items as Record<string, unknown>[]).map((item) => [
      item.kind,
      item.merchantName,
    ]);
    assert.deepEqual(kinds, [
      ['refund', 'Daily News'],
      ['payment', 'Daily News'],
      ['payment', 'Daily News'],
      ['topUp', null],
    ]);
    const refund = await env.call('POST', `/v1/payments/${swordPayment}/refunds`, {
      auth: shop.apiKey,
      body: { amount: '0.50' },
    });
    assert.equal(refund.status, 201, refund.text);
    const lookup = await env.call('GET', `/v1/payments/${swordPayment}`, { auth: shop.apiKey });
    assert.equal(lookup.status, 200, lookup.text);
    assert.equal(lookup.body?.amount, '0.50');
    assert.equal(lookup.body?.receipt, undefined, 'no receipt names an erased resource');
    const sales = await env.call('GET', `/v1/merchants/${shop.merchantId}/payments`, {
      auth: shop.apiKey,
    });
    assert.equal(sales.status, 200, sales.text);
    assert.equal((sales.body?.items as unknown[]).length, 2);
    const day = new Date(t0).toISOString().slice(0, 10);
    const earnings = await env.call(
      'GET',
      `/v1/merchants/${shop.merchantId}/reports/earnings?interval=day&from=${day}&to=${day}`,
      { auth: shop.apiKey },
    );
    assert.equal(earnings.status, 200, earnings.text);
    assert.match(earnings.text, /"payments":2,"gross":"0.52"/);
  });

  it('adds each payment once when several nodes run at once', async (t) => {
    const { env, clock, t0 } = await oldPurchases(t, dialect);
    clock.nowMs = t0 + retentionMs + 1;
    const node = () =>
      createPurchaseCompaction({
        platform: env.platform.platformDb,
        clock: () => clock.nowMs,
        retentionMs,
        batchRows: 1,
      });
    const nodes = [node(), node(), node()];
    let compacted = 0;
    for (let round = 0; round < 4; round++) {
      const runs = await Promise.all(nodes.map((each) => each.runOnce()));
      compacted += runs.reduce((sum, run) => sum + run.compacted, 0);
    }
    assert.equal(compacted, 2);
    const totals = await env.platform.platformDb.db
      .selectFrom('purchase_day_totals')
      .select((eb) => eb.fn.sum<string>('payment_count').as('count'))
      .executeTakeFirstOrThrow();
    assert.equal(Number(totals.count), 2);
  });
});

forEachDialect('purchase detail retention setting', (_dialect, it) => {
  it('reads days from the environment, 90 by default, and refuses nonsense', () => {
    assert.equal(purchaseDetailRetentionMsFromEnv({}), 90 * dayMs);
    assert.equal(
      purchaseDetailRetentionMsFromEnv({ MITE_PURCHASE_DETAIL_RETENTION_DAYS: '30' }),
      30 * dayMs,
    );
    assert.throws(() =>
      purchaseDetailRetentionMsFromEnv({ MITE_PURCHASE_DETAIL_RETENTION_DAYS: '-1' }),
    );
    assert.throws(() =>
      purchaseDetailRetentionMsFromEnv({ MITE_PURCHASE_DETAIL_RETENTION_DAYS: 'soon' }),
    );
  });
});

forEachDialect(
  'purchase compaction of challenges, failures and pending payments',
  (dialect, it) => {
    it('counts challenges as such, erases failures without counting them, and waits at a pending one', async (t) => {
      const w = await world(t, dialect, { purchaseDetailRetentionMs: retentionMs });
      const seller = await merchant(w, 'News', 1_000);
      const offerId = await addOffer(w, seller.merchantId, { priceMicros: 10_000n });
      const secret = randomBytes(32);
      const challenge = (resource: string) =>
        challengeEcho(
          issueChallenge({
            secret,
            realm: 'news.example',
            request: chargeRequest({
              amountMicros: 20_000n,
              currency: 'USD',
              recipient: seller.merchantId,
              resource,
              platform: 'http://127.0.0.1:8080',
              accessPeriodSeconds: 60,
            }),
            expiresAtSeconds: Math.floor(w.clock.nowMs / 1000) + 300,
          }),
        );
      await w.fund(30_000n);
      const first = challenge('/a');
      const paid = await w.payments.payChallenge({ userId: w.userId, challenge: first });
      assert.ok(paid.ok);
      const failed = await w.payments.payChallenge({
        userId: w.userId,
        challenge: challenge('/b'),
      });
      assert.equal(failed.ok, false);
      await insertInterruptedPayment(w, {
        paymentId: `pay_${uuidv7()}`,
        merchant: seller,
        offerId,
        amountMicros: 10_000n,
      });
      await w.fund(100_000n);
      const later = await w.payments.payChallenge({ userId: w.userId, challenge: challenge('/c') });
      assert.ok(later.ok);
      const rollup = createReportRollup({
        platform: w.platform,
        idClock: () => Date.now() + reportRollupLookbackMs + 60_000,
      });
      while (await rollup.runOnce());
      const totals = () =>
        w.platform.db
          .selectFrom('purchase_day_totals')
          .select(['offer_id', 'payment_count', 'amount_micros'])
          .orderBy('offer_id')
          .execute();
      const compaction = w.services.purchaseCompaction;

      w.clock.nowMs += retentionMs + 1;
      assert.deepEqual(await compaction.runOnce(), { compacted: 2, more: false });
      assert.deepEqual(await totals(), [
        { offer_id: 'challenge', payment_count: 1n, amount_micros: 20_000n },
      ]);
      const erased = await w.platform.db
        .selectFrom('payments')
        .select(['state', 'resource', 'details_erased_at'])
        .where('details_erased_at', 'is not', null)
        .orderBy('id')
        .execute();
      assert.deepEqual(
        erased.map((row) => [row.state, row.resource]),
        [
          ['succeeded', null],
          ['failed', null],
        ],
      );
      assert.deepEqual(
        await compaction.runOnce(),
        { compacted: 0, more: false },
        'waits at the pending one',
      );
      const again = await w.payments.payChallenge({ userId: w.userId, challenge: first });
      assert.deepEqual(
        again.ok ? 'paid again' : again.code,
        'duplicatePayment',
        'the receipt, which named the erased resource, cannot be given again',
      );

      assert.equal(await w.payments.reconcilePending(), 1);
      assert.deepEqual(await compaction.runOnce(), { compacted: 2, more: false });
      assert.deepEqual(await totals(), [
        { offer_id: 'challenge', payment_count: 2n, amount_micros: 40_000n },
        { offer_id: offerId, payment_count: 1n, amount_micros: 10_000n },
      ]);
    });
  },
);
