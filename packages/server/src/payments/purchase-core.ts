/**
 * The purchase core: every way of paying (an offer, a merchant's HTTP 402 challenge; later a
 * session's settlement, a token deposit, a tip) goes through `purchase`, in this order:
 *
 *   price -> policy decision -> pending record (and the access it claims) -> one linked ledger
 *   chain -> outcome and webhook event -> signed receipt
 *
 * The payment record is the purchase's idempotency record: unique per payer and Idempotency-Key
 * (and per payer and challenge), so a retry, however late, finds the payment and gets its answer
 * again, rebuilt from the record byte for byte (the receipt's Ed25519 signature is deterministic;
 * a failure's problem document names no occurrence), and charges nothing. A crash anywhere
 * leaves a pending record with fixed transfer ids that `finishInterrupted` ends, never twice.
 *
 * Durability, the one rule: nothing is answered before the writes that make the answer true are
 * durable. The pending record (and its access claim) is durable before the ledger is asked; the
 * ledger answers once its chain is durable; the outcome and its webhook event commit in one
 * durable unit before the answer is returned.
 */
import type { CreateTransferResult, Ledger, Transfer } from '@mite/ledger';
import { currency, formatAmount } from '@mite/protocol';
import type { Transaction } from 'kysely';
import { LRUCache } from 'lru-cache';
import { uuidv7 } from 'uuidv7';
import { retryingDeadlocks } from '../db/deadlocks.ts';
import type { PlatformDb } from '../db/platform-db.ts';
import { affectedRows, firstRow, preparedQuery } from '../db/prepared-query.ts';
import type { PaymentRow, PlatformSchema } from '../db/schema.ts';
import type { TransactionBatcher } from '../db/transaction-batcher.ts';
import { chainUserData } from '../ledger/chain-user-data.ts';
import { ledgers } from '../ledger/chart-of-accounts.ts';
import type { Offer } from '../merchants/merchant-service.ts';
import {
  chargeUnderCap,
  type FairPriceCount,
  fairCharge,
  fairPriceScope,
  fairPriceSpent,
} from '../limits/fair-price.ts';
import {
  addSpending,
  countedSpendingJson,
  giveBackSpending,
  type SpendingCharge,
  type SpendingPlan,
  subtractSpending,
} from '../limits/monthly-spending.ts';
import type { SpendingCategory } from '../limits/limit-profile.ts';
import type { SpendingLimits } from '../limits/spending-limits.ts';
import type { PurchaseFacts, RequestOrigin } from '../policy/policy.ts';
import { type PolicyGate, type PolicyRefusal, stops } from '../policy/policy-decisions.ts';
import { fail, ok, type Result } from '../result.ts';
import { enqueueWebhookEvent } from '../webhooks/outbox.ts';
import { claimOfferAccess, releaseOfferAccess } from './offer-access.ts';
import type { Leg, PurchasePricing } from './purchase-pricing.ts';
import type { PayerPseudonyms } from './payer-pseudonyms.ts';
import type { PaidReceipt, PurchaseReceipts } from './purchase-receipts.ts';

/** Users whose wallet account id is kept in memory (it never changes once a user exists). */
export const walletIdsCachedMax = 100_000;

/**
 * A purchase's answer; `replayed` when it is the answer of a purchase made earlier under the same
 * Idempotency-Key or for the same challenge (sent again with `Idempotent-Replayed: true`).
 */
export type PurchaseAnswer = Result<PaidReceipt, PurchaseFailure> & { readonly replayed?: true };

/** Why a purchase was not made now: the policy, the wallet, or because it was made already. */
export type PurchaseFailure =
  | PolicyRefusal
  | 'insufficientFunds'
  | 'accountClosed'
  | 'duplicatePayment'
  | 'idempotencyKeyReused'
  | 'idempotencyRequestInProgress';

/** What identifies a purchase request: who, and the Idempotency-Key it was sent under. */
export interface PurchaseRequest {
  readonly userId: string;
  /** Unique per user for ever (payments.idempotency_key): a retry finds its purchase. */
  readonly idempotencyKey?: string;
  /** Where the request came from, for the risk rules. */
  readonly origin?: RequestOrigin;
  /** The challenged decision the user confirmed, named by a retry (policy-confirmations.ts). */
  readonly confirmationId?: string;
}

/** What a payment buys: from an offer, or from a merchant's HTTP 402 challenge. */
export interface Purchase {
  readonly merchantId: string;
  readonly resource: string;
  readonly priceMicros: bigint;
  readonly splits: Offer['splits'];
  readonly accessPeriodSeconds: number;
  readonly offerId: string | null;
  readonly challengeId: string | null;
  /** What is bought, for the monthly caps per category: an offer's; else the merchant's. */
  readonly category?: SpendingCategory;
}

export interface PurchaseCoreDeps {
  readonly platform: PlatformDb;
  /** Shares the platform database's commits among concurrent purchases. */
  readonly batcher: TransactionBatcher;
  readonly ledger: Ledger;
  readonly pricing: PurchasePricing;
  readonly receipts: PurchaseReceipts;
  /** Keeps each merchant's pseudonym of each payer, written with the payment's success. */
  readonly payers: PayerPseudonyms;
  /** Decides, before money moves, whether a purchase may go ahead. */
  readonly policy: PolicyGate;
  /** The monthly caps a purchase counts against, held by conditional writes when it is recorded. */
  readonly limits: SpendingLimits;
  readonly clock: () => number;
}

export function createPurchaseCore(deps: PurchaseCoreDeps) {
  const { platform, ledger, clock, batcher, pricing, receipts } = deps;
  const db = platform.db;
  const walletIds = new LRUCache<string, bigint>({ max: walletIdsCachedMax });

  /**
   * Records the payment (and claims the access it buys), moves the money, records the outcome,
   * signs the receipt. A purchase made already (the same Idempotency-Key, the same challenge, an
   * access still held) is answered from its record, and charges nothing.
   */
  async function purchase(
    request: PurchaseRequest,
    purchase: Purchase,
    nowMs: number,
  ): Promise<PurchaseAnswer> {
    const { userId } = request;
    const paymentId = `pay_${uuidv7()}`;
    const fair = await fairPriceOf(userId, purchase, nowMs);
    const subject = await subjectOf(request, purchase, nowMs, fair?.expectedMicros);
    const stopped = await policyRefusal(request, purchase, subject, paymentId);
    if (stopped !== undefined) return stopped;
    const plan = await deps.limits.planFor(subject);
    const walletId = await walletIdOf(userId);
    const pricer = await pricing.pricerFor(purchase);
    const accessUntilMs = nowMs + purchase.accessPeriodSeconds * 1000;
    const payment: PendingPaymentArgs = {
      id: paymentId,
      userId,
      merchantId: purchase.merchantId,
      offerId: purchase.offerId,
      resource: purchase.resource,
      challengeId: purchase.challengeId,
      amountMicros: purchase.priceMicros.toString(),
      listPriceMicros: fair === undefined ? null : purchase.priceMicros.toString(),
      legs: JSON.stringify(pricer(purchase.priceMicros)),
      accessUntilMs: BigInt(accessUntilMs),
      createdAtMs: BigInt(nowMs),
      idempotencyKey: request.idempotencyKey ?? null,
      spending: countedSpendingJson(plan, fair === undefined ? [] : [fair.scope]),
    };
    const capped = fair === undefined ? undefined : { count: fair.count, pricer };
    // Units in one batch lock users' monthly spending in no common order: a PostgreSQL deadlock
    // between two nodes' batches aborts one, which changed nothing and is run again.
    const recorded = await retryingDeadlocks(() =>
      batcher.run((tx) => recordPending(tx, payment, purchase, plan, capped)),
    );
    if (recorded.kind === 'made') return priorPurchase(request, purchase);
    if (recorded.kind === 'capReached') {
      // The policy saw room under the cap, and a purchase racing this one took it first.
      return deps.policy.refuse(subject, deps.limits.refusalFor(subject, recorded.charge));
    }
    if (recorded.kind === 'accessHeld') {
      return fail(
        'duplicatePayment',
        'this offer was bought already and its access has not ended; that payment holds it',
        { paymentId: recorded.paymentId },
      );
    }
    const outcome = await submit(paymentId, walletId, recorded.legs);
    // A failure here leaves the payment pending and the request unanswered: its retry is told
    // so, and the reconciler finishes the payment, whose record then answers the retry.
    await finish(paymentId, outcome);
    if (outcome !== 'succeeded') return fail(outcome);
    const terms = {
      ...purchase,
      priceMicros: recorded.chargedMicros,
      listPriceMicros: fair === undefined ? null : purchase.priceMicros,
    };
    return ok(receipts.receiptFor(paymentId, userId, terms, nowMs, accessUntilMs));
  }

  /**
   * Where a purchase from a merchant with a fair-price cap counts, and what it is expected to
   * charge as the user's spending with the merchant stands now (the transaction decides).
   */
  async function fairPriceOf(userId: string, purchase: Purchase, nowMs: number) {
    const seller = await pricing.termsOf(purchase.merchantId);
    const capMicros = seller?.fairPriceCapMicros ?? null;
    if (capMicros === null) return undefined;
    const month = deps.limits.monthOf(nowMs);
    const count: FairPriceCount = { userId, month, merchantId: purchase.merchantId, capMicros };
    const spent = await fairPriceSpent(db, userId, month, purchase.merchantId);
    const expectedMicros = fairCharge(purchase.priceMicros, capMicros, spent);
    return { count, expectedMicros, scope: fairPriceScope(purchase.merchantId) };
  }

  /** What the policy is told of a purchase: who pays whom, how much, for what kind of goods. */
  async function subjectOf(
    request: PurchaseRequest,
    purchase: Purchase,
    nowMs: number,
    fairPriceMicros: bigint | undefined,
  ): Promise<PurchaseFacts> {
    const seller = await pricing.termsOf(purchase.merchantId);
    if (seller === undefined) throw new Error(`bug: merchant ${purchase.merchantId} not found`);
    return {
      kind: 'purchase',
      userId: request.userId,
      merchantId: purchase.merchantId,
      amountMicros: fairPriceMicros ?? purchase.priceMicros,
      ...(fairPriceMicros === undefined ? {} : { listPriceMicros: purchase.priceMicros }),
      offerId: purchase.offerId,
      resource: purchase.resource,
      spendingCategory: purchase.category ?? seller.spendingCategory,
      resellable: seller.resellable,
      atMs: nowMs,
      ...(request.origin === undefined ? {} : { origin: request.origin }),
    };
  }

  /**
   * The policy's word on the purchase, before anything is written: undefined to go ahead, else
   * the answer. A late retry of a purchase made already gets that purchase, not a refusal.
   */
  async function policyRefusal(
    request: PurchaseRequest,
    purchase: Purchase,
    subject: PurchaseFacts,
    paymentId: string,
  ): Promise<PurchaseAnswer | undefined> {
    const { confirmationId } = request;
    const presented =
      confirmationId === undefined
        ? undefined
        : { decisionId: confirmationId, requestId: paymentId };
    const decision = await deps.policy.decide(subject, presented);
    if (!stops(decision)) return undefined;
    const { idempotencyKey } = request;
    const made =
      idempotencyKey !== undefined &&
      (await firstRow(selectPaymentByKey, db, { userId: request.userId, idempotencyKey })) !==
        undefined;
    if (made) return priorPurchase(request, purchase);
    // A challenge paid already (a client that lost the answer pays it again, which the risk rules
    // count as an attempt) gets its receipt, not the refusal.
    const paid =
      purchase.challengeId === null
        ? undefined
        : await priorChallengePayment(request.userId, purchase.challengeId);
    return paid ?? deps.policy.refuse(subject, decision);
  }

  /**
   * The pending payment, its monthly spending and, for an offer with an access period, its claim
   * on that access, in one transaction: unique keys decide, on every node, that a purchase is
   * made once, and conditional writes that no cap is passed. Under a merchant's fair-price cap
   * the amount charged is decided here too (and the payment's amount and legs set to it).
   */
  async function recordPending(
    tx: Transaction<PlatformSchema>,
    payment: PendingPaymentArgs,
    purchase: Purchase,
    plan: SpendingPlan,
    capped: CappedPricing | undefined,
  ): Promise<
    | { kind: 'recorded'; chargedMicros: bigint; legs: readonly Leg[] }
    | { kind: 'made' }
    | { kind: 'accessHeld'; paymentId: string }
    | { kind: 'capReached'; charge: SpendingCharge }
  > {
    // A conflict on (user, challenge) or (user, Idempotency-Key): made already.
    if ((await affectedRows(insertPendingPayment, tx, payment)) === 0n) return { kind: 'made' };
    const { chargedMicros, legs } = await chargeOf(tx, payment, purchase.priceMicros, capped);
    const refused = await addSpending(tx, payment.userId, plan, chargedMicros);
    if (refused !== undefined) {
      await affectedRows(deleteUnmadePayment, tx, { id: payment.id });
      if (capped !== undefined) {
        const { month, merchantId } = capped.count;
        const scopes = [fairPriceScope(merchantId)];
        await subtractSpending(tx, payment.userId, month, scopes, chargedMicros);
      }
      return { kind: 'capReached', charge: refused };
    }
    const recorded = { kind: 'recorded' as const, chargedMicros, legs };
    if (purchase.offerId === null || purchase.accessPeriodSeconds === 0) return recorded;
    const holder = await claimOfferAccess(tx, {
      userId: payment.userId,
      offerId: purchase.offerId,
      paymentId: payment.id,
      accessUntilMs: Number(payment.accessUntilMs),
      nowMs: Number(payment.createdAtMs),
    });
    if (holder === undefined) return recorded;
    await affectedRows(deleteUnmadePayment, tx, { id: payment.id });
    await giveBackSpending(tx, payment.userId, payment.spending, chargedMicros);
    return { kind: 'accessHeld', paymentId: holder };
  }

  /**
   * What the recorded payment charges: its price, or under a fair-price cap what is left of the
   * cap this month (the payment's amount and legs are then set to it).
   */
  async function chargeOf(
    tx: Transaction<PlatformSchema>,
    payment: PendingPaymentArgs,
    priceMicros: bigint,
    capped: CappedPricing | undefined,
  ): Promise<{ chargedMicros: bigint; legs: readonly Leg[] }> {
    const legs = JSON.parse(payment.legs) as Leg[];
    if (capped === undefined) return { chargedMicros: priceMicros, legs };
    const chargedMicros = await chargeUnderCap(tx, capped.count, priceMicros);
    if (chargedMicros === priceMicros) return { chargedMicros, legs };
    const lowered = capped.pricer(chargedMicros);
    await affectedRows(lowerPaymentAmount, tx, {
      id: payment.id,
      amountMicros: chargedMicros.toString(),
      legs: JSON.stringify(lowered),
    });
    return { chargedMicros, legs: lowered };
  }

  /**
   * The answer to a purchase whose payment exists already: a retry under the same key, or the
   * same challenge paid again (a client that lost the answer), which gets the original receipt.
   */
  async function priorPurchase(
    request: PurchaseRequest,
    purchase: Purchase,
  ): Promise<PurchaseAnswer> {
    const { userId, idempotencyKey } = request;
    const byKey =
      idempotencyKey === undefined
        ? undefined
        : await firstRow(selectPaymentByKey, db, { userId, idempotencyKey });
    if (byKey !== undefined) {
      // Past its retention a payment's offer is erased: the key's purchase is then known by its
      // challenge alone.
      const sameOffer = byKey.details_erased_at !== null || byKey.offer_id === purchase.offerId;
      const same = sameOffer && byKey.challenge_id === purchase.challengeId;
      if (!same) return fail('idempotencyKeyReused', 'this key was used for another purchase');
      return replayed(answerOf(byKey));
    }
    const challengeId = purchase.challengeId ?? '';
    const paid = await firstRow(selectPaymentByChallenge, db, { userId, challengeId });
    if (paid === undefined) throw new Error('bug: a payment conflicted with nothing');
    return replayed(answerOf(paid));
  }

  /** The answer of the user's payment of this challenge, if it made one. */
  async function priorChallengePayment(
    userId: string,
    challengeId: string,
  ): Promise<PurchaseAnswer | undefined> {
    const paid = await firstRow(selectPaymentByChallenge, db, { userId, challengeId });
    return paid === undefined ? undefined : replayed(answerOf(paid));
  }

  /** A recorded payment's answer, marked as given before (unless it is still under way). */
  function replayed(answer: Result<PaidReceipt, PurchaseFailure>): PurchaseAnswer {
    if (!answer.ok && answer.code === 'idempotencyRequestInProgress') return answer;
    return { ...answer, replayed: true };
  }

  /** What a recorded payment answers: its receipt, its failure, or that it is still under way. */
  function answerOf(row: PaymentRow): Result<PaidReceipt, PurchaseFailure> {
    switch (row.state) {
      case 'succeeded':
        // A receipt names what was bought; once that is erased (retention/) none can be signed.
        if (row.details_erased_at !== null) {
          return fail(
            'duplicatePayment',
            'this purchase was made already; what it was for is no longer kept (its retention ' +
              'period has passed), so its receipt cannot be given again',
            { paymentId: row.id },
          );
        }
        return ok(receipts.receiptOf(row));
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

  async function walletIdOf(userId: string): Promise<bigint> {
    const cached = walletIds.get(userId);
    if (cached !== undefined) return cached;
    const user = await firstRow(selectWalletId, db, { userId });
    if (user === undefined) throw new Error(`bug: paying for user ${userId}, who does not exist`);
    const walletId = BigInt(user.wallet_account_id);
    walletIds.set(userId, walletId);
    return walletId;
  }

  /** Moves the money as one linked chain: all legs or none. */
  /** The payment's chain; every leg carries the payment's id (ledger/chain-user-data.ts). */
  async function submit(
    paymentId: string,
    walletId: bigint,
    legs: readonly Leg[],
  ): Promise<'succeeded' | 'insufficientFunds' | 'accountClosed'> {
    // A charge of zero (free under a fair-price cap) moves no money: there is no chain to make,
    // and the payment succeeds on its record alone.
    if (legs.length === 0) return 'succeeded';
    const userData = chainUserData(paymentId);
    const transfers: Transfer[] = legs.map((leg, index) => ({
      id: BigInt(leg.transferId),
      debitAccountId: walletId,
      creditAccountId: BigInt(leg.creditAccountId),
      amount: BigInt(leg.amountMicros),
      ledger: ledgers.usd,
      code: leg.code,
      flags: { linked: index < legs.length - 1 },
      userData,
    }));
    const results = await ledger.createTransfers(transfers);
    return outcomeOf(results);
  }

  /**
   * Records the outcome in one durable unit with what goes with it: for a success the merchant's
   * `payment.succeeded` webhook event (so the event exists exactly when the payment succeeded),
   * for a failure the release of the access it claimed.
   */
  async function finish(
    paymentId: string,
    outcome: 'succeeded' | 'insufficientFunds' | 'accountClosed',
  ): Promise<void> {
    const nowMs = clock();
    const paid = await retryingDeadlocks(() =>
      batcher.run((tx) => recordOutcome(tx, paymentId, outcome, nowMs)),
    );
    // Committed: the payer's pseudonym at the merchant is written, and need not be again.
    if (paid !== undefined) deps.payers.remember(paid.user_id, paid.merchant_id);
  }

  /** Records the outcome; for a success, answers who paid whom. */
  async function recordOutcome(
    tx: Transaction<PlatformSchema>,
    paymentId: string,
    outcome: 'succeeded' | 'insufficientFunds' | 'accountClosed',
    nowMs: number,
  ): Promise<{ user_id: string; merchant_id: string } | undefined> {
    const updated = await firstRow(completePayment, tx, {
      id: paymentId,
      state: outcome === 'succeeded' ? 'succeeded' : 'failed',
      failureCode: outcome === 'succeeded' ? null : outcome,
      completedAtMs: BigInt(nowMs),
    });
    if (updated === undefined) return undefined;
    if (outcome !== 'succeeded') {
      // A failed purchase bought nothing: what it counted against its caps is given back, and
      // the access it claimed is free again.
      const amountMicros = BigInt(updated.amount_micros);
      await giveBackSpending(tx, updated.user_id, updated.spending, amountMicros);
      if (updated.offer_id === null) return undefined;
      const release = { userId: updated.user_id, offerId: updated.offer_id, paymentId };
      await releaseOfferAccess(tx, release);
      return undefined;
    }
    // The receipt and the event name the payer by this pseudonym, which the merchant may report
    // back (a code's redeemer): it is kept, with its user, in the same transaction.
    await deps.payers.recordIn(tx, updated.user_id, updated.merchant_id, nowMs);
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
        payer: receipts.pseudonym(updated.user_id, updated.merchant_id),
      },
      nowMs,
    });
    return updated;
  }

  /**
   * Ends a payment left pending by a crash between recording and moving the money: the transfer
   * ids are fixed, so resubmitting them either finds them done or does them now, never twice.
   */
  async function finishInterrupted(payment: {
    readonly id: string;
    readonly legs: string;
    readonly wallet_account_id: string;
  }): Promise<void> {
    const legs = JSON.parse(payment.legs) as Leg[];
    const done =
      legs.length === 0
        ? []
        : await ledger.lookupTransfers(legs.map((leg) => BigInt(leg.transferId)));
    const outcome =
      done.length === legs.length
        ? 'succeeded'
        : await submit(payment.id, BigInt(payment.wallet_account_id), legs);
    await finish(payment.id, outcome);
  }

  async function findByIdempotencyKey(
    userId: string,
    idempotencyKey: string,
  ): Promise<PaymentRow | undefined> {
    return firstRow(selectPaymentByKey, db, { userId, idempotencyKey });
  }

  return { purchase, priorChallengePayment, answerOf, finishInterrupted, findByIdempotencyKey };
}

export type PurchaseCore = ReturnType<typeof createPurchaseCore>;

// Prepared (see prepared-query.ts): these run for every purchase.

const selectWalletId = preparedQuery<{ userId: string }, { wallet_account_id: string }>((db, arg) =>
  db.selectFrom('users').select('wallet_account_id').where('id', '=', arg('userId')),
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

/** What a purchase under a fair-price cap needs in its transaction: its counter and its legs. */
interface CappedPricing {
  readonly count: FairPriceCount;
  readonly pricer: (amountMicros: bigint) => Leg[];
}

interface PendingPaymentArgs {
  id: string;
  userId: string;
  merchantId: string;
  offerId: string | null;
  resource: string;
  challengeId: string | null;
  amountMicros: string;
  listPriceMicros: string | null;
  legs: string;
  accessUntilMs: bigint;
  createdAtMs: bigint;
  idempotencyKey: string | null;
  spending: string;
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
      list_price_micros: arg('listPriceMicros'),
      state: 'pending',
      failure_code: null,
      legs: arg('legs'),
      access_until: arg('accessUntilMs'),
      created_at: arg('createdAtMs'),
      completed_at: null,
      idempotency_key: arg('idempotencyKey'),
      spending: arg('spending'),
    })
    .onConflict((conflict) => conflict.doNothing()),
);

/** What a payment under a fair-price cap charges, once its transaction decided it. */
const lowerPaymentAmount = preparedQuery<{ id: string; amountMicros: string; legs: string }, never>(
  (db, arg) =>
    db
      .updateTable('payments')
      .set({ amount_micros: arg('amountMicros'), legs: arg('legs') })
      .where('id', '=', arg('id'))
      .where('state', '=', 'pending'),
);

/** A payment recorded in this transaction whose access was held by another: it never was. */
const deleteUnmadePayment = preparedQuery<{ id: string }, never>((db, arg) =>
  db.deleteFrom('payments').where('id', '=', arg('id')).where('state', '=', 'pending'),
);

const completePayment = preparedQuery<
  { id: string; state: 'succeeded' | 'failed'; failureCode: string | null; completedAtMs: bigint },
  Pick<
    PaymentRow,
    | 'merchant_id'
    | 'offer_id'
    | 'resource'
    | 'challenge_id'
    | 'user_id'
    | 'amount_micros'
    | 'spending'
  >
>((db, arg) =>
  db
    .updateTable('payments')
    .set({
      state: arg('state'),
      failure_code: arg('failureCode'),
      completed_at: arg('completedAtMs'),
    })
    .where('id', '=', arg('id'))
    .where('state', '=', 'pending')
    .returning([
      'merchant_id',
      'offer_id',
      'resource',
      'challenge_id',
      'user_id',
      'amount_micros',
      'spending',
    ]),
);

/**
 * A payment's chain is submitted by its request and, if that request seems lost, by the
 * reconciler, under the same fixed ids; whichever comes second reads the first one's result.
 * `exists`: the chain (atomic) was made, so the payment succeeded. `idAlreadyFailed`: it failed
 * under these ids before, and the ledger keeps it failed; the reason is not kept, and the only
 * one a wallet meets (accounts are never closed today) is a balance too low.
 */
function outcomeOf(
  results: readonly CreateTransferResult[],
): 'succeeded' | 'insufficientFunds' | 'accountClosed' {
  const failure = results.find(
    (result) => result !== 'ok' && result !== 'linkedEventFailed' && result !== 'exists',
  );
  if (failure === undefined) return 'succeeded';
  if (failure === 'exceedsCredits' || failure === 'idAlreadyFailed') return 'insufficientFunds';
  if (failure === 'accountClosed') return 'accountClosed';
  throw new Error(`bug: a payment's transfers failed with ${failure}`);
}
