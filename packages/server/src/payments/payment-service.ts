import type { CreateTransferResult, Ledger, TimeOrderedIds, Transfer } from '@mite/ledger';
import type { Kysely } from 'kysely';
import { decodeChallengeEcho, parsePositiveAmount } from '@mite/protocol';
import { LRUCache } from 'lru-cache';
import { uuidv7 } from 'uuidv7';
import type { PlatformDb } from '../db/platform-db.ts';
import { affectedRows, firstRow, preparedQuery } from '../db/prepared-query.ts';
import type { MerchantRow, PaymentRow, PlatformSchema } from '../db/schema.ts';
import type { TransactionBatcher } from '../db/transaction-batcher.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import type { MerchantService, Offer } from '../merchants/merchant-service.ts';
import { formatAmount } from '../money/amounts.ts';
import type { PersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import type { ReceiptKey } from '../receipts/receipt-keys.ts';
import { type ReceiptClaims, signReceipt } from '../receipts/receipts.ts';
import { fail, ok, type Result } from '../result.ts';
import { enqueueWebhookEvent } from '../webhooks/outbox.ts';
import { type PolicyGate, type PolicyRefusal, stops } from '../policy/policy-decisions.ts';
import { claimOfferAccess, releaseOfferAccess } from './offer-access.ts';
import { splitPayment } from './revenue-split.ts';

export const currency = 'USD';
/** A payment still pending after this long was interrupted (a crash): the reconciler ends it. */
export const paymentPendingGraceMs = 30_000;
/** Users whose wallet account id is kept in memory (it never changes once a user exists). */
export const walletIdsCachedMax = 100_000;
/** Merchants whose ledger account, fee and access term are kept in memory. */
export const merchantTermsCachedMax = 10_000;
/**
 * How long a merchant's terms are kept: its access term for challenges can change (PATCH
 * /v1/merchants/{id}), and every node sees the change within this time.
 */
export const merchantTermsCacheTtlMs = 60_000;
/** (user, merchant) pseudonyms kept in memory: a receipt and a webhook event each name one. */
export const pseudonymsCachedMax = 20_000;

export interface PayOptions {
  /**
   * Answer once the money has moved, without waiting for the payment's outcome (state and
   * webhook event) to commit: where units commit in queue order (SQLite), it commits before any
   * write queued after the answer. The HTTP route sets it: the response's idempotency record,
   * written next, then commits with the outcome or after it, and nothing is sent before that
   * record is durable. A saved batch cycle per purchase, so the answer comes sooner.
   */
  readonly outcomeBeforeNextWrite?: boolean;
}

/** How a purchase that was made already answers a retry, or a second purchase of one thing. */
type PriorPurchaseFailure =
  | PolicyRefusal
  | 'insufficientFunds'
  | 'accountClosed'
  | 'duplicatePayment'
  | 'idempotencyKeyReused'
  | 'idempotencyRequestInProgress';

export type PaymentFailure = 'offerNotFound' | PriorPurchaseFailure;

export type ChallengePaymentFailure =
  'validationFailed' | 'challengeExpired' | 'merchantNotFound' | PriorPurchaseFailure;

/** What identifies a purchase request: who, and the Idempotency-Key it was sent under. */
interface PurchaseRequest {
  readonly userId: string;
  /** Unique per user for ever (payments.idempotency_key): a retry finds its purchase. */
  readonly idempotencyKey?: string;
}

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
  /** Shares the platform database's commits among concurrent purchases. */
  readonly batcher: TransactionBatcher;
  readonly ledger: Ledger;
  readonly merchants: MerchantService;
  readonly cipher: PersonalDataCipher;
  readonly receiptKey: ReceiptKey;
  /** Decides, before money moves, whether a purchase may go ahead. */
  readonly policy: PolicyGate;
  readonly transferIds: TimeOrderedIds;
  readonly clock: () => number;
  /**
   * Hears a payment outcome that failed to commit after its answer went out (see PayOptions):
   * the payment stays pending, and reconcilePending finishes it.
   */
  readonly onOutcomeNotRecorded?: (paymentId: string, error: unknown) => void;
}

/**
 * Purchases: a user's wallet pays a merchant (and its co-creators) for an offer, minus the
 * platform's percentage fee, as one linked ledger chain; the answer is a signed receipt.
 */
export function createPaymentService(deps: PaymentServiceDeps) {
  const { platform, ledger, clock, batcher } = deps;
  const db = platform.db;
  const walletIds = new LRUCache<string, bigint>({ max: walletIdsCachedMax });
  const merchantTerms = new LRUCache<string, MerchantTerms>({
    max: merchantTermsCachedMax,
    ttl: merchantTermsCacheTtlMs,
  });
  const pseudonyms = new LRUCache<string, string>({ max: pseudonymsCachedMax });

  async function pay(
    input: PurchaseRequest & { offerId: string },
    options: PayOptions = {},
  ): Promise<Result<PaidReceipt, PaymentFailure>> {
    const offer = await deps.merchants.getOffer(input.offerId);
    if (offer === undefined) return fail('offerNotFound');
    return buy(input, { ...offer, offerId: offer.id, challengeId: null }, clock(), options);
  }

  /**
   * Pays a merchant's HTTP 402 challenge (DESIGN.md section 5). The platform cannot check the
   * challenge's HMAC (the merchant's secret); it checks what it can (shape, expiry, merchant,
   * amount) and binds the receipt to the challenge id, which the merchant checks offline.
   */
  async function payChallenge(
    input: PurchaseRequest & { challenge: unknown },
    options: PayOptions = {},
  ): Promise<Result<PaidReceipt, ChallengePaymentFailure>> {
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
    const merchant = await termsOf(request.merchant);
    if (merchant === undefined) return fail('merchantNotFound');
    return buy(
      input,
      {
        merchantId: merchant.id,
        resource: request.resource,
        priceMicros: price.value,
        // The whole price goes to the merchant the challenge names (less the platform's fee).
        splits: [{ merchantId: merchant.id, shareBasisPoints: 10_000 }],
        // The platform cannot verify the challenge (the merchant's HMAC): the access it signs
        // is bounded by the merchant's own term, which it holds.
        accessPeriodSeconds: Math.min(
          request.accessPeriodSeconds,
          merchant.challengeAccessPeriodSecondsMax,
        ),
        offerId: null,
        challengeId,
      },
      now,
      options,
    );
  }

  /**
   * Records the payment (and claims the access it buys), moves the money, records the outcome,
   * signs the receipt. A purchase made already (the same Idempotency-Key, the same challenge, an
   * access still held) is answered from its record, and charges nothing.
   */
  async function buy(
    request: PurchaseRequest,
    purchase: Purchase,
    now: number,
    options: PayOptions,
  ): Promise<Result<PaidReceipt, PriorPurchaseFailure>> {
    const { userId } = request;
    const stopped = await policyRefusal(request, purchase, now);
    if (stopped !== undefined) return stopped;
    const walletId = await walletIdOf(userId);
    const legs = await legsFor(purchase);
    const paymentId = `pay_${uuidv7()}`;
    const accessUntilMs = now + purchase.accessPeriodSeconds * 1000;
    const payment = {
      id: paymentId,
      userId,
      merchantId: purchase.merchantId,
      offerId: purchase.offerId,
      resource: purchase.resource,
      challengeId: purchase.challengeId,
      amountMicros: purchase.priceMicros.toString(),
      legs: JSON.stringify(legs),
      accessUntil: BigInt(accessUntilMs),
      createdAt: BigInt(now),
      idempotencyKey: request.idempotencyKey ?? null,
    };
    const recorded = await batcher.run((tx) => recordPending(tx, payment, purchase));
    if (recorded.kind === 'made') return priorPurchase(request, purchase);
    if (recorded.kind === 'accessHeld') {
      return fail(
        'duplicatePayment',
        'this offer was bought already and its access has not ended; that payment holds it',
        { paymentId: recorded.paymentId },
      );
    }
    const outcome = await submit(walletId, legs);
    const outcomeRecorded = finish(paymentId, outcome);
    if (options.outcomeBeforeNextWrite === true && batcher.ordered) {
      // Committed before the caller's next write, which shares its transaction if it comes
      // soon: see PayOptions. A failure leaves the payment pending, for reconcilePending.
      outcomeRecorded.catch((error: unknown) => deps.onOutcomeNotRecorded?.(paymentId, error));
    } else {
      await outcomeRecorded;
    }
    if (outcome !== 'succeeded') return fail(outcome);
    return ok(receiptFor(paymentId, userId, purchase, now, accessUntilMs));
  }

  /**
   * The policy's word on the purchase, before anything is written: undefined to go ahead, else
   * the answer. A late retry of a purchase made already gets that purchase, not a refusal.
   */
  async function policyRefusal(
    request: PurchaseRequest,
    purchase: Purchase,
    now: number,
  ): Promise<Result<PaidReceipt, PriorPurchaseFailure> | undefined> {
    const subject = {
      kind: 'purchase' as const,
      userId: request.userId,
      merchantId: purchase.merchantId,
      amountMicros: purchase.priceMicros,
      offerId: purchase.offerId,
      resource: purchase.resource,
      atMs: now,
    };
    const decision = await deps.policy.decide(subject);
    if (!stops(decision)) return undefined;
    const { idempotencyKey } = request;
    const made =
      idempotencyKey !== undefined &&
      (await firstRow(selectPaymentByKey, db, { userId: request.userId, idempotencyKey })) !==
        undefined;
    return made ? priorPurchase(request, purchase) : deps.policy.refuse(subject, decision);
  }

  /**
   * The pending payment and, for an offer with an access period, its claim on that access, in
   * one transaction: unique keys decide, on every node, that a purchase is made once.
   */
  async function recordPending(
    tx: Kysely<PlatformSchema>,
    payment: PendingPaymentArgs,
    purchase: Purchase,
  ): Promise<{ kind: 'recorded' | 'made' } | { kind: 'accessHeld'; paymentId: string }> {
    // A conflict on (user, challenge) or (user, Idempotency-Key): made already.
    if ((await affectedRows(insertPendingPayment, tx, payment)) === 0n) return { kind: 'made' };
    if (purchase.offerId === null || purchase.accessPeriodSeconds === 0)
      return { kind: 'recorded' };
    const holder = await claimOfferAccess(tx, {
      userId: payment.userId,
      offerId: purchase.offerId,
      paymentId: payment.id,
      accessUntilMs: Number(payment.accessUntil),
      nowMs: Number(payment.createdAt),
    });
    if (holder === undefined) return { kind: 'recorded' };
    await affectedRows(deleteUnmadePayment, tx, { id: payment.id });
    return { kind: 'accessHeld', paymentId: holder };
  }

  /** The answer to a purchase whose payment exists already: a retry, or a second payment. */
  async function priorPurchase(
    request: PurchaseRequest,
    purchase: Purchase,
  ): Promise<Result<PaidReceipt, PriorPurchaseFailure>> {
    const { userId, idempotencyKey } = request;
    const byKey =
      idempotencyKey === undefined
        ? undefined
        : await firstRow(selectPaymentByKey, db, { userId, idempotencyKey });
    if (byKey !== undefined) {
      const same =
        byKey.offer_id === purchase.offerId && byKey.challenge_id === purchase.challengeId;
      if (!same) return fail('idempotencyKeyReused', 'this key was used for another purchase');
      return answerOf(byKey);
    }
    const challengeId = purchase.challengeId ?? '';
    const paid = await firstRow(selectPaymentByChallenge, db, { userId, challengeId });
    if (paid === undefined) throw new Error('bug: a payment conflicted with nothing');
    return fail('duplicatePayment', 'this challenge was paid already; use its receipt', {
      paymentId: paid.id,
    });
  }

  /** What a recorded payment answers: its receipt, its failure, or that it is still under way. */
  function answerOf(row: PaymentRow): Result<PaidReceipt, PriorPurchaseFailure> {
    switch (row.state) {
      case 'succeeded':
        return ok(receiptOf(row));
      case 'failed':
        return row.failure_code === 'accountClosed'
          ? fail('accountClosed')
          : fail('insufficientFunds');
      case 'pending':
        return fail(
          'idempotencyRequestInProgress',
          'this purchase is still being made: ask again in a minute',
          { paymentId: row.id },
        );
    }
  }

  /** The receipt of a succeeded payment, signed again from its record: the same claims. */
  function receiptOf(row: PaymentRow): PaidReceipt {
    const purchase = {
      merchantId: row.merchant_id,
      resource: row.resource ?? '',
      priceMicros: BigInt(row.amount_micros),
      challengeId: row.challenge_id,
    };
    return receiptFor(
      row.id,
      row.user_id,
      purchase,
      Number(row.created_at),
      Number(row.access_until),
    );
  }

  async function walletIdOf(userId: string): Promise<bigint> {
    const cached = walletIds.get(userId);
    if (cached !== undefined) return cached;
    const user = await firstRow(selectWalletId, db, { userId });
    if (user === undefined) throw new Error(`bug: paying for user ${userId}, who does not exist`);
    const walletId = BigInt(user.wallet_account_id);
    walletIds.set(userId, walletId);
    return walletId;
  }

  async function termsOf(merchantId: string): Promise<MerchantTerms | undefined> {
    const cached = merchantTerms.get(merchantId);
    if (cached !== undefined) return cached;
    const row = await firstRow(selectMerchantTerms, db, { merchantId });
    if (row === undefined) return undefined;
    const terms = {
      id: row.id,
      accountId: row.account_id,
      feeBasisPoints: row.fee_basis_points,
      challengeAccessPeriodSecondsMax: row.challenge_access_period_seconds_max,
    };
    merchantTerms.set(merchantId, terms);
    return terms;
  }

  async function legsFor(offer: Purchase): Promise<Leg[]> {
    const seller = await termsOf(offer.merchantId);
    if (seller === undefined) throw new Error(`bug: merchant ${offer.merchantId} not found`);
    const shares = [];
    for (const share of offer.splits) {
      const creator = await termsOf(share.merchantId);
      if (creator === undefined) throw new Error(`bug: merchant ${share.merchantId} not found`);
      shares.push({ key: creator.accountId, shareBasisPoints: share.shareBasisPoints });
    }
    const split = splitPayment(offer.priceMicros, seller.feeBasisPoints, shares);
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
  ): Promise<void> {
    const now = clock();
    // Answered at commit: the caller's answer waits for a later durable write (the HTTP API's
    // idempotency record), which makes this one durable too; a payment whose outcome was lost
    // stays pending, for reconcilePending to finish.
    const durable = false;
    await batcher.run(
      async (tx) => {
        const updated = await firstRow(completePayment, tx, {
          id: paymentId,
          state: outcome === 'succeeded' ? 'succeeded' : 'failed',
          failureCode: outcome === 'succeeded' ? null : outcome,
          completedAt: BigInt(now),
        });
        if (updated === undefined) return;
        if (outcome !== 'succeeded') {
          // A failed purchase bought nothing: the access it claimed is free again.
          if (updated.offer_id !== null) {
            await releaseOfferAccess(tx, {
              userId: updated.user_id,
              offerId: updated.offer_id,
              paymentId,
            });
          }
          return;
        }
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
      },
      { durable },
    );
  }

  function receiptFor(
    paymentId: string,
    userId: string,
    purchase: Pick<Purchase, 'merchantId' | 'resource' | 'priceMicros' | 'challengeId'>,
    issuedAtMs: number,
    accessUntilMs: number,
  ): PaidReceipt {
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
    return { paymentId, claims, receipt: signReceipt(claims, deps.receiptKey) };
  }

  /** What a merchant sees of a user: stable for that merchant, unlinkable across merchants. */
  function pseudonym(userId: string, merchantId: string): string {
    const pair = `${userId}\u0000${merchantId}`;
    let payer = pseudonyms.get(pair);
    if (payer === undefined) {
      payer = `psn_${deps.cipher.lookupTag(pair, 'merchant pseudonym').slice(0, 22)}`;
      pseudonyms.set(pair, payer);
    }
    return payer;
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

  async function findByIdempotencyKey(
    userId: string,
    idempotencyKey: string,
  ): Promise<PaymentRow | undefined> {
    return firstRow(selectPaymentByKey, db, { userId, idempotencyKey });
  }

  return {
    pay,
    payChallenge,
    reconcilePending,
    getPayment,
    findByIdempotencyKey,
    answerOf,
    pseudonym,
  };
}

export type PaymentService = ReturnType<typeof createPaymentService>;

/** What a payment needs of a merchant: where its share goes and the platform's cut. */
interface MerchantTerms {
  readonly id: string;
  readonly accountId: string;
  readonly feeBasisPoints: number;
  /** The longest access a receipt for one of its HTTP 402 challenges grants. */
  readonly challengeAccessPeriodSecondsMax: number;
}

// Prepared (see prepared-query.ts): these run for every purchase.

const selectWalletId = preparedQuery<{ userId: string }, { wallet_account_id: string }>((db, arg) =>
  db.selectFrom('users').select('wallet_account_id').where('id', '=', arg('userId')),
);

const selectMerchantTerms = preparedQuery<
  { merchantId: string },
  Pick<
    MerchantRow,
    'id' | 'account_id' | 'fee_basis_points' | 'challenge_access_period_seconds_max'
  >
>((db, arg) =>
  db
    .selectFrom('merchants')
    .select(['id', 'account_id', 'fee_basis_points', 'challenge_access_period_seconds_max'])
    .where('id', '=', arg('merchantId')),
);

const selectPaymentByKey = preparedQuery<{ userId: string; idempotencyKey: string }, PaymentRow>(
  (db, arg) =>
    db
      .selectFrom('payments')
      .selectAll()
      .where('user_id', '=', arg('userId'))
      .where('idempotency_key', '=', arg('idempotencyKey')),
);

const selectPaymentByChallenge = preparedQuery<{ userId: string; challengeId: string }, PaymentRow>(
  (db, arg) =>
    db
      .selectFrom('payments')
      .selectAll()
      .where('user_id', '=', arg('userId'))
      .where('challenge_id', '=', arg('challengeId')),
);

interface PendingPaymentArgs {
  id: string;
  userId: string;
  merchantId: string;
  offerId: string | null;
  resource: string;
  challengeId: string | null;
  amountMicros: string;
  legs: string;
  accessUntil: bigint;
  createdAt: bigint;
  idempotencyKey: string | null;
}

const insertPendingPayment = preparedQuery<PendingPaymentArgs, never>((db, arg) =>
  db
    .insertInto('payments')
    .values({
      id: arg('id'),
      user_id: arg('userId'),
      merchant_id: arg('merchantId'),
      offer_id: arg('offerId'),
      resource: arg('resource'),
      challenge_id: arg('challengeId'),
      amount_micros: arg('amountMicros'),
      state: 'pending',
      failure_code: null,
      legs: arg('legs'),
      access_until: arg('accessUntil'),
      created_at: arg('createdAt'),
      completed_at: null,
      idempotency_key: arg('idempotencyKey'),
    })
    .onConflict((conflict) => conflict.doNothing()),
);

/** A payment recorded in this transaction whose access was held by another: it never was. */
const deleteUnmadePayment = preparedQuery<{ id: string }, never>((db, arg) =>
  db.deleteFrom('payments').where('id', '=', arg('id')).where('state', '=', 'pending'),
);

const completePayment = preparedQuery<
  { id: string; state: 'succeeded' | 'failed'; failureCode: string | null; completedAt: bigint },
  Pick<
    PaymentRow,
    'merchant_id' | 'offer_id' | 'resource' | 'challenge_id' | 'user_id' | 'amount_micros'
  >
>((db, arg) =>
  db
    .updateTable('payments')
    .set({
      state: arg('state'),
      failure_code: arg('failureCode'),
      completed_at: arg('completedAt'),
    })
    .where('id', '=', arg('id'))
    .where('state', '=', 'pending')
    .returning(['merchant_id', 'offer_id', 'resource', 'challenge_id', 'user_id', 'amount_micros']),
);

function outcomeOf(
  results: readonly CreateTransferResult[],
): 'succeeded' | 'insufficientFunds' | 'accountClosed' {
  const failure = results.find((result) => result !== 'ok' && result !== 'linkedEventFailed');
  if (failure === undefined) return 'succeeded';
  if (failure === 'exceedsCredits') return 'insufficientFunds';
  if (failure === 'accountClosed') return 'accountClosed';
  throw new Error(`bug: a payment's transfers failed with ${failure}`);
}
