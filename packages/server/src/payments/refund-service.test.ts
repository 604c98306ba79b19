import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import { platformAccountIds } from '../ledger/chart-of-accounts.ts';
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
});
