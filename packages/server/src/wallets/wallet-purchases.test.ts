import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import { setUpShop, startPlatformUnderTest } from '../platform-testing.ts';

forEachDialect('GET /v1/wallet/purchases', (dialect, it) => {
  it('lists my purchases newest first, a page at a time, with merchant, title and refunds', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const shop = await setUpShop(env);
    const second = await env.call('POST', '/v1/offers', {
      auth: shop.apiKey,
      body: {
        resource: 'sword-1',
        title: 'A sword',
        price: '0.50',
        category: 'goods',
        accessPeriodSeconds: 0,
      },
    });
    assert.equal(second.status, 201, second.text);
    const bought = await env.call('POST', '/v1/payments', {
      auth: shop.user,
      body: { offerId: String(second.body?.id) },
    });
    assert.equal(bought.status, 201, bought.text);
    const refund = await env.call('POST', `/v1/payments/${shop.paymentId}/refunds`, {
      auth: shop.apiKey,
      body: { amount: '0.01' },
    });
    assert.equal(refund.status, 201, refund.text);

    const first = await env.call('GET', '/v1/wallet/purchases?limit=1', { auth: shop.user });
    assert.equal(first.status, 200, first.text);
    const [newest] = first.body?.items as Record<string, unknown>[];
    assert.deepEqual(
      { ...newest, paymentId: undefined, at: undefined },
      {
        paymentId: undefined,
        merchantId: shop.merchantId,
        merchantName: 'Daily News',
        title: 'A sword',
        resource: 'sword-1',
        amount: '0.50',
        refunded: '0.00',
        state: 'succeeded',
        at: undefined,
        detailsErased: false,
      },
    );
    assert.equal(newest?.paymentId, bought.body?.paymentId);
    const cursor = String(first.body?.nextCursor);
    const rest = await env.call('GET', `/v1/wallet/purchases?limit=1&cursor=${cursor}`, {
      auth: shop.user,
    });
    const [older] = rest.body?.items as Record<string, unknown>[];
    assert.equal(older?.paymentId, shop.paymentId);
    assert.equal(older?.title, 'One');
    assert.equal(older?.amount, '0.02');
    assert.equal(older?.refunded, '0.01');
    assert.equal(rest.body?.nextCursor, null);

    const stranger = { email: 'bo@example.com', password: 'another long passphrase' };
    assert.equal((await env.call('POST', '/v1/users', { body: stranger })).status, 201);
    const session = await env.call('POST', '/v1/sessions', { body: stranger });
    const theirs = await env.call('GET', '/v1/wallet/purchases', {
      auth: String(session.body?.token),
    });
    assert.deepEqual(theirs.body, { items: [], nextCursor: null }, 'each user sees their own');
    const forged = await env.call('GET', '/v1/wallet/purchases?cursor=bm9wZQ', {
      auth: shop.user,
    });
    assert.equal(forged.status, 400);
    const merchant = await env.call('GET', '/v1/wallet/purchases', { auth: shop.apiKey });
    assert.equal(merchant.status, 403, 'a merchant has no wallet');
  });

  it('answers one of my purchases by its id, and nobody else’s', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const shop = await setUpShop(env);
    const refund = await env.call('POST', `/v1/payments/${shop.paymentId}/refunds`, {
      auth: shop.apiKey,
      body: { amount: '0.01' },
    });
    assert.equal(refund.status, 201, refund.text);
    const mine = await env.call('GET', `/v1/wallet/purchases/${shop.paymentId}`, {
      auth: shop.user,
    });
    assert.equal(mine.status, 200, mine.text);
    assert.deepEqual(
      { ...mine.body, at: undefined },
      {
        paymentId: shop.paymentId,
        merchantId: shop.merchantId,
        merchantName: 'Daily News',
        title: 'One',
        resource: (mine.body as Record<string, unknown>).resource,
        amount: '0.02',
        refunded: '0.01',
        state: 'succeeded',
        at: undefined,
        detailsErased: false,
      },
    );
    const stranger = { email: 'bo@example.com', password: 'another long passphrase' };
    assert.equal((await env.call('POST', '/v1/users', { body: stranger })).status, 201);
    const session = await env.call('POST', '/v1/sessions', { body: stranger });
    const theirs = await env.call('GET', `/v1/wallet/purchases/${shop.paymentId}`, {
      auth: String(session.body?.token),
    });
    assert.equal(theirs.status, 404, 'another user\u2019s purchase is not found');
    assert.equal(theirs.body?.type, '/v1/problems/payment-not-found');
    const unknown = await env.call('GET', '/v1/wallet/purchases/pay_none', { auth: shop.user });
    assert.equal(unknown.status, 404);
  });
});
