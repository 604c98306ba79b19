import assert from 'node:assert/strict';
import type { Ledger } from '@mite/ledger';
import { forEachDialect } from '../db/testing.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import { createRefundService, refundPendingGraceMs } from './refund-service.ts';
import { addOffer, balanceOf, merchant, world } from './testing.ts';

type World = NonNullable<Awaited<ReturnType<typeof world>>>;

/** A merchant with a co-creator, a 10% fee, and one purchase of 1.00 by the world's user. */
async function purchase(w: World) {
  const seller = await merchant(w, 'Shop', 1_000);
  const writer = await merchant(w, 'Writer', 0);
  const offerId = await addOffer(w, seller.merchantId, {
    resource: '/a',
    title: 'A',
    priceMicros: 1_000_000n,
    category: 'content',
    splits: [
      { merchantId: seller.merchantId, shareBasisPoints: 5_000 },
      { merchantId: writer.merchantId, shareBasisPoints: 5_000 },
    ],
  });
  await w.fund(1_000_000n);
  const paid = await w.payments.pay({ userId: w.userId, offerId });
  assert.ok(paid.ok);
  return { seller, writer, paymentId: paid.value.paymentId };
}

/**
 * Another node's refund service over the world's database and ledger. `crash` makes its process
 * die at its ledger call: before the transfers reach the ledger, or once they are made and before
 * the outcome is recorded; either leaves the refund pending, as a crash there would.
 * `beforeTransfers` holds its ledger call until it resolves, as a slow request would.
 */
function refundsOfAnotherNode(
  w: World,
  options: {
    crash?: 'beforeTransfers' | 'afterTransfers';
    beforeTransfers?: () => Promise<void>;
  } = {},
) {
  const ledger: Ledger = {
    createAccounts: (accounts) => w.ledger.createAccounts(accounts),
    createTransfers: async (transfers) => {
      await options.beforeTransfers?.();
      if (options.crash === undefined) return w.ledger.createTransfers(transfers);
      if (options.crash === 'afterTransfers') await w.ledger.createTransfers(transfers);
      throw new Error('crash');
    },
    lookupAccounts: (ids) => w.ledger.lookupAccounts(ids),
    lookupTransfers: (ids) => w.ledger.lookupTransfers(ids),
    getAccountTransfers: (filter) => w.ledger.getAccountTransfers(filter),
    verify: () => w.ledger.verify(),
    close: async () => {},
  };
  return createRefundService({
    platform: w.platform,
    ledger,
    transferIds: w.transferIds,
    clock: () => w.clock.nowMs,
    freezes: w.services.freezes,
  });
}

async function refundRows(w: World) {
  return w.platform.db
    .selectFrom('refunds')
    .select(['id', 'state', 'failure_code', 'amount_micros'])
    .orderBy('id')
    .execute();
}

/** The refund.succeeded events enqueued, by refund id. */
async function refundEvents(w: World): Promise<string[]> {
  const events = await w.platform.db
    .selectFrom('webhook_events')
    .select('payload')
    .where('type', '=', 'refund.succeeded')
    .execute();
  return events.map((event) => (JSON.parse(event.payload) as { refundId: string }).refundId);
}

forEachDialect('refunds', (dialect, it) => {
  it('refunds part, then the rest, taking each party’s share back, and never more', async (t) => {
    const w = await world(t, dialect);
    const { seller, writer, paymentId } = await purchase(w);
    const authority = { kind: 'merchant' as const, merchantId: seller.merchantId };
    const part = await w.refunds.refund({ paymentId, amountMicros: 300_000n, authority });
    assert.ok(part.ok);
    assert.equal(await balanceOf(w.ledger, w.wallet), 300_000n);
    // Paid: seller 450000, writer 450000, fee 100000; 30% of each comes back.
    assert.equal(await balanceOf(w.ledger, seller.accountId), 315_000n);
    assert.equal(await balanceOf(w.ledger, writer.accountId), 315_000n);
    assert.equal(await balanceOf(w.ledger, platformAccountIds.platformFees), 70_000n);
    const tooMuch = await w.refunds.refund({ paymentId, amountMicros: 700_001n, authority });
    assert.equal(tooMuch.ok ? 'ok' : tooMuch.code, 'refundExceedsPayment');
    const rest = await w.refunds.refund({ paymentId, authority });
    assert.ok(rest.ok);
    assert.equal(rest.value.amountMicros, 700_000n);
    assert.equal(rest.value.refundedTotalMicros, 1_000_000n);
    assert.equal(await balanceOf(w.ledger, w.wallet), 1_000_000n);
    assert.equal(await balanceOf(w.ledger, seller.accountId), 0n);
    const more = await w.refunds.refund({ paymentId, amountMicros: 1n, authority });
    assert.equal(more.ok ? 'ok' : more.code, 'refundExceedsPayment');
    assert.deepEqual((await w.ledger.verify()).problems, []);
  });

  it('lets only the paid merchant or an operator refund', async (t) => {
    const w = await world(t, dialect);
    const { writer, paymentId } = await purchase(w);
    const stranger = await merchant(w, 'Other', 0);
    for (const merchantId of [stranger.merchantId, writer.merchantId]) {
      const refused = await w.refunds.refund({
        paymentId,
        authority: { kind: 'merchant', merchantId },
      });
      assert.equal(refused.ok ? 'ok' : refused.code, 'paymentNotFound');
    }
    assert.ok(
      (await w.refunds.refund({ paymentId, authority: { kind: 'operator', keyId: 'k' } })).ok,
    );
    const unknown = await w.refunds.refund({
      paymentId: 'pay_nope',
      authority: { kind: 'operator', keyId: 'k' },
    });
    assert.equal(unknown.ok ? 'ok' : unknown.code, 'paymentNotFound');
  });

  it('never refunds beyond the payment under concurrent requests', async (t) => {
    const w = await world(t, dialect);
    const { paymentId } = await purchase(w);
    const authority = { kind: 'operator' as const, keyId: 'k' };
    const attempts = await Promise.all(
      Array.from({ length: 8 }, () =>
        w.refunds.refund({ paymentId, amountMicros: 300_000n, authority }),
      ),
    );
    assert.equal(attempts.filter((attempt) => attempt.ok).length, 3);
    assert.equal(await balanceOf(w.ledger, w.wallet), 900_000n);
    assert.deepEqual((await w.ledger.verify()).problems, []);
  });

  it('finishes a refund cut off before its transfers once, on two nodes at once, and the rest can be refunded after', async (t) => {
    const w = await world(t, dialect);
    const { seller, writer, paymentId } = await purchase(w);
    const authority = { kind: 'merchant' as const, merchantId: seller.merchantId };
    await assert.rejects(
      refundsOfAnotherNode(w, { crash: 'beforeTransfers' }).refund({
        paymentId,
        amountMicros: 400_000n,
        authority,
      }),
      /crash/,
    );
    const [cut] = await refundRows(w);
    assert.equal(cut?.state, 'pending');
    // What it holds of the payment cannot be refunded meanwhile.
    const held = await w.refunds.refund({ paymentId, amountMicros: 600_001n, authority });
    assert.equal(held.ok ? 'ok' : held.code, 'refundExceedsPayment');
    // Within its grace period it may still be under way: left alone.
    assert.equal(await w.refunds.reconcilePending(), 0);
    assert.equal((await refundRows(w))[0]?.state, 'pending');

    w.clock.nowMs += refundPendingGraceMs + 1;
    // Two nodes' reconcilers at once: one makes the transfers, the other finds them made (or
    // made meanwhile); the outcome and its event are recorded once.
    await Promise.all([w.refunds.reconcilePending(), refundsOfAnotherNode(w).reconcilePending()]);
    assert.equal(await w.refunds.reconcilePending(), 0);
    assert.deepEqual(await refundRows(w), [
      { id: cut?.id, state: 'succeeded', failure_code: null, amount_micros: '400000' },
    ]);
    assert.deepEqual(await refundEvents(w), [cut?.id]);
    // 40% of each party's part came back, once.
    assert.equal(await balanceOf(w.ledger, w.wallet), 400_000n);
    assert.equal(await balanceOf(w.ledger, seller.accountId), 270_000n);
    assert.equal(await balanceOf(w.ledger, writer.accountId), 270_000n);
    assert.equal(await balanceOf(w.ledger, platformAccountIds.platformFees), 60_000n);

    const rest = await w.refunds.refund({ paymentId, authority });
    assert.ok(rest.ok);
    assert.equal(rest.value.amountMicros, 600_000n);
    assert.equal(rest.value.refundedTotalMicros, 1_000_000n);
    assert.equal(await balanceOf(w.ledger, w.wallet), 1_000_000n);
    assert.equal((await refundEvents(w)).length, 2);
    assert.deepEqual((await w.ledger.verify()).problems, []);
  });

  it('finishes a refund whose transfers were made before the crash without moving the money again', async (t) => {
    const w = await world(t, dialect);
    const { seller, paymentId } = await purchase(w);
    const authority = { kind: 'merchant' as const, merchantId: seller.merchantId };
    const crashing = refundsOfAnotherNode(w, { crash: 'afterTransfers' });
    await assert.rejects(
      crashing.refund({ paymentId, amountMicros: 400_000n, authority }),
      /crash/,
    );
    assert.equal((await refundRows(w))[0]?.state, 'pending');
    assert.equal(await balanceOf(w.ledger, w.wallet), 400_000n);
    w.clock.nowMs += refundPendingGraceMs + 1;
    assert.equal(await w.refunds.reconcilePending(), 1);
    assert.equal(await w.refunds.reconcilePending(), 0);
    const [finished] = await refundRows(w);
    assert.equal(finished?.state, 'succeeded');
    assert.deepEqual(await refundEvents(w), [finished?.id]);
    assert.equal(await balanceOf(w.ledger, w.wallet), 400_000n);
    assert.equal(await balanceOf(w.ledger, seller.accountId), 270_000n);
    assert.deepEqual((await w.ledger.verify()).problems, []);
  });

  it('fails a cut-off refund a party can no longer pay back, as the request would have, and frees its part', async (t) => {
    const w = await world(t, dialect);
    const { seller, writer, paymentId } = await purchase(w);
    const authority = { kind: 'merchant' as const, merchantId: seller.merchantId };
    await assert.rejects(
      refundsOfAnotherNode(w, { crash: 'beforeTransfers' }).refund({ paymentId, authority }),
      /crash/,
    );
    // The writer's earnings are paid out meanwhile: it cannot pay its part back.
    const move = (debitAccountId: bigint, creditAccountId: bigint) =>
      w.ledger.createTransfers([
        {
          id: w.transferIds.next(),
          debitAccountId,
          creditAccountId,
          amount: 450_000n,
          ledger: ledgers.usd,
          code: transferCodes.payout,
        },
      ]);
    assert.deepEqual(await move(writer.accountId, platformAccountIds.settlement), ['ok']);
    w.clock.nowMs += refundPendingGraceMs + 1;
    assert.equal(await w.refunds.reconcilePending(), 1);
    const [failed] = await refundRows(w);
    assert.equal(failed?.state, 'failed');
    assert.equal(failed?.failure_code, 'insufficientFunds');
    assert.deepEqual(await refundEvents(w), []);
    assert.equal(await balanceOf(w.ledger, w.wallet), 0n);
    assert.equal(await balanceOf(w.ledger, seller.accountId), 450_000n);
    // Once the writer holds its part again, the whole payment can be refunded: the failed
    // refund holds none of it.
    assert.deepEqual(await move(platformAccountIds.settlement, writer.accountId), ['ok']);
    const whole = await w.refunds.refund({ paymentId, authority });
    assert.ok(whole.ok);
    assert.equal(whole.value.amountMicros, 1_000_000n);
    assert.equal(await balanceOf(w.ledger, w.wallet), 1_000_000n);
    assert.deepEqual((await w.ledger.verify()).problems, []);
  });

  it('answers a request slower than the grace period with the outcome the reconciler recorded, once', async (t) => {
    const w = await world(t, dialect);
    const { seller, paymentId } = await purchase(w);
    const authority = { kind: 'merchant' as const, merchantId: seller.merchantId };
    let reachedLedger = () => {};
    const atLedger = new Promise<void>((resolve) => (reachedLedger = resolve));
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const slow = refundsOfAnotherNode(w, {
      beforeTransfers: () => {
        reachedLedger();
        return released;
      },
    });
    const answer = slow.refund({ paymentId, amountMicros: 400_000n, authority });
    await atLedger;
    w.clock.nowMs += refundPendingGraceMs + 1;
    assert.equal(await w.refunds.reconcilePending(), 1);
    assert.equal((await refundRows(w))[0]?.state, 'succeeded');
    // The request's own transfers find those the reconciler made: the same outcome, no more
    // money moved, no second event.
    release();
    const answered = await answer;
    assert.ok(answered.ok);
    assert.equal(answered.value.amountMicros, 400_000n);
    assert.equal(await balanceOf(w.ledger, w.wallet), 400_000n);
    assert.equal((await refundEvents(w)).length, 1);
    assert.deepEqual((await w.ledger.verify()).problems, []);
  });
});
