/**
 * Purchases as the API offers them: an offer, or a merchant's HTTP 402 challenge, each made into a
 * purchase for the purchase core (purchase-core.ts); and the lookups and upkeep of payments.
 */
import type { Ledger, TimeOrderedIds } from '@mite/ledger';
import {
  currency,
  decodeChallengeEcho,
  formatAmount,
  requestAmountMicros,
  sameCurrency,
} from '@mite/protocol';
import type { PlatformDb } from '../db/platform-db.ts';
import type { PaymentRow } from '../db/schema.ts';
import type { TransactionBatcher } from '../db/transaction-batcher.ts';
import type { MerchantService, Offer } from '../merchants/merchant-service.ts';
import type { SpendingLimits } from '../limits/spending-limits.ts';
import type { PolicyGate } from '../policy/policy-decisions.ts';
import type { PersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import type { ReceiptKey } from '../receipts/receipt-keys.ts';
import { type Failure, fail, ok, type Result } from '../result.ts';
import {
  createPurchaseCore,
  type PurchaseAnswer,
  type PurchaseFailure,
  type PurchaseRequest,
} from './purchase-core.ts';
import { createPurchasePricing } from './purchase-pricing.ts';
import { createPayerPseudonyms } from './payer-pseudonyms.ts';
import { createPurchaseReceipts } from './purchase-receipts.ts';

export type { PaidReceipt } from './purchase-receipts.ts';
export type { PurchaseAnswer } from './purchase-core.ts';

/** A payment still pending after this long was interrupted (a crash): the reconciler ends it. */
export const paymentPendingGraceMs = 30_000;
/** Interrupted payments one reconciler run ends at most; the next run takes the rest. */
export const reconcileBatchMax = 500;

export type PaymentFailure = 'offerNotFound' | PurchaseFailure;

export type ChallengePaymentFailure =
  'validationFailed' | 'challengeExpired' | 'merchantNotFound' | 'offerNotFound' | PurchaseFailure;

export interface PaymentServiceDeps {
  readonly platform: PlatformDb;
  /** Shares the platform database's commits among concurrent purchases. */
  readonly batcher: TransactionBatcher;
  readonly ledger: Ledger;
  readonly merchants: MerchantService;
  readonly cipher: PersonalDataCipher;
  readonly receiptKey: ReceiptKey;
  /** Decides, before money moves, whether a purchase may go ahead. */
  readonly policy: PolicyGate;
  /** The monthly caps purchases count against. */
  readonly limits: SpendingLimits;
  readonly transferIds: TimeOrderedIds;
  readonly clock: () => number;
}

export function createPaymentService(deps: PaymentServiceDeps) {
  const { platform, clock } = deps;
  const db = platform.db;
  const pricing = createPurchasePricing(deps);
  const receipts = createPurchaseReceipts(deps);
  const payers = createPayerPseudonyms({ db, pseudonym: receipts.pseudonym });
  const core = createPurchaseCore({ ...deps, pricing, receipts, payers });

  async function pay(
    input: PurchaseRequest & { offerId: string },
  ): Promise<PurchaseAnswer | Failure<'offerNotFound'>> {
    const offer = await deps.merchants.getOffer(input.offerId);
    if (offer === undefined) return fail('offerNotFound');
    return core.purchase(input, { ...offer, offerId: offer.id, challengeId: null }, clock());
  }

  /**
   * Pays a merchant's HTTP 402 challenge (DESIGN.md section 5). The platform cannot check the
   * challenge's HMAC (the merchant's secret); it checks what it can (shape, expiry, merchant,
   * amount) and binds the receipt to the challenge id, which the merchant checks offline.
   */
  async function payChallenge(
    input: PurchaseRequest & { challenge: unknown },
  ): Promise<PurchaseAnswer | Failure<ChallengePaymentFailure>> {
    const decoded = decodeChallengeEcho(input.challenge, 'challenge');
    if (!decoded.ok) return fail('validationFailed', decoded.detail);
    const { request, id: challengeId, expiresAtSeconds } = decoded.value;
    if (!sameCurrency(request.currency, currency)) {
      return fail('validationFailed', `this platform pays in ${currency}, not ${request.currency}`);
    }
    const nowMs = clock();
    if (expiresAtSeconds * 1000 <= nowMs) {
      // A client that lost the answer asks again, maybe late: a challenge it paid gets its receipt.
      return (
        (await core.priorChallengePayment(input.userId, challengeId)) ?? fail('challengeExpired')
      );
    }
    // The request's amount is micro-units (the charge intent's base units), checked on decoding.
    const priceMicros = requestAmountMicros(request);
    const merchant = await pricing.termsOf(request.recipient);
    if (merchant === undefined) return fail('merchantNotFound');
    const sold = await offerSold(request.methodDetails.offer, merchant.id, priceMicros);
    if (sold !== undefined && !sold.ok) return sold;
    const offer = sold?.value;
    return core.purchase(
      input,
      {
        merchantId: merchant.id,
        resource: request.methodDetails.resource,
        priceMicros,
        // The whole price goes to the merchant the challenge names (less the platform's fee),
        // unless it sells one of its offers, whose revenue splits then share it.
        splits: offer?.splits ?? [{ merchantId: merchant.id, shareBasisPoints: 10_000 }],
        // The platform cannot verify the challenge (the merchant's HMAC): the access it signs
        // is bounded by the merchant's own term, which it holds, and by the offer's.
        accessPeriodSeconds: Math.min(
          request.methodDetails.accessPeriodSeconds,
          merchant.challengeAccessPeriodSecondsMax,
          offer?.accessPeriodSeconds ?? Number.MAX_SAFE_INTEGER,
        ),
        offerId: offer?.id ?? null,
        challengeId,
        // The offer's category when it sells one, else the merchant's (the core's default).
        ...(offer === undefined ? {} : { category: offer.category }),
      },
      nowMs,
    );
  }

  /**
   * The offer a challenge sells (`methodDetails.offer`), once it is the named merchant's and has
   * the challenge's price: a client can write a challenge itself (the platform cannot check its
   * HMAC), so the offer's own terms must agree with what the payer is charged. Undefined when the
   * challenge names none.
   */
  async function offerSold(
    offerId: string | undefined,
    merchantId: string,
    priceMicros: bigint,
  ): Promise<Result<Offer, 'offerNotFound' | 'validationFailed'> | undefined> {
    if (offerId === undefined) return undefined;
    const offer = await deps.merchants.getOffer(offerId);
    if (offer === undefined) return fail('offerNotFound');
    if (offer.merchantId !== merchantId) {
      return fail('validationFailed', `the offer ${offerId} is not sold by ${merchantId}`);
    }
    if (offer.priceMicros !== priceMicros) {
      return fail(
        'validationFailed',
        `the offer ${offerId} costs ${formatAmount(offer.priceMicros)}`,
      );
    }
    return ok(offer);
  }

  /**
   * Ends payments left pending by a crash, oldest first, at most reconcileBatchMax a run (the
   * next run takes the rest): see PurchaseCore.finishInterrupted.
   */
  async function reconcilePending(): Promise<number> {
    const stale = await db
      .selectFrom('payments')
      .innerJoin('users', 'users.id', 'payments.user_id')
      .select(['payments.id', 'payments.legs', 'users.wallet_account_id'])
      .where('payments.state', '=', 'pending')
      .where('payments.created_at', '<', BigInt(clock() - paymentPendingGraceMs))
      .orderBy('payments.created_at')
      .limit(reconcileBatchMax)
      .execute();
    for (const payment of stale) await core.finishInterrupted(payment);
    return stale.length;
  }

  async function getPayment(paymentId: string): Promise<PaymentRow | undefined> {
    return db.selectFrom('payments').selectAll().where('id', '=', paymentId).executeTakeFirst();
  }

  return {
    pay,
    payChallenge,
    reconcilePending,
    getPayment,
    findByIdempotencyKey: core.findByIdempotencyKey,
    answerOf: core.answerOf,
    pseudonym: receipts.pseudonym,
    /** Keeps the pseudonyms of payers from before they were kept (once, at start). */
    recordPastPayers: () => payers.recordPastPayers(clock()),
  };
}

export type PaymentService = ReturnType<typeof createPaymentService>;
