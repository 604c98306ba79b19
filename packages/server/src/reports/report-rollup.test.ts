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
import { uuidv7 } from 'uuidv7';
import { dayMs } from './report-periods.ts';
import {
  createReportRollup,
  idTimeMs,
  type ReportRollupDeps,
  reportRollupLookbackMs,
} from './report-rollup.ts';
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

/** The number of payments the totals hold, over every merchant and day. */
async function paymentsCounted(w: World): Promise<bigint> {
  const { days } = await totalsOf(w);
  return days.reduce((total, day) => total + day.payment_count, 0n);
}

/** The idClock of a node once every id drawn so far is past the sweep's lookback. */
const afterLookback = () => Date.now() + reportRollupLookbackMs + 1;

/**
 * A rollup whose head reads every row at once (no settling margin), as a test's explicit runs
 * want; its sweep reads a row again once its id is reportRollupLookbackMs old.
 */
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

  it('counts nothing twice: run again, swept, after a crash between pages, or on two nodes at once', async (t) => {
    const w = await world(t, dialect);
    const { own, writers, pay } = await shops(w);
    for (let i = 0; i < 5; i++) {
      await pay(i % 2 === 0 ? own : writers);
      w.clock.nowMs += 3_600_000;
    }
    const reference = rollupFor(w);
    await runAll(reference);
    const expected = await totalsOf(w);
    assert.equal(await reference.runOnce(), false);
    assert.deepEqual(await totalsOf(w), expected);
    // The sweep reads every row again once it is old enough: each is counted already.
    const sweeping = rollupFor(w, { idClock: afterLookback });
    await runAll(sweeping);
    await runAll(sweeping);
    assert.deepEqual(await totalsOf(w), expected);

    // Start again from nothing, two rows a page, head and sweep reading the same rows in each
    // run, and crash inside the second page's transaction.
    for (const table of [
      'report_day_totals',
      'report_offer_day_totals',
      'report_rollup_counted',
    ] as const) {
      await w.platform.db.deleteFrom(table).execute();
    }
    await w.platform.db
      .updateTable('report_rollup_state')
      .set({ payments_after_id: '', refunds_after_id: '', payments_swept_id: '' })
      .execute();
    let commits = 0;
    const crashing = rollupFor(w, {
      pageRows: 2,
      idClock: afterLookback,
      beforeCommit: () => {
        if (++commits === 2) throw new Error('crash');
      },
    });
    assert.equal(await crashing.runOnce(), true);
    await assert.rejects(crashing.runOnce(), /crash/);
    // A new process carries on from the last page committed.
    const restarted = rollupFor(w, { pageRows: 2, idClock: afterLookback });
    assert.equal(await runAll(restarted), 2);
    assert.deepEqual(await totalsOf(w), expected);

    // Two nodes, their runs at once, over new payments: each payment counted once, by the heads
    // and then again by the sweeps.
    for (let i = 0; i < 6; i++) await pay(own);
    const nodes = [rollupFor(w, { pageRows: 2 }), rollupFor(w, { pageRows: 2 })];
    for (let round = 0; round < 8; round++) await Promise.all(nodes.map((node) => node.runOnce()));
    assert.equal(await nodes[0]?.runOnce(), false);
    assert.equal(await paymentsCounted(w), 11n);
    const sweepers = [0, 1].map(() => rollupFor(w, { pageRows: 2, idClock: afterLookback }));
    for (let round = 0; round < 8; round++) {
      await Promise.all(sweepers.map((node) => node.runOnce()));
    }
    assert.equal(await sweepers[0]?.runOnce(), false);
    assert.equal(await paymentsCounted(w), 11n);
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
    // Two refunds left pending (written here, with no reconciler run); one finishes later.
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

  it('counts once a payment committed long after its id was drawn, when the sweep reaches it', async (t) => {
    const w = await world(t, dialect);
    const { seller, own, pay } = await shops(w);
    const first = await pay(own);
    await pay(own);
    const idMs = idTimeMs(first);
    assert.ok(Math.abs(idMs - Date.now()) < 60_000, 'a payment id holds the time it was drawn');
    const at = { nowMs: idMs + 60_000 };
    const nodes = [0, 1].map(() =>
      createReportRollup({ platform: w.platform, idClock: () => at.nowMs }),
    );
    const [node] = nodes;
    assert.ok(node);
    await runAll(node);
    assert.equal(await paymentsCounted(w), 2n);
    // Two payments whose ids were drawn before the first's and whose rows are committed only now
    // (an id of the same millisecond with a smaller random part): the head has passed them. One
    // completes before the sweep reaches it, the other is still pending then.
    const late = ['1', '2'].map(
      (n) => `${first.slice(0, 'pay_'.length + 13)}-7000-8000-00000000000${n}`,
    );
    const insertLate = (paymentId: string) =>
      insertInterruptedPayment(w, {
        paymentId,
        merchant: seller,
        offerId: own,
        amountMicros: 250_000n,
      });
    const [completed, stillPending] = late;
    assert.ok(completed !== undefined && stillPending !== undefined);
    assert.equal(idTimeMs(completed), idMs);
    await insertLate(completed);
    w.clock.nowMs += paymentPendingGraceMs + 1;
    assert.equal(await w.payments.reconcilePending(), 1);
    await insertLate(stillPending);
    await runAll(node);
    assert.equal(await paymentsCounted(w), 2n);

    // Once the ids are past the lookback, the sweep reads all four rows on both nodes at once:
    // the two counted are not counted again, the late one completed is counted, and the one
    // still pending waits.
    at.nowMs = idMs + reportRollupLookbackMs + 1;
    for (let round = 0; round < 3; round++) await Promise.all(nodes.map(runAll));
    assert.equal(await paymentsCounted(w), 3n);
    const waiting = await w.platform.db.selectFrom('report_rollup_waiting').selectAll().execute();
    assert.deepEqual(waiting, [{ kind: 'payment', id: stillPending }]);
    w.clock.nowMs += paymentPendingGraceMs + 1;
    assert.equal(await w.payments.reconcilePending(), 1);
    for (let round = 0; round < 3; round++) await Promise.all(nodes.map(runAll));
    assert.equal(await paymentsCounted(w), 4n);
    const { days } = await totalsOf(w);
    assert.equal(
      days.reduce((total, day) => total + day.net_micros, 0n),
      await balanceOf(w.ledger, seller.accountId),
    );
  });

  it('deletes the markers behind the head and the sweep a batch at a time, and still counts once', async (t) => {
    const w = await world(t, dialect);
    const { own, pay } = await shops(w);
    for (let i = 0; i < 5; i++) await pay(own);
    const at = { nowMs: Date.now() };
    const rollup = rollupFor(w, { idClock: () => at.nowMs, pruneRows: 2 });
    const markers = async () =>
      (await w.platform.db.selectFrom('report_rollup_counted').select('id').execute()).length;
    await runAll(rollup);
    // The sweep has not read them again yet: their markers stay.
    assert.equal(await markers(), 5);
    at.nowMs = afterLookback();
    // Two a run: a full batch says more is to do.
    assert.equal(await rollup.runOnce(), true);
    assert.equal(await markers(), 3);
    await runAll(rollup);
    // All but the last id's, where both the head and the sweep stand.
    assert.equal(await markers(), 1);
    assert.equal(await paymentsCounted(w), 5n);
    // Payments after the pruning are counted once, by the head, and not again by the sweep.
    for (let i = 0; i < 3; i++) await pay(own);
    at.nowMs = Date.now();
    await runAll(rollup);
    assert.equal(await paymentsCounted(w), 8n);
    at.nowMs = afterLookback();
    await runAll(rollup);
    await runAll(rollup);
    assert.equal(await paymentsCounted(w), 8n);
    assert.equal(await markers(), 1);
  });

  it('forgets a waiting row the sweep counted, so that it is not counted again once its marker is deleted', async (t) => {
    const w = await world(t, dialect);
    const { seller, own, pay } = await shops(w);
    const paymentId = await pay(own);
    const refund = (id: string, state: 'pending' | 'succeeded') =>
      w.platform.db
        .insertInto('refunds')
        .values({
          id,
          payment_id: paymentId,
          merchant_id: seller.merchantId,
          amount_micros: '1000',
          state,
          failure_code: null,
          requested_by: `merchant:${seller.merchantId}`,
          reason: null,
          legs: JSON.stringify([
            { transferId: '1', debitAccountId: seller.accountId.toString(), amountMicros: '1000' },
          ]),
          created_at: BigInt(w.clock.nowMs),
          completed_at: null,
        })
        .execute();
    // The first of the waiting rows, for good: a run that looks at one waiting row sees this one.
    await refund('ref_0000_stuck', 'pending');
    const passedPending = `ref_${uuidv7()}`;
    const after = `ref_${uuidv7()}`;
    await refund(passedPending, 'pending');
    await refund(after, 'succeeded');
    const at = { nowMs: Date.now() };
    await runAll(rollupFor(w, { idClock: () => at.nowMs }));
    const waiting = async () =>
      (
        await w.platform.db.selectFrom('report_rollup_waiting').select('id').orderBy('id').execute()
      ).map((row) => row.id);
    assert.deepEqual(await waiting(), ['ref_0000_stuck', passedPending]);
    await w.platform.db
      .updateTable('refunds')
      .set({ state: 'succeeded', completed_at: BigInt(w.clock.nowMs) })
      .where('id', '=', passedPending)
      .execute();
    // Runs of a row a page, each of a new process (which looks at the first waiting row): the
    // sweep counts the completed refund while it still waits, then passes the next, so its
    // marker is deleted.
    at.nowMs = afterLookback();
    for (let run = 0; run < 4; run++) {
      await rollupFor(w, { idClock: () => at.nowMs, pageRows: 1 }).runOnce();
    }
    const marked = await w.platform.db
      .selectFrom('report_rollup_counted')
      .select('id')
      .where('kind', '=', 'refund')
      .execute();
    assert.deepEqual(marked, [{ id: after }]);
    assert.deepEqual(await waiting(), ['ref_0000_stuck']);
    await runAll(rollupFor(w, { idClock: () => at.nowMs }));
    const [day] = (await totalsOf(w)).days.filter((row) => row.merchant_id === seller.merchantId);
    assert.equal(day?.refund_count, 2n);
  });
});
