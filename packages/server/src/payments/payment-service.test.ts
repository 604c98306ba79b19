import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import { platformAccountIds } from '../ledger/chart-of-accounts.ts';
import { receiptJwks } from '../receipts/receipt-keys.ts';
import { verifyReceipt } from '../receipts/receipts.ts';
import type { TransactionBatcher } from '../db/transaction-batcher.ts';
import { createPaymentService, paymentPendingGraceMs } from './payment-service.ts';
import type { Ledger } from '@mite/ledger';
import { addOffer, balanceOf, insertInterruptedPayment, merchant, world } from './testing.ts';

type World = Awaited<ReturnType<typeof world>>;
import { openPolicyGate } from '../policy/policy-decisions.ts';
import { purchaseResponse } from './purchase-response.ts';
import { testCipher } from '../privacy/personal-data-cipher.ts';
import { noRiskRules } from '../platform-testing.ts';

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

  it('answers a retry under the same key from its payment, the same bytes, paying nothing', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'Shop', 0);
    const offerId = await addOffer(w, seller.merchantId, {
      resource: 'item:tip',
      title: 'A tip',
      priceMicros: 10_000n,
      accessPeriodSeconds: 0,
    });
    const otherOfferId = await addOffer(w, seller.merchantId, {
      resource: 'item:other',
      priceMicros: 10_000n,
    });
    await w.fund(15_000n);
    const buy = (idempotencyKey: string, offer = offerId) =>
      w.payments.pay({ userId: w.userId, offerId: offer, idempotencyKey });
    const first = await buy('one');
    assert.ok(first.ok && first.replayed === undefined);
    // A late retry (long after any idempotency record would be gone) is the same answer again.
    w.clock.nowMs += 7 * 24 * 60 * 60 * 1000;
    const retry = await buy('one');
    assert.ok(retry.ok && retry.replayed === true);
    assert.equal(purchaseResponse(retry).body, purchaseResponse(first).body);
    // A failure's answer too: its problem document names no occurrence.
    const poor = await buy('two');
    assert.ok(!poor.ok && poor.code === 'insufficientFunds' && !('replayed' in poor));
    const poorRetry = await buy('two');
    assert.ok('replayed' in poorRetry && poorRetry.replayed === true);
    assert.equal(purchaseResponse(poorRetry).body, purchaseResponse(poor).body);
    // The key on another purchase is refused; nothing moved but the one payment.
    const reused = await buy('one', otherOfferId);
    assert.equal(reused.ok ? 'ok' : reused.code, 'idempotencyKeyReused');
    assert.equal(await balanceOf(w.ledger, w.wallet), 5_000n);
    const events = await w.platform.db
      .selectFrom('webhook_events')
      .select('payload')
      .where('type', '=', 'payment.succeeded')
      .execute();
    assert.equal(events.length, 1);
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
    // Twenty purchases at once by one user: the race is under test, not the velocity rules.
    const w = await world(t, dialect, { riskRules: noRiskRules });
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
    const payments = paymentServiceOver(w, { batcher: batcherFailingWrite(w, 2) });
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

  it('fails a payment whose chain failed before a crash, which the ledger keeps failed', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'Shop', 0);
    const offerId = await addOffer(w, seller.merchantId, {
      resource: 'item:1',
      title: 'Item',
      priceMicros: 10_000n,
    });
    await w.fund(5_000n);
    // The chain fails (the wallet holds too little), then the outcome's write is lost.
    const payments = paymentServiceOver(w, { batcher: batcherFailingWrite(w, 2) });
    await assert.rejects(payments.pay({ userId: w.userId, offerId }), /disk gone/);
    w.clock.nowMs += paymentPendingGraceMs + 1;
    // Resubmitted, the chain's ids answer idAlreadyFailed: the payment fails as it would have.
    assert.equal(await w.payments.reconcilePending(), 1);
    const [row] = await w.platform.db.selectFrom('payments').selectAll().execute();
    assert.equal(row?.state, 'failed');
    assert.equal(row?.failure_code, 'insufficientFunds');
    assert.equal(await balanceOf(w.ledger, seller.accountId), 0n);
    assert.equal(await w.payments.reconcilePending(), 0);
  });

  it('answers a purchase whose chain the reconciler made first as paid, once', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'Shop', 0);
    const offerId = await addOffer(w, seller.merchantId, {
      resource: 'item:1',
      title: 'Item',
      priceMicros: 10_000n,
    });
    await w.fund(100_000n);
    // The request's ledger call lands after another node's reconciler took the payment over.
    const late: Ledger = {
      ...ledgerOf(w),
      createTransfers: async (transfers) => {
        w.clock.nowMs += paymentPendingGraceMs + 1;
        assert.equal(await w.payments.reconcilePending(), 1);
        return w.ledger.createTransfers(transfers);
      },
    };
    const answer = await paymentServiceOver(w, { ledger: late }).pay({ userId: w.userId, offerId });
    assert.equal(answer.ok, true);
    const [row] = await w.platform.db.selectFrom('payments').selectAll().execute();
    assert.equal(row?.state, 'succeeded');
    assert.equal(await balanceOf(w.ledger, seller.accountId), 10_000n, 'paid once');
    const events = await w.platform.db
      .selectFrom('webhook_events')
      .select('type')
      .where('type', '=', 'payment.succeeded')
      .execute();
    assert.equal(events.length, 1, 'announced once');
  });
});

/** The world's ledger, method by method, for a test to replace one of them. */
function ledgerOf(w: World): Ledger {
  return {
    createAccounts: (accounts) => w.ledger.createAccounts(accounts),
    createTransfers: (transfers) => w.ledger.createTransfers(transfers),
    lookupAccounts: (ids) => w.ledger.lookupAccounts(ids),
    lookupTransfers: (ids) => w.ledger.lookupTransfers(ids),
    getAccountTransfers: (filter) => w.ledger.getAccountTransfers(filter),
    verify: () => w.ledger.verify(),
    close: async () => {},
  };
}

/** The world's batcher, except that its `nth` unit fails as a broken disk would. */
function batcherFailingWrite(w: World, nth: number): TransactionBatcher {
  let writes = 0;
  return {
    drain: () => w.batcher.drain(),
    run: (unit) =>
      ++writes === nth ? Promise.reject(new Error('disk gone')) : w.batcher.run(unit),
  };
}

/** A second payment service over the world's stores (another node), with parts replaced. */
function paymentServiceOver(
  w: World,
  parts: { readonly ledger?: Ledger; readonly batcher?: TransactionBatcher },
) {
  return createPaymentService({
    platform: w.platform,
    ledger: parts.ledger ?? w.ledger,
    clock: () => w.clock.nowMs,
    merchants: w.merchants,
    cipher: testCipher(),
    receiptKey: w.receiptKey,
    transferIds: w.transferIds,
    policy: openPolicyGate,
    limits: w.services.limits,
    batcher: parts.batcher ?? w.batcher,
  });
}
