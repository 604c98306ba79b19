import type { CreateTransferResult, Ledger, TimeOrderedIds, Transfer } from '@mite/ledger';
import { decodeChallengeEcho, parsePositiveAmount } from '@mite/protocol';
import { uuidv7 } from 'uuidv7';
import type { PlatformDb } from '../db/platform-db.ts';
import type { PaymentRow } from '../db/schema.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import type { MerchantService, Offer } from '../merchants/merchant-service.ts';
import { formatAmount } from '../money/amounts.ts';
import type { PersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import type { ReceiptKey } from '../receipts/receipt-keys.ts';
import { type ReceiptClaims, signReceipt } from '../receipts/receipts.ts';
import { fail, ok, type Result } from '../result.ts';
import { enqueueWebhookEvent } from '../webhooks/outbox.ts';
import { splitPayment } from './revenue-split.ts';

export const currency = 'USD';
/** A payment still pending after this long was interrupted (a crash): the reconciler ends it. */
export const paymentPendingGraceMs = 30_000;

export type PaymentFailure =
  'offerNotFound' | 'insufficientFunds' | 'accountClosed' | 'duplicatePayment';

export type ChallengePaymentFailure =
  | 'validationFailed'
  | 'challengeExpired'
  | 'merchantNotFound'
  | 'insufficientFunds'
  | 'accountClosed'
  | 'duplicatePayment';

/** What a payment buys: from an offer, or from a merchant's HTTP 402 challenge. */
interface Purchase {
  readonly merchantId: string;
  readonly resource: string;
  readonly priceMicros: bigint;
  readonly splits: Offer['splits'];
  readonly accessPeriodSeconds: number;
  readonly offerId: string | null;
  readonly challengeId: string | null;
}

/** One ledger transfer of a payment, as stored with it so an interrupted payment can finish. */
interface Leg {
  readonly transferId: string;
  readonly creditAccountId: string;
  readonly amountMicros: string;
  readonly code: number;
}

export interface PaidReceipt {
  readonly paymentId: string;
  readonly receipt: string;
  readonly claims: ReceiptClaims;
}

export interface PaymentServiceDeps {
  readonly platform: PlatformDb;
  readonly ledger: Ledger;
  readonly merchants: MerchantService;
  readonly cipher: PersonalDataCipher;
  readonly receiptKey: ReceiptKey;
  readonly transferIds: TimeOrderedIds;
  readonly clock: () => number;
}

/**
 * Purchases: a user's wallet pays a merchant (and its co-creators) for an offer, minus the
 * platform's percentage fee, as one linked ledger chain; the answer is a signed receipt.
 */
export function createPaymentService(deps: PaymentServiceDeps) {
  const { platform, ledger, clock } = deps;
  const db = platform.db;

  async function pay(input: {
    userId: string;
    offerId: string;
  }): Promise<Result<PaidReceipt, PaymentFailure>> {
    const offer = await deps.merchants.getOffer(input.offerId);
    if (offer === undefined) return fail('offerNotFound');
    const now = clock();
    // An offer with no access period grants nothing to hold: each purchase is a new one.
    if (offer.accessPeriodSeconds > 0 && (await holdsAccess(input.userId, offer.id, now))) {
      return fail('duplicatePayment', 'this offer was bought already and its access has not ended');
    }
    return buy(input.userId, { ...offer, offerId: offer.id, challengeId: null }, now);
  }

  /**
   * Pays a merchant's HTTP 402 challenge (DESIGN.md section 5). The platform cannot check the
   * challenge's HMAC (the merchant's secret); it checks what it can (shape, expiry, merchant,
   * amount) and binds the receipt to the challenge id, which the merchant checks offline.
   */
  async function payChallenge(input: {
    userId: string;
    challenge: unknown;
  }): Promise<Result<PaidReceipt, ChallengePaymentFailure>> {
    const decoded = decodeChallengeEcho(input.challenge, 'challenge');
    if (!decoded.ok) return fail('validationFailed', decoded.detail);
    const { request, id: challengeId, expiresAtSeconds } = decoded.value;
    if (request.currency !== currency) {
      return fail('validationFailed', `this platform pays in ${currency}, not ${request.currency}`);
    }
    const now = clock();
    if (expiresAtSeconds * 1000 <= now) return fail('challengeExpired');
    const price = parsePositiveAmount(request.amount);
    if (!price.ok) return fail('validationFailed', price.detail);
    const merchant = await db
      .selectFrom('merchants')
      .select('id')
      .where('id', '=', request.merchant)
      .executeTakeFirst();
    if (merchant === undefined) return fail('merchantNotFound');
    return buy(
      input.userId,
      {
        merchantId: merchant.id,
        resource: request.resource,
        priceMicros: price.value,
        // The whole price goes to the merchant the challenge names (less the platform's fee).
        splits: [{ merchantId: merchant.id, shareBasisPoints: 10_000 }],
        accessPeriodSeconds: request.accessPeriodSeconds,
        offerId: null,
        challengeId,
      },
      now,
    );
  }

  /** Records the payment, moves the money, records the outcome, signs the receipt. */
  async function buy(
    userId: string,
    purchase: Purchase,
    now: number,
  ): Promise<Result<PaidReceipt, 'insufficientFunds' | 'accountClosed' | 'duplicatePayment'>> {
    const user = await db
      .selectFrom('users')
      .select('wallet_account_id')
      .where('id', '=', userId)
      .executeTakeFirstOrThrow();
    const legs = await legsFor(purchase);
    const paymentId = `pay_${uuidv7()}`;
    const accessUntilMs = now + purchase.accessPeriodSeconds * 1000;
    const recorded = await db
      .insertInto('payments')
      .values({
        id: paymentId,
        user_id: userId,
        merchant_id: purchase.merchantId,
        offer_id: purchase.offerId,
        resource: purchase.resource,
        challenge_id: purchase.challengeId,
        amount_micros: purchase.priceMicros.toString(),
        state: 'pending',
        failure_code: null,
        legs: JSON.stringify(legs),
        access_until: BigInt(accessUntilMs),
        created_at: BigInt(now),
        completed_at: null,
      })
      // A challenge is paid once per user: the unique index says so, even across nodes.
      .onConflict((conflict) => conflict.doNothing())
      .executeTakeFirst();
    if (recorded.numInsertedOrUpdatedRows === 0n) {
      return fail('duplicatePayment', 'this challenge was paid already; use its receipt');
    }
    const outcome = await submit(BigInt(user.wallet_account_id), legs);
    await finish(paymentId, outcome);
    if (outcome !== 'succeeded') return fail(outcome);
    return ok(await receiptFor(paymentId, userId, purchase, now, accessUntilMs));
  }

  async function holdsAccess(userId: string, offerId: string, now: number): Promise<boolean> {
    const held = await db
      .selectFrom('payments')
      .select('id')
      .where('user_id', '=', userId)
      .where('offer_id', '=', offerId)
      .where('state', 'in', ['succeeded', 'pending'])
      .where('access_until', '>', BigInt(now))
      .executeTakeFirst();
    return held !== undefined;
  }

  async function legsFor(offer: Purchase): Promise<Leg[]> {
    const merchantIds = [
      ...new Set([offer.merchantId, ...offer.splits.map((split) => split.merchantId)]),
    ];
    const merchants = await db
      .selectFrom('merchants')
      .select(['id', 'account_id', 'fee_basis_points'])
      .where('id', 'in', merchantIds)
      .execute();
    const byId = new Map(merchants.map((merchant) => [merchant.id, merchant]));
    const seller = byId.get(offer.merchantId);
    if (seller === undefined) throw new Error(`bug: merchant ${offer.merchantId} not found`);
    const split = splitPayment(
      offer.priceMicros,
      seller.fee_basis_points,
      offer.splits.map((share) => ({
        key: byId.get(share.merchantId)?.account_id ?? '',
        shareBasisPoints: share.shareBasisPoints,
      })),
    );
    const legs: Leg[] = split.legs.map((leg) => ({
      transferId: deps.transferIds.next().toString(),
      creditAccountId: leg.key,
      amountMicros: leg.amountMicros.toString(),
      code: transferCodes.payment,
    }));
    legs.push({
      transferId: deps.transferIds.next().toString(),
      creditAccountId: platformAccountIds.platformFees.toString(),
      amountMicros: split.platformFeeMicros.toString(),
      code: transferCodes.platformFee,
    });
    return legs.filter((leg) => leg.amountMicros !== '0');
  }

  /** Moves the money as one linked chain: all legs or none. */
  async function submit(
    walletId: bigint,
    legs: readonly Leg[],
  ): Promise<'succeeded' | 'insufficientFunds' | 'accountClosed'> {
    const transfers: Transfer[] = legs.map((leg, index) => ({
      id: BigInt(leg.transferId),
      debitAccountId: walletId,
      creditAccountId: BigInt(leg.creditAccountId),
      amount: BigInt(leg.amountMicros),
      ledger: ledgers.usd,
      code: leg.code,
      flags: { linked: index < legs.length - 1 },
    }));
    const results = await ledger.createTransfers(transfers);
    return outcomeOf(results);
  }

  /**
   * Records the outcome and, for a success, the merchant's `payment.succeeded` webhook event, in
   * one transaction: the event exists exactly when the payment is recorded as succeeded.
   */
  async function finish(
    paymentId: string,
    outcome: 'succeeded' | 'insufficientFunds' | 'accountClosed',
  ) {
    const now = clock();
    await db.transaction().execute(async (tx) => {
      const updated = await tx
        .updateTable('payments')
        .set({
          state: outcome === 'succeeded' ? 'succeeded' : 'failed',
          failure_code: outcome === 'succeeded' ? null : outcome,
          completed_at: BigInt(now),
        })
        .where('id', '=', paymentId)
        .where('state', '=', 'pending')
        .returning([
          'merchant_id',
          'offer_id',
          'resource',
          'challenge_id',
          'user_id',
          'amount_micros',
        ])
        .executeTakeFirst();
      if (updated === undefined || outcome !== 'succeeded') return;
      await enqueueWebhookEvent(tx, {
        merchantId: updated.merchant_id,
        type: 'payment.succeeded',
        payload: {
          paymentId,
          offerId: updated.offer_id,
          resource: updated.resource,
          challengeId: updated.challenge_id,
          amount: formatAmount(BigInt(updated.amount_micros)),
          currency,
          payer: pseudonym(updated.user_id, updated.merchant_id),
        },
        now,
      });
    });
  }

  async function receiptFor(
    paymentId: string,
    userId: string,
    purchase: Purchase,
    issuedAtMs: number,
    accessUntilMs: number,
  ): Promise<PaidReceipt> {
    const claims: ReceiptClaims = {
      paymentId,
      merchantId: purchase.merchantId,
      resource: purchase.resource,
      amount: formatAmount(purchase.priceMicros),
      currency,
      payer: pseudonym(userId, purchase.merchantId),
      issuedAt: Math.floor(issuedAtMs / 1000),
      accessUntil: Math.floor(accessUntilMs / 1000),
      ...(purchase.challengeId === null ? {} : { challengeId: purchase.challengeId }),
    };
    return { paymentId, claims, receipt: await signReceipt(claims, deps.receiptKey) };
  }

  /** What a merchant sees of a user: stable for that merchant, unlinkable across merchants. */
  function pseudonym(userId: string, merchantId: string): string {
    return `psn_${deps.cipher.lookupTag(`${userId}\u0000${merchantId}`, 'merchant pseudonym').slice(0, 22)}`;
  }

  /**
   * Ends payments left pending by a crash between recording and moving the money: the transfer
   * ids are fixed, so resubmitting them either finds them done or does them now, never twice.
   */
  async function reconcilePending(): Promise<number> {
    const stale = await db
      .selectFrom('payments')
      .innerJoin('users', 'users.id', 'payments.user_id')
      .select(['payments.id', 'payments.legs', 'users.wallet_account_id'])
      .where('payments.state', '=', 'pending')
      .where('payments.created_at', '<', BigInt(clock() - paymentPendingGraceMs))
      .execute();
    for (const payment of stale) {
      const legs = JSON.parse(payment.legs) as Leg[];
      const done = await ledger.lookupTransfers(legs.map((leg) => BigInt(leg.transferId)));
      const outcome =
        done.length === legs.length
          ? 'succeeded'
          : await submit(BigInt(payment.wallet_account_id), legs);
      await finish(payment.id, outcome);
    }
    return stale.length;
  }

  async function getPayment(paymentId: string): Promise<PaymentRow | undefined> {
    return db.selectFrom('payments').selectAll().where('id', '=', paymentId).executeTakeFirst();
  }

  return { pay, payChallenge, reconcilePending, getPayment, pseudonym };
}

export type PaymentService = ReturnType<typeof createPaymentService>;

function outcomeOf(
  results: readonly CreateTransferResult[],
): 'succeeded' | 'insufficientFunds' | 'accountClosed' {
  const failure = results.find((result) => result !== 'ok' && result !== 'linkedEventFailed');
  if (failure === undefined) return 'succeeded';
  if (failure === 'exceedsCredits') return 'insufficientFunds';
  if (failure === 'accountClosed') return 'accountClosed';
  throw new Error(`bug: a payment's transfers failed with ${failure}`);
}
