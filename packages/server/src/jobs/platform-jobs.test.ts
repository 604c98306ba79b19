import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forEachDialect } from '../db/testing.ts';
import { idempotencyRetentionMs } from '../idempotency/idempotency-store.ts';
import { paymentPendingGraceMs } from '../payments/payment-service.ts';
import {
  addOffer,
  balanceOf,
  insertInterruptedPayment,
  insertInterruptedRefund,
  merchant,
  world,
} from '../payments/testing.ts';
import { enqueueWebhookEvent } from '../webhooks/outbox.ts';
import { webhookEventRetentionMs } from '../webhooks/webhook-retention.ts';
import type { JobTimers } from './periodic-job.ts';
import { retentionPurgeIntervalMs, startPlatformJobs } from './platform-jobs.ts';

type World = Awaited<ReturnType<typeof world>>;

/**
 * Timers that fire only when the test moves time on: given to the jobs alone, so that the database
 * drivers keep their real ones.
 */
function fakeJobTimers() {
  let nowMs = 0;
  const due = new Set<{ atMs: number; callback: () => void }>();
  const timers: JobTimers = {
    after(delayMs, callback) {
      const timer = { atMs: nowMs + delayMs, callback };
      due.add(timer);
      return () => due.delete(timer);
    },
  };
  const tick = (elapseMs: number) => {
    nowMs += elapseMs;
    for (const timer of [...due].filter((each) => each.atMs <= nowMs)) {
      due.delete(timer);
      timer.callback();
    }
  };
  return { timers, tick };
}

/**
 * The platform's jobs over the world's services, on fake timers: `round()` moves time on by the
 * longest interval and resolves once each job has run once more, so the test waits for work, not
 * for time. Each run's end is seen through its last call; a failed run fails the test.
 */
function jobsOnFakeTimers(w: World) {
  const { timers, tick } = fakeJobTimers();
  const ended = { reconcile: 0, purge: 0, rollup: 0, topUps: 0 };
  let failure: unknown;
  let wake = () => {};
  const end = (job: 'reconcile' | 'purge' | 'rollup') => {
    ended[job]++;
    wake();
  };
  const { webhookRetention, reportRollup } = w.services;
  const jobs = startPlatformJobs({
    payments: w.payments,
    refunds: w.refunds,
    // Top-ups have their own reconciler test; here only that the job calls it, last in its run.
    topUps: {
      reconcilePending: async () => {
        ended.topUps++;
        end('reconcile');
        return 0;
      },
    },
    idempotency: w.idempotency,
    tokenDeposits: w.services.tokenDeposits,
    spentTokens: w.services.spentTokens,
    reportRollup: { runOnce: () => reportRollup.runOnce().finally(() => end('rollup')) },
    webhookRetention: {
      purgeExpired: () => webhookRetention.purgeExpired().finally(() => end('purge')),
    },
    timers,
    logger: {
      info: () => {},
      error: (error: unknown) => {
        failure = error;
        wake();
      },
    },
  });
  const runs = async (elapseMs: number) => {
    const target = {
      reconcile: ended.reconcile + 1,
      purge: ended.purge + 1,
      rollup: ended.rollup + 1,
    };
    tick(elapseMs);
    while (
      ended.reconcile < target.reconcile ||
      ended.purge < target.purge ||
      ended.rollup < target.rollup
    ) {
      if (failure !== undefined) throw failure;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    // Lets each job schedule its next run, which it does once its run's promise has settled.
    await new Promise((resolve) => setImmediate(resolve));
  };
  return {
    ended,
    /** The first runs, at once on start. */
    first: () => runs(0),
    /** One more run of each job. */
    round: () => runs(retentionPurgeIntervalMs),
    stop: () => jobs.stop(),
  };
}

forEachDialect('background jobs', (dialect, it) => {
  it('finish an interrupted payment and refund once and delete expired idempotency records and webhook events', async (t) => {
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
    // A refund of part of it, cut short the same way.
    await insertInterruptedRefund(w, {
      refundId: 'ref_cut_short',
      paymentId: 'pay_cut_short',
      merchant: seller,
      amountMicros: 20_000n,
    });
    const refundState = async () =>
      (
        await w.platform.db
          .selectFrom('refunds')
          .select('state')
          .where('id', '=', 'ref_cut_short')
          .executeTakeFirstOrThrow()
      ).state;
    const record = { principal: 'user:u', key: 'k', method: 'POST', path: '/v1/payments' };
    assert.equal((await w.idempotency.begin({ ...record, requestHash: 'h' })).outcome, 'started');
    const eventId = await w.platform.db.transaction().execute((tx) =>
      enqueueWebhookEvent(tx, {
        merchantId: seller.merchantId,
        type: 'payment.succeeded',
        payload: { paymentId: 'pay_earlier' },
        nowMs: w.clock.nowMs,
      }),
    );
    const jobs = jobsOnFakeTimers(w);
    // Stopped at the end of the test, before the platform closes: after-hooks run in the order
    // they were added (the platform's first), and a transaction begun on a closed PostgreSQL
    // pool never settles. This hook is for a test that fails on the way.
    t.after(() => jobs.stop());
    await jobs.first();
    await jobs.round();
    assert.equal(jobs.ended.topUps, 2);
    // Runs so far found the payment too recent (it may still be in flight) and the record and
    // the event live.
    assert.equal((await w.payments.getPayment('pay_cut_short'))?.state, 'pending');
    assert.equal(await refundState(), 'pending');
    const events = () => w.platform.db.selectFrom('webhook_events').select('id').execute();
    const records = () => w.platform.db.selectFrom('idempotency_records').selectAll().execute();
    assert.ok((await events()).some((event) => event.id === eventId));
    assert.equal((await records()).length, 1);
    w.clock.nowMs +=
      Math.max(paymentPendingGraceMs, idempotencyRetentionMs, webhookEventRetentionMs) + 1;
    await jobs.round();
    assert.equal((await w.payments.getPayment('pay_cut_short'))?.state, 'succeeded');
    assert.equal(await refundState(), 'succeeded');
    assert.equal((await records()).length, 0);
    assert.ok(!(await events()).some((event) => event.id === eventId));
    // More runs move nothing more: the seller was paid once and paid the refund back once.
    await jobs.round();
    await jobs.round();
    assert.equal(jobs.ended.topUps, 5);
    assert.equal(await balanceOf(w.ledger, seller.accountId), 30_000n);
    assert.equal(await balanceOf(w.ledger, w.wallet), 20_000n);
    const refundEvents = await w.platform.db
      .selectFrom('webhook_events')
      .select('payload')
      .where('type', '=', 'refund.succeeded')
      .execute();
    assert.deepEqual(
      refundEvents.map((event) => (JSON.parse(event.payload) as { refundId: string }).refundId),
      ['ref_cut_short'],
    );
    // The report rollup, run with the others, counted both once too.
    const totals = await w.platform.db.selectFrom('report_day_totals').selectAll().execute();
    assert.deepEqual(
      totals.map((day) => [
        day.merchant_id,
        day.payment_count,
        day.net_micros,
        day.refund_count,
        day.refunded_micros,
      ]),
      [[seller.merchantId, 1n, 50_000n, 1n, 20_000n]],
    );
    await jobs.stop();
  });
});

describe('the purchase compaction job', () => {
  it('runs again at once while a run says more are due, else after the interval', async () => {
    const { timers, tick } = fakeJobTimers();
    let runs = 0;
    let wake = () => {};
    const idle = async () => 0;
    const jobs = startPlatformJobs({
      payments: { reconcilePending: idle },
      refunds: { reconcilePending: idle },
      topUps: { reconcilePending: idle },
      tokenDeposits: { reconcilePending: idle },
      idempotency: { purgeExpired: idle },
      spentTokens: { purgeExpired: idle },
      webhookRetention: { purgeExpired: idle },
      reportRollup: { runOnce: async () => false },
      purchaseCompaction: {
        runOnce: async () => {
          runs++;
          wake();
          return { compacted: runs === 1 ? 500 : 0, more: runs === 1 };
        },
      },
      timers,
      logger: { info: () => {}, error: () => {} },
    });
    const runsReach = async (count: number) => {
      while (runs < count) await new Promise<void>((resolve) => (wake = resolve));
      // Lets the job schedule its next run, which it does once its run's promise has settled.
      await new Promise((resolve) => setImmediate(resolve));
    };
    tick(0);
    await runsReach(1);
    tick(0);
    await runsReach(2);
    tick(retentionPurgeIntervalMs - 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(runs, 2, 'no run before the interval once nothing more is due');
    tick(1);
    await runsReach(3);
    await jobs.stop();
  });
});
