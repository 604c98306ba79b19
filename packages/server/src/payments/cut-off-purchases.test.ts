import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import { purchaseRequest } from './cut-off-purchases.ts';
import { paymentPendingGraceMs } from './payment-service.ts';
import { addOffer, balanceOf, insertInterruptedPayment, merchant, world } from './testing.ts';

forEachDialect('purchases cut off by a crash', (dialect, it) => {
  it('answer a retry with their outcome once reconciled, and never pay twice', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'News', 0);
    const offerId = await addOffer(w, seller.merchantId, { priceMicros: 50_000n });
    const otherOfferId = await addOffer(w, seller.merchantId, {
      priceMicros: 10_000n,
      resource: '/other',
    });
    await w.fund(80_000n);
    const { idempotency, cutOffPurchases: cutOff } = w.services;
    const principal = `user:${w.userId}`;
    const claim = (key: string) =>
      idempotency.begin({ principal, key, ...purchaseRequest, requestHash: `hash-${key}` });
    // Killed after the payment was recorded, and killed before anything was.
    assert.equal((await claim('paid-then-killed')).outcome, 'started');
    await insertInterruptedPayment(w, {
      paymentId: 'pay_cut_short',
      merchant: seller,
      offerId,
      amountMicros: 50_000n,
      idempotencyKey: 'paid-then-killed',
    });
    assert.equal((await claim('killed-first')).outcome, 'started');

    // Too recent: it may still be running.
    assert.equal(await cutOff.answerCutOff(), 0);
    assert.equal((await claim('paid-then-killed')).outcome, 'inProgress');

    w.clock.nowMs += paymentPendingGraceMs + 1;
    // The payment is still pending until the reconciler finishes it.
    assert.equal(await cutOff.answerCutOff(), 1, 'only the record without a payment');
    assert.equal((await claim('killed-first')).outcome, 'started', 'runs anew');
    assert.equal(await w.payments.reconcilePending(), 1);
    assert.equal(await cutOff.answerCutOff(), 1);
    const replay = await claim('paid-then-killed');
    assert.ok(replay.outcome === 'replay', replay.outcome);
    assert.equal(replay.status, 201);
    const body = JSON.parse(replay.body) as { paymentId: string; receipt: string };
    assert.equal(body.paymentId, 'pay_cut_short');
    assert.match(body.receipt, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(await cutOff.answerCutOff(), 0, 'answered once');

    // A retry long after the idempotency record is gone finds the purchase by its key.
    const retry = await w.payments.pay({
      userId: w.userId,
      offerId,
      idempotencyKey: 'paid-then-killed',
    });
    assert.ok(retry.ok);
    assert.equal(retry.value.paymentId, 'pay_cut_short');
    assert.equal(retry.value.receipt, body.receipt, 'the same receipt');
    const reused = await w.payments.pay({
      userId: w.userId,
      offerId: otherOfferId,
      idempotencyKey: 'paid-then-killed',
    });
    assert.ok(!reused.ok && reused.code === 'idempotencyKeyReused');
    assert.equal(await balanceOf(w.ledger, seller.accountId), 50_000n, 'paid once');
  });
});
