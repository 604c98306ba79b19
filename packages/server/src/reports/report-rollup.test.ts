import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import { platformAccountIds } from '../ledger/chart-of-accounts.ts';
import { paymentPendingGraceMs } from '../payments/payment-service.ts';
import {
  addOffer,
  balanceOf,
  insertInterruptedPayment,
  merchant,
  world,
} from '../payments/testing.ts';
import { dayMs } from './report-periods.ts';
import { createReportRollup, idTimeMs, type ReportRollupDeps } from './report-rollup.ts';
import { createReportService } from './report-service.ts';

type World = Awaited<ReturnType<typeof world>>;

/**
 * A seller (10% fee) with an offer split 70/30 with a writer and one of its own, the writer
 * (5% fee) with one of its own, and the world's user funded to buy them.
 */
async function shops(w: World) {
  const seller = await merchant(w, 'Shop', 1_000);
  const writer = await merchant(w, 'Writer', 500);
  const offer = (merchantId: string, priceMicros: bigint, splits?: [string, number][]) =>
    addOffer(w, merchantId, {
      priceMicros,
      accessPeriodSeconds: 0,
      ...(splits === undefined
        ? {}
        : {
            splits: splits.map(([id, shareBasisPoints]) => ({ merchantId: id, shareBasisPoints })),
          }),
    });
  const shared = await offer(seller.merchantId, 1_000_003n, [
    [seller.merchantId, 7_000],
    [writer.merchantId, 3_000],
  ]);
  const own = await offer(seller.merchantId, 250_000n);
  const writers = await offer(writer.merchantId, 40_001n);
  await w.fund(100_000_000n);
  const pay = async (offerId: string) => {
    const paid = await w.payments.pay({ userId: w.userId, offerId });
    assert.ok(paid.ok, paid.ok ? '' : paid.code);
    return paid.value.paymentId;
  };
  return { seller, writer, shared, own, writers, pay };
}

/** Runs until a run says nothing more is waiting; the number of runs. */
async function runAll(rollup: { runOnce(): Promise<boolean> }): Promise<number> {
  let runs = 1;
  while (await rollup.runOnce()) runs++;
  return runs;
}

/** Everything the totals hold, in a fixed order, to compare one state with another. */
async function totalsOf(w: World) {
  const db = w.platform.db;
  return {
    days: await db
      .selectFrom('report_day_totals')
      .selectAll()
      .orderBy('merchant_id')
      .orderBy('day_at')
      .execute(),
    offers: await db
      .selectFrom('report_offer_day_totals')
      .selectAll()
      .orderBy('merchant_id')
      .orderBy('day_at')
      .orderBy('offer_id')
      .execute(),
  };
}

/** A rollup that reads every row at once (no settling margin), as a test's explicit runs want. */
function rollupFor(w: World, options: Omit<ReportRollupDeps, 'platform'> = {}) {
  return createReportRollup({ platform: w.platform, settleMs: 0, ...options });
}

forEachDialect('report rollup', (dialect, it) => {
  it('counts each merchant by its own leg, subtracts refunds, and matches the ledger', async (t) => {
    const w = await world(t, dialect);
    const { seller, writer, shared, own, writers, pay } = await shops(w);
    const firstDay = w.clock.nowMs;
    const sharedPaid = await pay(shared);
    await pay(own);
    await pay(writers);
    w.clock.nowMs += dayMs;
    await pay(shared);
    const refunded = await w.refunds.refund({
      paymentId: sharedPaid,
      amountMicros: 333_333n,
      authority: { kind: 'merchant', merchantId: seller.merchantId },
    });
    assert.ok(refunded.ok);
    await runAll(rollupFor(w));

    const reports = createReportService({ platform: w.platform });
    const fromDayMs = Math.floor(firstDay / dayMs) * dayMs;
    const earnings = async (merchantId: string) => {
      const report = await reports.earnings({
        merchantId,
        interval: 'day',
        fromDayMs,
        toDayMs: fromDayMs + dayMs,
      });
      assert.ok(report.ok);
      return report.value;
    };
    const sellerDays = await earnings(seller.merchantId);
    const writerDays = await earnings(writer.merchantId);
    // The seller had a leg in three payments, the writer in three (two shared, one its own).
    assert.deepEqual(
      sellerDays.map((day) => day.paymentCount),
      [2n, 1n],
    );
    assert.deepEqual(
      writerDays.map((day) => day.paymentCount),
      [2n, 1n],
    );
    // The refund counts on its own day (the second), for both merchants that paid a part.
    assert.deepEqual(
      sellerDays.map((day) => day.refundCount),
      [0n, 1n],
    );
    assert.deepEqual(
      writerDays.map((day) => day.refundCount),
      [0n, 1n],
    );
    const sum = (days: typeof sellerDays, pick: (day: (typeof sellerDays)[number]) => bigint) =>
      days.reduce((total, day) => total + pick(day), 0n);
    for (const [days, account] of [
      [sellerDays, seller.accountId],
      [writerDays, writer.accountId],
    ] as const) {
      // What the merchant kept is exactly what its ledger account holds.
      assert.equal(
        sum(days, (day) => day.netMicros - day.refundedMicros),
        await balanceOf(w.ledger, account),
      );
      for (const day of days) assert.equal(day.grossMicros, day.netMicros + day.feeMicros);
    }
    // The fees of both add up to what the platform's fee account was credited.
    const [feeAccount] = await w.ledger.lookupAccounts([platformAccountIds.platformFees]);
    assert.equal(
      sum(sellerDays, (day) => day.feeMicros) + sum(writerDays, (day) => day.feeMicros),
      feeAccount?.creditsPosted,
    );
    // And the gross of both is what was paid: 2 x 1.000003 + 0.25 + 0.040001.
    assert.equal(
      sum(sellerDays, (day) => day.grossMicros) + sum(writerDays, (day) => day.grossMicros),
      2n * 1_000_003n + 250_000n + 40_001n,
    );

    // The writer's list shows the seller's payments it got a share of; the seller's needs none.
    const shares = await w.platform.db
      .selectFrom('report_payment_shares')
      .select(['merchant_id', 'payment_id'])
      .execute();
    assert.equal(shares.length, 2);
    assert.ok(shares.every((share) => share.merchant_id === writer.merchantId));
    assert.ok(shares.some((share) => share.payment_id === sharedPaid));

    const top = await reports.topOffers({
      merchantId: seller.merchantId,
      fromDayMs,
      toDayMs: fromDayMs + dayMs,
      limit: 10,
    });
    assert.ok(top.ok);
    assert.deepEqual(
      top.value.map((offer) => [offer.offerId, offer.paymentCount]),
      [
        [shared, 2n],
        [own, 1n],
      ],
    );
    const writerTop = await reports.topOffers({
      merchantId: writer.merchantId,
      fromDayMs,
      toDayMs: fromDayMs + dayMs,
      limit: 1,
    });
    assert.ok(writerTop.ok);
    // The writer's 30% of two shared sales, less its part of the refund, beats its own 0.04.
    assert.deepEqual(
      writerTop.value.map((offer) => offer.offerId),
      [shared],
    );
  });

  it('counts nothing twice: run again, after a crash between pages, or on two nodes at once', async (t) => {
    const w = await world(t, dialect);
    const { own, writers, pay } = await shops(w);
    for (let i = 0; i < 5; i++) {
      await pay(i % 2 === 0 ? own : writers);
      w.clock.nowMs += 3_600_000;
    }
    const reference = createReportRollup({ platform: w.platform, settleMs: 0 });
    await runAll(reference);
    const expected = await totalsOf(w);
    assert.equal(await reference.runOnce(), false);
    assert.deepEqual(await totalsOf(w), expected);

    // Start again from nothing, two rows a page, and crash inside the second page's transaction.
    await w.platform.db.deleteFrom('report_day_totals').execute();
    await w.platform.db.deleteFrom('report_offer_day_totals').execute();
    await w.platform.db
      .updateTable('report_rollup_state')
      .set({ payments_after_id: '', refunds_after_id: '' })
      .execute();
    let commits = 0;
    const crashing = rollupFor(w, {
      pageRows: 2,
      beforeCommit: () => {
        if (++commits === 2) throw new Error('crash');
      },
    });
    assert.equal(await crashing.runOnce(), true);
    await assert.rejects(crashing.runOnce(), /crash/);
    // A new process carries on from the last page committed.
    const restarted = rollupFor(w, { pageRows: 2 });
    assert.equal(await runAll(restarted), 2);
    assert.deepEqual(await totalsOf(w), expected);

    // Two nodes, their runs at once, over new payments: each payment counted once.
    for (let i = 0; i < 6; i++) await pay(own);
    const nodes = [rollupFor(w, { pageRows: 2 }), rollupFor(w, { pageRows: 2 })];
    for (let round = 0; round < 8; round++) await Promise.all(nodes.map((node) => node.runOnce()));
    assert.equal(await nodes[0]?.runOnce(), false);
    const days = (await totalsOf(w)).days;
    const counted = days.reduce((total, day) => total + day.payment_count, 0n);
    assert.equal(counted, 11n);
  });

  it('waits for a payment passed while pending, and folds it in once it completes', async (t) => {
    const w = await world(t, dialect);
    const { seller, own } = await shops(w);
    await insertInterruptedPayment(w, {
      paymentId: 'pay_cut_short',
      merchant: seller,
      offerId: own,
      amountMicros: 250_000n,
    });
    const rollup = rollupFor(w);
    await runAll(rollup);
    const waiting = () => w.platform.db.selectFrom('report_rollup_waiting').selectAll().execute();
    assert.deepEqual(await waiting(), [{ kind: 'payment', id: 'pay_cut_short' }]);
    assert.deepEqual((await totalsOf(w)).days, []);
    w.clock.nowMs += paymentPendingGraceMs + 1;
    assert.equal(await w.payments.reconcilePending(), 1);
    await runAll(rollup);
    assert.deepEqual(await waiting(), []);
    const [day] = (await totalsOf(w)).days;
    assert.equal(day?.payment_count, 1n);
    assert.equal(day?.net_micros, 250_000n);
    assert.equal(day?.net_micros, await balanceOf(w.ledger, seller.accountId));
  });

  it('looks at rows waiting for good in turn with the others, a page per run', async (t) => {
    const w = await world(t, dialect);
    const { seller, own, pay } = await shops(w);
    const paymentId = await pay(own);
    // Two refunds a crash left pending (nothing finishes a refund cut short); one finishes later.
    const legs = JSON.stringify([
      { transferId: '1', debitAccountId: seller.accountId.toString(), amountMicros: '1000' },
    ]);
    for (const id of ['ref_a_stuck', 'ref_b_later']) {
      await w.platform.db
        .insertInto('refunds')
        .values({
          id,
          payment_id: paymentId,
          merchant_id: seller.merchantId,
          amount_micros: '1000',
          state: 'pending',
          failure_code: null,
          requested_by: `merchant:${seller.merchantId}`,
          reason: null,
          legs,
          created_at: BigInt(w.clock.nowMs),
          completed_at: null,
        })
        .execute();
    }
    const rollup = rollupFor(w, { pageRows: 1 });
    await runAll(rollup);
    await runAll(rollup);
    const waiting = () =>
      w.platform.db.selectFrom('report_rollup_waiting').select('id').orderBy('id').execute();
    assert.deepEqual(await waiting(), [{ id: 'ref_a_stuck' }, { id: 'ref_b_later' }]);
    await w.platform.db
      .updateTable('refunds')
      .set({ state: 'succeeded', completed_at: BigInt(w.clock.nowMs) })
      .where('id', '=', 'ref_b_later')
      .execute();
    // The stuck one sorts first: a job that always looked at the first page would never see it.
    for (let run = 0; run < 3; run++) await rollup.runOnce();
    assert.deepEqual(await waiting(), [{ id: 'ref_a_stuck' }]);
    const [day] = (await totalsOf(w)).days;
    assert.equal(day?.refund_count, 1n);
    assert.equal(day?.refunded_micros, 1000n);
    // The row that waits for good does not keep the job running.
    assert.equal(await rollup.runOnce(), false);
  });

  it('reads a row only once its id is settleMs old', async (t) => {
    const w = await world(t, dialect);
    const { own, pay } = await shops(w);
    const paymentId = await pay(own);
    const idMs = idTimeMs(paymentId);
    assert.ok(Math.abs(idMs - Date.now()) < 60_000, 'a payment id holds the time it was drawn');
    const at = { nowMs: idMs };
    const rollup = rollupFor(w, { settleMs: 2_000, idClock: () => at.nowMs });
    await runAll(rollup);
    assert.deepEqual((await totalsOf(w)).days, []);
    at.nowMs += 2_000;
    await runAll(rollup);
    assert.equal((await totalsOf(w)).days[0]?.payment_count, 1n);
  });
});
