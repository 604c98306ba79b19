import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { forEachDialect } from '../db/testing.ts';
import {
  createIdempotencyStore,
  idempotencyRetentionMs,
} from '../idempotency/idempotency-store.ts';
import { paymentPendingGraceMs } from '../payments/payment-service.ts';
import {
  addOffer,
  balanceOf,
  insertInterruptedPayment,
  merchant,
  world,
} from '../payments/testing.ts';
import { enqueueWebhookEvent } from '../webhooks/outbox.ts';
import { createWebhookRetention, webhookEventRetentionMs } from '../webhooks/webhook-retention.ts';
import { startPlatformJobs } from './platform-jobs.ts';
import { testCipher } from '../privacy/personal-data-cipher.ts';
import { createCutOffPurchases } from '../payments/cut-off-purchases.ts';

const quietLogger = { info: () => {}, error: () => {} };

/** Polls `check` every few milliseconds until it holds, for at most `timeoutMs`. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, 'the background job did not get there in time');
    await sleep(10);
  }
}

forEachDialect('background jobs', (dialect, it) => {
  it('finish an interrupted payment once and delete expired idempotency records and webhook events', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'News', 0);
    const offerId = await addOffer(w, seller.merchantId, { priceMicros: 50_000n });
    await w.fund(50_000n);
    await insertInterruptedPayment(w, {
      paymentId: 'pay_cut_short',
      merchant: seller,
      offerId,
      amountMicros: 50_000n,
    });
    const idempotency = createIdempotencyStore(w.platform, {
      clock: () => w.clock.now,
      cipher: testCipher(),
    });
    const record = { principal: 'user:u', key: 'k', method: 'POST', path: '/v1/payments' };
    assert.equal((await idempotency.begin({ ...record, requestHash: 'h' })).outcome, 'started');
    const eventId = await w.platform.db.transaction().execute((tx) =>
      enqueueWebhookEvent(tx, {
        merchantId: seller.merchantId,
        type: 'payment.succeeded',
        payload: { paymentId: 'pay_earlier' },
        now: w.clock.now,
      }),
    );
    const webhookRetention = createWebhookRetention({
      platform: w.platform,
      clock: () => w.clock.now,
    });
    let topUpRuns = 0;
    const jobs = startPlatformJobs({
      payments: w.payments,
      cutOffPurchases: createCutOffPurchases({ ...w, idempotency, clock: () => w.clock.now }),
      // Top-ups have their own reconciler test; here only that the job calls it.
      topUps: { reconcilePending: async () => (topUpRuns++, 0) },
      idempotency,
      webhookRetention,
      logger: quietLogger,
      intervalsMs: { reconcile: 20, purge: 20 },
    });
    // Stopped at the end of the test, before the database closes: after-hooks run in the order
    // they were added (the database's first), and a transaction begun on a closed PostgreSQL
    // pool never settles. This hook is for a test that fails on the way.
    t.after(() => jobs.stop());
    await eventually(async () => topUpRuns >= 2);
    // Runs so far found the payment too recent (it may still be in flight) and the record live.
    assert.equal((await w.payments.getPayment('pay_cut_short'))?.state, 'pending');
    const events = () => w.platform.db.selectFrom('webhook_events').select('id').execute();
    assert.ok((await events()).some((event) => event.id === eventId));
    w.clock.now +=
      Math.max(paymentPendingGraceMs, idempotencyRetentionMs, webhookEventRetentionMs) + 1;
    await eventually(
      async () => (await w.payments.getPayment('pay_cut_short'))?.state === 'succeeded',
    );
    const records = () => w.platform.db.selectFrom('idempotency_records').selectAll().execute();
    await eventually(async () => (await records()).length === 0);
    await eventually(async () => !(await events()).some((event) => event.id === eventId));
    // More runs move nothing more: the seller was paid once.
    const runs = topUpRuns;
    await eventually(async () => topUpRuns >= runs + 3);
    assert.equal(await balanceOf(w.ledger, seller.accountId), 50_000n);
    await jobs.stop();
  });
});
