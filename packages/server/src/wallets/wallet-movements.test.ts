import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import { setUpShop, startPlatformUnderTest } from '../platform-testing.ts';

type Item = Record<string, unknown>;

forEachDialect('GET /v1/wallet/transactions', (dialect, it) => {
  it('shows each purchase and refund as one movement with its total and merchant, whole on every page', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    // A 0.02 purchase from Daily News (10% fee) after a 5.00 top-up.
    const shop = await setUpShop(env);
    const coAuthor = await env.call('POST', '/v1/merchants', {
      auth: env.admin,
      body: { name: 'Co-author', feeBasisPoints: 500, payoutThreshold: '10.00' },
    });
    assert.equal(coAuthor.status, 201, coAuthor.text);
    // Three legs a purchase: Daily News's half, the co-author's half, the platform's fee.
    const split = await env.call('POST', '/v1/offers', {
      auth: shop.apiKey,
      body: {
        resource: 'book-1',
        title: 'A shared book',
        price: '0.50',
        category: 'goods',
        accessPeriodSeconds: 0,
        splits: [
          { merchantId: shop.merchantId, shareBasisPoints: 5000 },
          { merchantId: String(coAuthor.body?.merchantId), shareBasisPoints: 5000 },
        ],
      },
    });
    assert.equal(split.status, 201, split.text);
    const bought: string[] = [];
    for (let times = 0; times < 2; times++) {
      const paid = await env.call('POST', '/v1/payments', {
        auth: shop.user,
        body: { offerId: String(split.body?.id) },
      });
      assert.equal(paid.status, 201, paid.text);
      bought.push(String(paid.body?.paymentId));
    }
    // Two legs back: the merchant's part and the fee's.
    const refund = await env.call('POST', `/v1/payments/${shop.paymentId}/refunds`, {
      auth: shop.apiKey,
      body: { amount: '0.01' },
    });
    assert.equal(refund.status, 201, refund.text);

    const expected = [
      ['in', '0.01', 'refund', shop.paymentId, 'Daily News'],
      ['out', '0.50', 'payment', bought[1], 'Daily News'],
      ['out', '0.50', 'payment', bought[0], 'Daily News'],
      ['out', '0.02', 'payment', shop.paymentId, 'Daily News'],
      ['in', '5.00', 'topUp', null, null],
    ];
    const shown = (items: Item[]) =>
      items.map((item) => [
        item.direction,
        item.amount,
        item.kind,
        item.paymentId,
        item.merchantName,
      ]);
    const all = await env.call('GET', '/v1/wallet/transactions', { auth: shop.user });
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(shown(all.body?.items as Item[]), expected);
    assert.equal(all.body?.nextCursor, null);
    for (const limit of [1, 2]) {
      const seen: Item[] = [];
      let path = `/v1/wallet/transactions?limit=${limit}`;
      for (let pages = 0; pages < 10; pages++) {
        const listed = await env.call('GET', path, { auth: shop.user });
        assert.equal(listed.status, 200, listed.text);
        const items = listed.body?.items as Item[];
        assert.ok(items.length <= limit);
        seen.push(...items);
        if (listed.body?.nextCursor === null) break;
        path = `/v1/wallet/transactions?limit=${limit}&cursor=${String(listed.body?.nextCursor)}`;
      }
      assert.deepEqual(shown(seen), expected, `pages of ${limit}`);
    }
  });
});
