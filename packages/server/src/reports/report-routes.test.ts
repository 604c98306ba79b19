import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { forEachDialect } from '../db/testing.ts';
import { platformAccountIds } from '../ledger/chart-of-accounts.ts';
import { type Backend, startPlatformUnderTest } from '../platform-testing.ts';
import { reportBucketsMax } from './report-periods.ts';
import { createReportRollup } from './report-rollup.ts';

type Json = Record<string, unknown>;

/**
 * A platform on loopback on a clock the test moves, its background jobs off (the test runs the
 * rollup itself), with two merchants, each with a key for the report scopes, and a funded user
 * who buys through the payment service.
 */
async function start(t: TestContext, backend: Backend) {
  const clock = { nowMs: Date.UTC(2027, 0, 6, 12) };
  const env = await startPlatformUnderTest(t, backend, {
    clock: () => clock.nowMs,
    backgroundJobs: false,
  });
  const { services, ledger } = env.platform;
  const shop = async (name: string) => {
    const made = await services.merchants.createMerchant({
      name,
      feeBasisPoints: 1_000,
      payoutThresholdMicros: 0n,
    });
    const key = await services.merchants.issueApiKey(made.merchantId, [
      'payments:read',
      'offers:read',
      'reports:read',
    ]);
    assert.ok(key.ok);
    return { ...made, key: key.value.secret };
  };
  const news = await shop('News');
  const games = await shop('Games');
  const signedUp = await services.users.signUp({
    email: 'ada@example.com',
    password: 'a long passphrase',
  });
  assert.ok(signedUp.ok);
  const { userId } = signedUp.value;
  const profile = await services.users.profile(userId);
  assert.ok(profile);
  const funded = await ledger.createTransfers([
    {
      id: services.transferIds.next(),
      debitAccountId: platformAccountIds.processorReceivable,
      creditAccountId: profile.walletAccountId,
      amount: 1_000_000_000n,
      ledger: 1,
      code: 1,
    },
  ]);
  assert.deepEqual(funded, ['ok']);
  const offer = async (
    merchantId: string,
    priceMicros: bigint,
    splits?: { merchantId: string; shareBasisPoints: number }[],
  ) => {
    const created = await services.merchants.createOffer({
      merchantId,
      resource: `/item/${priceMicros}`,
      title: `Item ${priceMicros}`,
      priceMicros,
      category: 'goods',
      accessPeriodSeconds: 0,
      ...(splits === undefined ? {} : { splits }),
    });
    assert.ok(created.ok);
    return created.value.id;
  };
  const pay = async (offerId: string) => {
    const paid = await services.payments.pay({ userId, offerId });
    assert.ok(paid.ok, paid.ok ? '' : paid.code);
    return paid.value.paymentId;
  };
  const rollup = createReportRollup({ platform: env.platform.platformDb, settleMs: 0 });
  const get = async (path: string, auth: string) => {
    const answer = await env.call('GET', path, { auth });
    return { ...answer, json: answer.body ?? {} };
  };
  return { ...env, clock, news, games, offer, pay, rollup, get };
}

const items = (body: Json) => body.items as Json[];

forEachDialect('merchant report routes', (backend, it) => {
  it('shows a merchant its own payments, refunds and offers, and nobody else its', async (t) => {
    const env = await start(t, backend);
    const { news, games } = env;
    const shared = await env.offer(news.merchantId, 1_000_000n, [
      { merchantId: news.merchantId, shareBasisPoints: 6_000 },
      { merchantId: games.merchantId, shareBasisPoints: 4_000 },
    ]);
    const gamesOwn = await env.offer(games.merchantId, 30_000n);
    const sharedPaid = await env.pay(shared);
    await env.pay(gamesOwn);
    const refund = await env.platform.services.refunds.refund({
      paymentId: sharedPaid,
      amountMicros: 500_000n,
      authority: { kind: 'merchant', merchantId: news.merchantId },
    });
    assert.ok(refund.ok);

    const newsPayments = await env.get(`/v1/merchants/${news.merchantId}/payments`, news.key);
    assert.equal(newsPayments.status, 200, newsPayments.text);
    assert.deepEqual(items(newsPayments.json), [
      {
        paymentId: sharedPaid,
        state: 'succeeded',
        offerId: shared,
        offerTitle: 'Item 1000000',
        resource: '/item/1000000',
        sold: true,
        paidWith: 'wallet',
        amount: '1.00',
        // 10% fee, then 60% of the rest; half of it came back with the refund.
        share: '0.54',
        refunded: '0.50',
        shareRefunded: '0.27',
        currency: 'USD',
        createdAt: '2027-01-06T12:00:00.000Z',
        completedAt: '2027-01-06T12:00:00.000Z',
      },
    ]);
    assert.equal(newsPayments.json.nextCursor, null);
    const refunds = await env.get(`/v1/merchants/${news.merchantId}/refunds`, news.key);
    assert.deepEqual(
      items(refunds.json).map((row) => [row.refundId, row.amount, row.share, row.requestedBy]),
      [[refund.value.refundId, '0.50', '0.27', 'merchant']],
    );
    const offers = await env.get(`/v1/merchants/${news.merchantId}/offers`, news.key);
    assert.deepEqual(
      items(offers.json).map((row) => [row.offerId, row.price, row.splits]),
      [
        [
          shared,
          '1.00',
          [
            { merchantId: news.merchantId, shareBasisPoints: 6_000 },
            { merchantId: games.merchantId, shareBasisPoints: 4_000 },
          ],
        ],
      ],
    );

    // Another merchant's id is not found for a merchant's key, as an unknown one is.
    for (const path of [
      'payments',
      'refunds',
      'offers',
      'reports/earnings?interval=day&from=2027-01-01&to=2027-01-07',
      'reports/top-offers?from=2027-01-01&to=2027-01-07',
    ]) {
      const theirs = await env.get(`/v1/merchants/${news.merchantId}/${path}`, games.key);
      assert.equal(theirs.status, 404, path);
      assert.equal(theirs.json.type, '/v1/problems/merchant-not-found');
      assert.ok(!theirs.text.includes(sharedPaid));
      const unknown = await env.get(`/v1/merchants/mer_nobody/${path}`, env.admin);
      assert.equal(unknown.status, 404, path);
      const operator = await env.get(`/v1/merchants/${news.merchantId}/${path}`, env.admin);
      assert.equal(operator.status, 200, path);
    }
    const gamesPayments = async () =>
      items((await env.get(`/v1/merchants/${games.merchantId}/payments`, games.key)).json).map(
        (row) => [row.offerId, row.sold, row.share, row.shareRefunded],
      );
    assert.deepEqual(await gamesPayments(), [[gamesOwn, true, '0.027', '0.00']]);

    // The co-creator sees the shared payment in its list and its reports once the rollup ran,
    // by its own leg.
    await env.rollup.runOnce();
    // It did not sell it, so it may not refund it (only the seller or an operator may).
    assert.deepEqual(await gamesPayments(), [
      [gamesOwn, true, '0.027', '0.00'],
      [shared, false, '0.36', '0.18'],
    ]);
    const notItsOwn = await env.platform.services.refunds.refund({
      paymentId: sharedPaid,
      authority: { kind: 'merchant', merchantId: games.merchantId },
    });
    assert.deepEqual(notItsOwn.ok ? 'refunded' : notItsOwn.code, 'paymentNotFound');
    const earnings = await env.get(
      `/v1/merchants/${games.merchantId}/reports/earnings?interval=day&from=2027-01-06&to=2027-01-06`,
      games.key,
    );
    assert.deepEqual(earnings.json.buckets, [
      {
        start: '2027-01-06',
        end: '2027-01-06',
        payments: 2,
        gross: '0.43',
        fees: '0.043',
        net: '0.387',
        refunds: 1,
        refunded: '0.18',
      },
    ]);
    // A key without the scope is refused.
    const narrow = await env.platform.services.merchants.issueApiKey(news.merchantId, [
      'payments:read',
    ]);
    assert.ok(narrow.ok);
    const refused = await env.get(`/v1/merchants/${news.merchantId}/offers`, narrow.value.secret);
    assert.equal(refused.status, 403);
  });

  it('pages through every payment once, newest first, while more are made between pages', async (t) => {
    const env = await start(t, backend);
    const offerId = await env.offer(env.news.merchantId, 10_000n);
    // Games sells this one and shares it with News: News lists it too.
    const shared = await env.offer(env.games.merchantId, 10_000n, [
      { merchantId: env.games.merchantId, shareBasisPoints: 5_000 },
      { merchantId: env.news.merchantId, shareBasisPoints: 5_000 },
    ]);
    const made: string[] = [];
    for (let i = 0; i < 9; i++) {
      made.push(await env.pay(i % 4 === 1 ? shared : offerId));
      // Some share a time (the id breaks the tie), some do not.
      if (i % 3 === 0) env.clock.nowMs += 1_000;
    }
    await env.rollup.runOnce();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '?limit=3' : `?limit=3&cursor=${cursor}`;
      const page = await env.get(
        `/v1/merchants/${env.news.merchantId}/payments${query}`,
        env.news.key,
      );
      assert.equal(page.status, 200, page.text);
      seen.push(...items(page.json).map((row) => String(row.paymentId)));
      cursor = page.json.nextCursor as string | null;
      // New payments, at the same time as the last and later, land before the cursor.
      await env.pay(offerId);
      await env.pay(shared);
      await env.rollup.runOnce();
      env.clock.nowMs += 500;
    } while (cursor !== null);
    assert.deepEqual(seen, [...made].reverse());
  });

  it('cuts earnings at the edges of UTC days, Monday weeks and months, refunds subtracted', async (t) => {
    const env = await start(t, backend);
    const { news } = env;
    const offerId = await env.offer(news.merchantId, 100_000n);
    const other = await env.offer(news.merchantId, 20_000n);
    const at = async (iso: string, offer = offerId) => {
      env.clock.nowMs = Date.parse(iso);
      return env.pay(offer);
    };
    await at('2026-12-31T23:59:59.999Z');
    await at('2027-01-01T00:00:00.000Z');
    const sunday = await at('2027-01-03T23:59:59.999Z');
    await at('2027-01-04T00:00:00.000Z', other);
    env.clock.nowMs = Date.parse('2027-01-04T10:00:00Z');
    const refund = await env.platform.services.refunds.refund({
      paymentId: sunday,
      authority: { kind: 'operator', keyId: 'test' },
    });
    assert.ok(refund.ok);
    while (await env.rollup.runOnce());
    const earnings = async (interval: string, from: string, to: string) => {
      const answer = await env.get(
        `/v1/merchants/${news.merchantId}/reports/earnings?interval=${interval}&from=${from}&to=${to}`,
        news.key,
      );
      assert.equal(answer.status, 200, answer.text);
      return (answer.json.buckets as Json[]).map((bucket) =>
        [bucket.start, bucket.end, bucket.payments, bucket.net, bucket.refunded].join(' '),
      );
    };
    // Each sale nets 0.09 or 0.018 after the 10% fee; the refund takes 0.09 back on Monday.
    assert.deepEqual(await earnings('day', '2026-12-31', '2027-01-04'), [
      '2026-12-31 2026-12-31 1 0.09 0.00',
      '2027-01-01 2027-01-01 1 0.09 0.00',
      '2027-01-02 2027-01-02 0 0.00 0.00',
      '2027-01-03 2027-01-03 1 0.09 0.00',
      '2027-01-04 2027-01-04 1 0.018 0.09',
    ]);
    assert.deepEqual(await earnings('week', '2026-12-28', '2027-01-10'), [
      '2026-12-28 2027-01-03 3 0.27 0.00',
      '2027-01-04 2027-01-10 1 0.018 0.09',
    ]);
    assert.deepEqual(await earnings('month', '2026-12-01', '2027-01-31'), [
      '2026-12-01 2026-12-31 1 0.09 0.00',
      '2027-01-01 2027-01-31 3 0.198 0.09',
    ]);
    const top = await env.get(
      `/v1/merchants/${news.merchantId}/reports/top-offers?from=2027-01-01&to=2027-01-31`,
      news.key,
    );
    assert.deepEqual(
      (top.json.offers as Json[]).map((offer) => [offer.offerId, offer.payments, offer.kept]),
      [
        [offerId, 2, '0.09'],
        [other, 1, '0.018'],
      ],
    );
  });

  it('reports the platform fee on a merchant\u2019s sales against card fees per purchase', async (t) => {
    const env = await start(t, backend);
    const { news, games } = env;
    const cheap = await env.offer(news.merchantId, 20_000n);
    const split = await env.offer(games.merchantId, 1_000_000n, [
      { merchantId: games.merchantId, shareBasisPoints: 5_000 },
      { merchantId: news.merchantId, shareBasisPoints: 5_000 },
    ]);
    await env.pay(cheap);
    await env.pay(cheap);
    await env.pay(split);
    env.clock.nowMs += 86_400_000;
    await env.pay(cheap); // the day after the period
    while (await env.rollup.runOnce());
    const report = await env.get(
      `/v1/merchants/${news.merchantId}/reports/fees?from=2027-01-01&to=2027-01-06`,
      news.key,
    );
    assert.equal(report.status, 200, report.text);
    // Its own two sales of 0.02 and its half of 1.00 after the 10% fee; card fees only on the
    // purchases it sold: 2 x (2.9% of 0.02 + 0.30).
    assert.deepEqual(report.json, {
      from: '2027-01-01',
      to: '2027-01-06',
      currency: 'USD',
      platformFeeBasisPoints: 1_000,
      sales: {
        payments: 3,
        gross: '0.54',
        platformFees: '0.054',
        net: '0.486',
        refunded: '0.00',
      },
      cardComparison: {
        payments: 2,
        paid: '0.04',
        perPaymentCardFees: '0.60116',
        cardFeeBasisPoints: 290,
        cardFeeFixed: '0.30',
      },
    });
    const notOwn = await env.get(
      `/v1/merchants/${games.merchantId}/reports/fees?from=2027-01-01&to=2027-01-06`,
      news.key,
    );
    assert.equal(notOwn.status, 404);
    const backwards = await env.get(
      `/v1/merchants/${news.merchantId}/reports/fees?from=2027-01-06&to=2027-01-01`,
      news.key,
    );
    assert.equal(backwards.status, 400);
  });

  it('answers bad input with a 400 problem, never a 500', async (t) => {
    const env = await start(t, backend);
    const base = `/v1/merchants/${env.news.merchantId}`;
    const forged = Buffer.from(JSON.stringify({ createdAt: '-1', id: 'x' })).toString('base64url');
    for (const path of [
      `${base}/reports/earnings?interval=hour&from=2027-01-01&to=2027-01-02`,
      `${base}/reports/earnings?interval=day&from=2027-01-02&to=2027-01-01`,
      `${base}/reports/earnings?interval=day&from=2025-01-01&to=2027-01-01`,
      `${base}/reports/earnings?interval=week&from=2000-01-01&to=2027-01-01`,
      `${base}/reports/earnings?interval=month&from=2023-02-29&to=2024-01-01`,
      `${base}/reports/earnings?interval=day&from=2027-01-01`,
      `${base}/reports/earnings?interval=day&from=20270101&to=2027-01-02`,
      `${base}/reports/top-offers?from=2025-01-01&to=2027-01-01`,
      `${base}/reports/top-offers?from=2027-01-01&to=2027-01-02&limit=1000`,
      `${base}/payments?cursor=not-a-cursor!`,
      `${base}/payments?cursor=${forged}`,
      `${base}/refunds?cursor=${'A'.repeat(600)}`,
      `${base}/offers?limit=0`,
      `${base}/offers?limit=101`,
    ]) {
      const answer = await env.get(path, env.news.key);
      assert.equal(answer.status, 400, `${path}: ${answer.text}`);
      assert.match(answer.contentType, /^application\/problem\+json/);
      assert.equal(answer.json.type, '/v1/problems/validation-failed');
    }
    // The largest report allowed is answered.
    const year = await env.get(
      `${base}/reports/earnings?interval=day&from=2024-01-01&to=2024-12-31`,
      env.news.key,
    );
    assert.equal((year.json.buckets as Json[]).length, reportBucketsMax);
  });

  it('lists the routes in the OpenAPI document with their scopes', async (t) => {
    const env = await start(t, backend);
    const document = await env.get('/v1/openapi.json', env.admin);
    const paths = document.json.paths as Record<string, Record<string, Json>>;
    const scopes = Object.fromEntries(
      [
        '/v1/merchants/{merchantId}/payments',
        '/v1/merchants/{merchantId}/refunds',
        '/v1/merchants/{merchantId}/offers',
        '/v1/merchants/{merchantId}/reports/earnings',
        '/v1/merchants/{merchantId}/reports/top-offers',
      ].map((path) => [path, (paths[path]?.get?.['x-mite-auth'] as Json | undefined)?.scopes]),
    );
    assert.deepEqual(scopes, {
      '/v1/merchants/{merchantId}/payments': ['payments:read'],
      '/v1/merchants/{merchantId}/refunds': ['payments:read'],
      '/v1/merchants/{merchantId}/offers': ['offers:read'],
      '/v1/merchants/{merchantId}/reports/earnings': ['reports:read'],
      '/v1/merchants/{merchantId}/reports/top-offers': ['reports:read'],
    });
  });
});
