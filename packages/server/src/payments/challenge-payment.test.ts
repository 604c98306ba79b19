import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { challengeEcho, chargeRequest, type ChargeTerms, issueChallenge } from '@mite/protocol';
import { forEachDialect } from '../db/testing.ts';
import { platformAccountIds } from '../ledger/chart-of-accounts.ts';
import { challengeAccessPeriodSecondsMaxDefault } from '../merchants/merchant-service.ts';
import { receiptJwks } from '../receipts/receipt-keys.ts';
import { verifyReceipt } from '../receipts/receipts.ts';
import { addOffer, balanceOf, merchant, world } from './testing.ts';

const secret = randomBytes(32);

function challengeFor(merchantId: string, nowMs: number, overrides: Partial<ChargeTerms> = {}) {
  const request = chargeRequest({
    amountMicros: 20_000n,
    currency: 'USD',
    recipient: merchantId,
    resource: '/articles/7',
    platform: 'http://127.0.0.1:8080',
    accessPeriodSeconds: 86_400,
    ...overrides,
  });
  return issueChallenge({
    secret,
    realm: 'news.example',
    request,
    expiresAtSeconds: Math.floor(nowMs / 1000) + 300,
  });
}

forEachDialect('paying HTTP 402 challenges', (dialect, it) => {
  it('pays the merchant the challenge names and binds the receipt to the challenge', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'News', 1_000);
    await w.fund(1_000_000n);
    const challenge = challengeFor(seller.merchantId, w.clock.nowMs);
    const paid = await w.payments.payChallenge({
      userId: w.userId,
      challenge: challengeEcho(challenge),
    });
    assert.ok(paid.ok, JSON.stringify(paid));
    assert.equal(await balanceOf(w.ledger, w.wallet), 980_000n);
    assert.equal(await balanceOf(w.ledger, seller.accountId), 18_000n);
    assert.equal(await balanceOf(w.ledger, platformAccountIds.platformFees), 2_000n);
    const check = await verifyReceipt(paid.value.receipt, receiptJwks([w.receiptKey]));
    assert.ok(check.ok);
    assert.equal(check.value.challengeId, challenge.id);
    assert.equal(check.value.resource, '/articles/7');
    assert.equal(check.value.merchantId, seller.merchantId);
    assert.equal(check.value.accessUntil - check.value.issuedAt, 86_400);
    const row = await w.payments.getPayment(paid.value.paymentId);
    assert.deepEqual(
      [row?.state, row?.offer_id, row?.challenge_id],
      ['succeeded', null, challenge.id],
    );
    assert.deepEqual((await w.ledger.verify()).problems, []);
  });

  it('grants no longer access than the merchant allows: the challenge cannot be verified', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'News', 0);
    const strict = await w.merchants.createMerchant({
      name: 'Strict',
      feeBasisPoints: 0,
      payoutThresholdMicros: 1_000_000n,
      challengeAccessPeriodSecondsMax: 0,
    });
    await w.fund(1_000_000n);
    const tenYearsSeconds = 315_360_000;
    const periods = [];
    for (const merchantId of [seller.merchantId, strict.merchantId]) {
      const forged = challengeFor(merchantId, w.clock.nowMs, {
        accessPeriodSeconds: tenYearsSeconds,
      });
      const paid = await w.payments.payChallenge({
        userId: w.userId,
        challenge: challengeEcho(forged),
      });
      assert.ok(paid.ok, JSON.stringify(paid));
      periods.push(paid.value.claims.accessUntil - paid.value.claims.issuedAt);
    }
    assert.deepEqual(periods, [challengeAccessPeriodSecondsMaxDefault, 0]);
    // A term changed later binds the next payment (a merchant not yet paid: nothing cached).
    const later = await merchant(w, 'Later', 0);
    const changed = await w.merchants.setChallengeAccessPeriodMax(later.merchantId, 3600);
    assert.ok(changed.ok);
    const forged = challengeFor(later.merchantId, w.clock.nowMs, {
      accessPeriodSeconds: tenYearsSeconds,
    });
    const paid = await w.payments.payChallenge({
      userId: w.userId,
      challenge: challengeEcho(forged),
    });
    assert.ok(paid.ok);
    assert.equal(paid.value.claims.accessUntil - paid.value.claims.issuedAt, 3600);
    const unknown = await w.merchants.setChallengeAccessPeriodMax('mer_nobody', 60);
    assert.ok(!unknown.ok && unknown.code === 'merchantNotFound');
  });

  it('pays one challenge once, also when paid twice at the same time', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'News', 0);
    await w.fund(1_000_000n);
    const echo = challengeEcho(challengeFor(seller.merchantId, w.clock.nowMs));
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        w.payments.payChallenge({ userId: w.userId, challenge: echo }),
      ),
    );
    // One payment: the others are told it is under way, or get its receipt once it is made.
    const made = results.filter((r) => r.ok && !('replayed' in r));
    assert.equal(made.length, 1);
    const paymentId = made[0]?.ok === true ? made[0].value.paymentId : '';
    for (const result of results) {
      if (result.ok) assert.equal(result.value.paymentId, paymentId);
      else assert.equal(result.code, 'idempotencyRequestInProgress');
    }
    assert.equal(await balanceOf(w.ledger, w.wallet), 980_000n);
    // Paid again later (a client that lost the answer): the original receipt, charged once.
    const again = await w.payments.payChallenge({ userId: w.userId, challenge: echo });
    assert.ok(again.ok && 'replayed' in again && again.value.paymentId === paymentId);
    // Even once the challenge has expired.
    w.clock.nowMs += 600_000;
    const late = await w.payments.payChallenge({ userId: w.userId, challenge: echo });
    assert.ok(late.ok && late.value.paymentId === paymentId);
    assert.equal(await balanceOf(w.ledger, w.wallet), 980_000n);
  });

  it('refuses expired, malformed, unknown-merchant and unaffordable challenges, moving nothing', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'News', 0);
    await w.fund(10_000n);
    const pay = (challenge: unknown) => w.payments.payChallenge({ userId: w.userId, challenge });
    const expired = challengeEcho(challengeFor(seller.merchantId, w.clock.nowMs - 600_000));
    assert.deepEqual(await pay(expired), { ok: false, code: 'challengeExpired' });
    const unknown = challengeEcho(challengeFor('mer_nobody', w.clock.nowMs));
    assert.deepEqual(await pay(unknown), { ok: false, code: 'merchantNotFound' });
    const malformed = await pay({
      ...challengeEcho(challengeFor(seller.merchantId, w.clock.nowMs)),
      request: 'not base64 json',
    });
    assert.equal(malformed.ok ? '' : malformed.code, 'validationFailed');
    const tooDear = challengeEcho(
      challengeFor(seller.merchantId, w.clock.nowMs, { amountMicros: 1_000_000n }),
    );
    assert.deepEqual(await pay(tooDear), { ok: false, code: 'insufficientFunds' });
    const euros = challengeEcho(
      challengeFor(seller.merchantId, w.clock.nowMs, { currency: 'EUR' }),
    );
    assert.equal((await pay(euros)).ok, false);
    assert.equal(await balanceOf(w.ledger, w.wallet), 10_000n);
    assert.equal(await balanceOf(w.ledger, seller.accountId), 0n);
  });

  it('charges a challenge that names an offer as that offer: its splits, its access, each click anew', async (t) => {
    const w = await world(t, dialect);
    const seller = await merchant(w, 'Tip jar', 1_000);
    const coAuthor = await merchant(w, 'Co-author', 0);
    const offerId = await addOffer(w, seller.merchantId, {
      priceMicros: 1_000_000n,
      accessPeriodSeconds: 0,
      splits: [
        { merchantId: seller.merchantId, shareBasisPoints: 6_000 },
        { merchantId: coAuthor.merchantId, shareBasisPoints: 4_000 },
      ],
    });
    await w.fund(5_000_000n);
    const pay = (resource: string, overrides: Partial<ChargeTerms> = {}) =>
      w.payments.payChallenge({
        userId: w.userId,
        challenge: challengeEcho(
          challengeFor(seller.merchantId, w.clock.nowMs, {
            amountMicros: 1_000_000n,
            resource,
            offer: offerId,
            ...overrides,
          }),
        ),
      });
    const paid = await pay('https://tips.example/tip/1?order=a');
    assert.ok(paid.ok, JSON.stringify(paid));
    // 10% fee (0.10), the rest 60/40; the receipt answers the challenge, for no longer than the
    // offer's access (none: each tip is a purchase of its own).
    assert.equal(await balanceOf(w.ledger, seller.accountId), 540_000n);
    assert.equal(await balanceOf(w.ledger, coAuthor.accountId), 360_000n);
    assert.equal(paid.value.claims.accessUntil, paid.value.claims.issuedAt);
    assert.equal(paid.value.claims.resource, 'https://tips.example/tip/1?order=a');
    const row = await w.payments.getPayment(paid.value.paymentId);
    assert.equal(row?.offer_id, offerId);
    // Another click is another challenge, so another purchase of the same offer.
    const again = await pay('https://tips.example/tip/1?order=b');
    assert.ok(again.ok, JSON.stringify(again));
    assert.notEqual(again.value.paymentId, paid.value.paymentId);
    assert.equal(await balanceOf(w.ledger, w.wallet), 3_000_000n);

    // The offer's terms must be what the challenge charges, and the offer the merchant's.
    const cheaper = await pay('https://tips.example/tip/1?order=c', { amountMicros: 10_000n });
    assert.equal(cheaper.ok ? '' : cheaper.code, 'validationFailed');
    const others = await pay('https://tips.example/tip/1?order=d', {
      recipient: coAuthor.merchantId,
    });
    assert.equal(others.ok ? '' : others.code, 'validationFailed');
    const unknown = await pay('https://tips.example/tip/1?order=e', { offer: 'off_nope' });
    assert.deepEqual(unknown, { ok: false, code: 'offerNotFound' });
    assert.equal(await balanceOf(w.ledger, w.wallet), 3_000_000n, 'refusals moved nothing');
    assert.deepEqual((await w.ledger.verify()).problems, []);
  });
});
