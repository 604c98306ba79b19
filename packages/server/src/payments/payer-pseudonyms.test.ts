/**
 * Payer pseudonyms kept per merchant, on both databases: each succeeded payment's payer is found
 * by the pseudonym its receipt named, at that merchant only; a failed payment names no one; and
 * payers of payments made before the table existed are written once at start, a page at a time.
 */
import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import {
  createMerchantWithKey,
  expectStatus,
  setUpShop,
  signUpAndTopUp,
  startPlatformUnderTest,
} from '../platform-testing.ts';
import { createPayerPseudonyms, pastPayersUpgrade, payerByPseudonym } from './payer-pseudonyms.ts';

forEachDialect('payer pseudonyms', (backend, it) => {
  it('finds the payer of a receipt by its pseudonym, at its merchant only', async (t) => {
    const env = await startPlatformUnderTest(t, backend, { backgroundJobs: false });
    const shop = await setUpShop(env);
    const { db } = env.platform.platformDb;
    const payerOf = payerByPseudonym(db);
    const payment = expectStatus(
      await env.call('GET', `/v1/payments/${shop.paymentId}`, { auth: shop.apiKey }),
      200,
      'payment',
    );
    const pseudonym = String(payment.payer);
    assert.equal(await payerOf(shop.merchantId, pseudonym), shop.userId);
    const other = await createMerchantWithKey(env, { name: 'Other' });
    assert.equal(await payerOf(other.merchantId, pseudonym), undefined);
    // Buying again writes nothing more; a payment that failed names no payer.
    const poor = await signUpAndTopUp(env, {
      email: 'poor@example.com',
      password: 'a long passphrase',
      topUp: '1.00',
    });
    const offer = expectStatus(
      await env.call('POST', '/v1/offers', {
        auth: shop.apiKey,
        body: {
          resource: '/big',
          title: 'Big',
          price: '2.00',
          category: 'content',
          accessPeriodSeconds: 0,
        },
      }),
      201,
      'offer',
    );
    assert.equal(
      (await env.call('POST', '/v1/payments', { auth: poor.user, body: { offerId: offer.id } }))
        .status,
      409,
    );
    const rows = await db.selectFrom('payer_pseudonyms').selectAll().execute();
    assert.deepEqual(
      rows.map((row) => [row.merchant_id, row.pseudonym, row.user_id]),
      [[shop.merchantId, pseudonym, shop.userId]],
    );
  });

  it('writes the payers of older payments once at start, a page at a time', async (t) => {
    const env = await startPlatformUnderTest(t, backend, { backgroundJobs: false });
    const shop = await setUpShop(env);
    const { db } = env.platform.platformDb;
    const others = await Promise.all(
      ['bo', 'cy', 'di'].map((name) =>
        signUpAndTopUp(env, {
          email: `${name}@example.com`,
          password: 'a long passphrase',
          topUp: '1.00',
        }),
      ),
    );
    for (const other of others) {
      const paid = await env.call('POST', '/v1/payments', {
        auth: other.user,
        body: { offerId: shop.offerId },
      });
      assert.equal(paid.status, 201, paid.text);
    }
    const expected = await db.selectFrom('payer_pseudonyms').selectAll().execute();
    assert.equal(expected.length, 4);
    // As a database made before the table: no pseudonyms, and the upgrade not yet run.
    await db.deleteFrom('payer_pseudonyms').execute();
    await db.deleteFrom('data_upgrades').where('name', '=', pastPayersUpgrade).execute();
    const payers = createPayerPseudonyms({
      db,
      pseudonym: env.platform.services.payments.pseudonym,
    });
    assert.equal(await payers.recordPastPayers(Date.now(), 3), 4);
    const written = await db.selectFrom('payer_pseudonyms').selectAll().execute();
    const pairs = (rows: typeof written) =>
      rows.map((row) => `${row.merchant_id} ${row.pseudonym} ${row.user_id}`).sort();
    assert.deepEqual(pairs(written), pairs(expected));
    assert.equal(await payers.recordPastPayers(Date.now(), 3), 0, 'once per database');
  });
});
