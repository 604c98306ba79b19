import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import { platformAccountIds } from '../ledger/chart-of-accounts.ts';
import { receiptJwks } from '../receipts/receipt-keys.ts';
import { verifyReceipt } from '../receipts/receipts.ts';
import type { TransactionBatcher } from '../db/transaction-batcher.ts';
import { createPaymentService, paymentPendingGraceMs } from './payment-service.ts';
import { addOffer, balanceOf, insertInterruptedPayment, merchant, world } from './testing.ts';
import { openPolicyGate } from '../policy/policy-decisions.ts';
import type { StoredResponse } from '../idempotency/idempotency-store.ts';
import { testCipher } from '../privacy/personal-data-cipher.ts';

forEachDialect('payments', (dialect, it) => {
  it('pays a merchant and its co-creator minus the platform fee, with a receipt that verifies', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'News', 1_000);
    const writer = await merchant(w, 'Writer', 0);
    const offerId = await addOffer(w, seller.merchantId, {
      resource: '/articles/42',
      title: 'An article',
      priceMicros: 20_000n,
      category: 'content',
      accessPeriodSeconds: 86_400,
      splits: [
        { merchantId: seller.merchantId, shareBasisPoints: 7_000 },
        { merchantId: writer.merchantId, shareBasisPoints: 3_000 },
      ],
    });
    await w.fund(1_000_000n);
    const paid = await w.payments.pay({ userId: w.userId, offerId });
    assert.ok(paid.ok, JSON.stringify(paid));
    assert.equal(await balanceOf(w.ledger, w.wallet), 980_000n);
    assert.equal(await balanceOf(w.ledger, seller.accountId), 12_600n);
    assert.equal(await balanceOf(w.ledger, writer.accountId), 5_400n);
    assert.equal(await balanceOf(w.ledger, platformAccountIds.platformFees), 2_000n);
    const check = await verifyReceipt(paid.value.receipt, receiptJwks([w.receiptKey]));
    assert.ok(check.ok);
    assert.equal(check.value.amount, '0.02');
    assert.equal(check.value.resource, '/articles/42');
    assert.doesNotMatch(check.value.payer, new RegExp(w.userId));
    assert.equal((await w.payments.getPayment(paid.value.paymentId))?.state, 'succeeded');
    assert.deepEqual((await w.ledger.verify()).problems, []);
  });

  it('stores the answer in the same durable unit as the outcome and its webhook event', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'Shop', 0);
    const offerId = await addOffer(w, seller.merchantId, {
      resource: 'item:tip',
      title: 'A tip',
      priceMicros: 10_000n,
      accessPeriodSeconds: 0,
    });
    await w.fund(15_000n);
    const principal = `user:${w.userId}`;
    const { idempotency } = w;
    const buy = async (key: string) => {
      const request = { principal, key, method: 'POST', path: '/v1/payments', requestHash: key };
      assert.equal(await idempotency.lookup(request), undefined, 'the key is free');
      const stored: StoredResponse[] = [];
      let claims = 0;
      const respond = {
        request,
        claimed: () => void claims++,
        stored: (response: StoredResponse) => stored.push(response),
      };
      const paid = await w.payments.pay(
        { userId: w.userId, offerId, idempotencyKey: key },
        { respond },
      );
      assert.equal(claims, 1, 'the key was claimed with the pending payment');
      // Once the call returns, all three are there: the outcome, its event, the answer.
      const replay = await idempotency.begin(request);
      return { paid, stored, replay };
    };
    const first = await buy('one');
    assert.ok(first.paid.ok);
    assert.equal(first.stored.length, 1);
    assert.ok(first.replay.outcome === 'replay');
    assert.deepEqual(first.replay.status, 201);
    assert.equal(JSON.parse(first.replay.body).paymentId, first.paid.value.paymentId);
    assert.equal(first.replay.body, first.stored[0]?.body, 'the bytes the route sends');
    const events = await w.platform.db
      .selectFrom('webhook_events')
      .select('payload')
      .where('type', '=', 'payment.succeeded')
      .execute();
    assert.equal(events.length, 1);
    // A failure's answer is stored with the failed outcome too.
    const second = await buy('two');
    assert.ok(!second.paid.ok && second.paid.code === 'insufficientFunds');
    assert.ok(second.replay.outcome === 'replay');
    assert.equal(second.replay.status, 409);
    assert.match(JSON.parse(second.replay.body).type, /insufficient-funds$/);
  });

  it('claims the key with the pending payment: a key another request holds pays nothing', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'Shop', 0);
    const offerId = await addOffer(w, seller.merchantId, {
      resource: 'item:pen',
      title: 'A pen',
      priceMicros: 10_000n,
      category: 'goods',
      accessPeriodSeconds: 0,
    });
    await w.fund(15_000n);
    const key = 'held';
    const request = {
      principal: `user:${w.userId}`,
      key,
      method: 'POST',
      path: '/v1/payments',
      requestHash: key,
    };
    // Another request (another node, say) claimed the key after this one looked it up.
    assert.equal((await w.idempotency.begin(request)).outcome, 'started');
    let claims = 0;
    const respond = { request, claimed: () => void claims++, stored: () => {} };
    const paid = await w.payments.pay(
      { userId: w.userId, offerId, idempotencyKey: key },
      { respond },
    );
    assert.ok(!paid.ok && paid.code === 'idempotencyRequestInProgress', JSON.stringify(paid));
    assert.equal(claims, 0);
    assert.equal(await w.payments.findByIdempotencyKey(w.userId, key), undefined);
    assert.equal(await balanceOf(w.ledger, w.wallet), 15_000n);
  });

  it('refuses insufficient funds, unknown offers and a second purchase, moving nothing', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'Shop', 500);
    const offerId = await addOffer(w, seller.merchantId, {
      resource: 'item:sword',
      title: 'A sword',
      priceMicros: 500_000n,
      accessPeriodSeconds: 3_600,
    });
    await w.fund(400_000n);
    const poor = await w.payments.pay({ userId: w.userId, offerId });
    assert.deepEqual(poor, { ok: false, code: 'insufficientFunds' });
    assert.equal(await balanceOf(w.ledger, w.wallet), 400_000n);
    assert.equal(await balanceOf(w.ledger, seller.accountId), 0n);
    assert.deepEqual(await w.payments.pay({ userId: w.userId, offerId: 'off_nope' }), {
      ok: false,
      code: 'offerNotFound',
    });
    await w.fund(1_000_000n);
    assert.ok((await w.payments.pay({ userId: w.userId, offerId })).ok);
    const again = await w.payments.pay({ userId: w.userId, offerId });
    assert.equal(again.ok ? 'ok' : again.code, 'duplicatePayment');
    assert.equal(await balanceOf(w.ledger, w.wallet), 900_000n);
    w.clock.nowMs += 3_600_000;
    assert.ok((await w.payments.pay({ userId: w.userId, offerId })).ok, 'access ended');
  });

  it('never spends below zero under concurrent purchases', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'Shop', 0);
    const offers = [];
    for (let i = 0; i < 20; i++) {
      const offerId = await addOffer(w, seller.merchantId, {
        resource: `item:${i}`,
        title: `Item ${i}`,
        priceMicros: 100_000n,
      });
      offers.push(offerId);
    }
    await w.fund(1_000_000n);
    const results = await Promise.all(
      offers.map((offerId) => w.payments.pay({ userId: w.userId, offerId })),
    );
    assert.equal(results.filter((result) => result.ok).length, 10);
    assert.equal(await balanceOf(w.ledger, w.wallet), 0n);
    assert.equal(await balanceOf(w.ledger, seller.accountId), 1_000_000n);
  });

  it('fails the call when its outcome cannot commit; the reconciler finishes it once', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'Shop', 0);
    const offerId = await addOffer(w, seller.merchantId, {
      resource: 'item:tip',
      title: 'A tip',
      priceMicros: 10_000n,
    });
    await w.fund(100_000n);
    // The second write of a purchase (its outcome) fails, as a broken database would.
    let writes = 0;
    const failing: TransactionBatcher = {
      drain: () => w.batcher.drain(),
      run: (unit, options) =>
        ++writes === 2 ? Promise.reject(new Error('disk gone')) : w.batcher.run(unit, options),
    };
    const payments = createPaymentService({
      platform: w.platform,
      ledger: w.ledger,
      clock: () => w.clock.nowMs,
      merchants: w.merchants,
      cipher: testCipher(),
      receiptKey: w.receiptKey,
      transferIds: w.transferIds,
      policy: openPolicyGate,
      idempotency: w.idempotency,
      batcher: failing,
    });
    // No answer is given for a purchase whose outcome is not on disk.
    await assert.rejects(payments.pay({ userId: w.userId, offerId }), /disk gone/);
    const [pending] = await w.platform.db.selectFrom('payments').select(['id', 'state']).execute();
    assert.equal(pending?.state, 'pending');
    w.clock.nowMs += paymentPendingGraceMs + 1;
    assert.equal(await payments.reconcilePending(), 1);
    assert.equal((await payments.getPayment(pending?.id ?? ''))?.state, 'succeeded');
    assert.equal(await balanceOf(w.ledger, seller.accountId), 10_000n, 'paid once');
  });

  it('finishes a payment interrupted between recording it and moving the money', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'Shop', 0);
    const offerId = await addOffer(w, seller.merchantId, {
      resource: 'item:1',
      title: 'Item',
      priceMicros: 100_000n,
    });
    await w.fund(100_000n);
    await insertInterruptedPayment(w, {
      paymentId: 'pay_interrupted',
      merchant: seller,
      offerId,
      amountMicros: 100_000n,
    });
    assert.equal(await w.payments.reconcilePending(), 0, 'too recent to touch');
    w.clock.nowMs += paymentPendingGraceMs + 1;
    assert.equal(await w.payments.reconcilePending(), 1);
    assert.equal((await w.payments.getPayment('pay_interrupted'))?.state, 'succeeded');
    assert.equal(await balanceOf(w.ledger, seller.accountId), 100_000n);
    assert.equal(await w.payments.reconcilePending(), 0);
    assert.equal(await balanceOf(w.ledger, seller.accountId), 100_000n, 'never twice');
  });
});
