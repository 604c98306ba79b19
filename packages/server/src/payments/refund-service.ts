import type { CreateTransferResult, Ledger, TimeOrderedIds, Transfer } from '@mite/ledger';
import type { Transaction } from 'kysely';
import { uuidv7 } from 'uuidv7';
import { currency, formatAmount } from '@mite/protocol';
import type { PlatformDb } from '../db/platform-db.ts';
import type { PlatformSchema } from '../db/schema.ts';
import { ledgers, transferCodes } from '../ledger/chart-of-accounts.ts';
import { chainUserData } from '../ledger/chain-user-data.ts';
import { fail, ok, type Result } from '../result.ts';
import { giveBackSpending } from '../limits/monthly-spending.ts';
import type { AccountFreezes } from '../review/account-freezes.ts';
import { enqueueWebhookEvent } from '../webhooks/outbox.ts';
import { apportion } from './revenue-split.ts';

export type RefundFailure =
  'paymentNotFound' | 'refundExceedsPayment' | 'insufficientFunds' | 'accountFrozen';

/**
 * A refund still pending after this long was interrupted (a crash between recording it and
 * moving its money, or before recording the outcome): the reconciler finishes it. Pending refunds
 * count against what is left to refund, so one left for good would hold that part of the payment.
 */
export const refundPendingGraceMs = 30_000;
/** Interrupted refunds one reconciler run finishes at most, oldest first; the next takes the rest. */
export const refundReconcileBatchMax = 500;

/** Who decided the refund: the merchant that was paid, or an operator. */
export type RefundAuthority =
  | { readonly kind: 'merchant'; readonly merchantId: string }
  | { readonly kind: 'operator'; readonly keyId: string };

interface PaymentLeg {
  readonly transferId: string;
  readonly creditAccountId: string;
  readonly amountMicros: string;
}

interface RefundLeg {
  readonly transferId: string;
  readonly debitAccountId: string;
  readonly amountMicros: string;
}

export interface Refund {
  readonly refundId: string;
  readonly paymentId: string;
  readonly amountMicros: bigint;
  readonly refundedTotalMicros: bigint;
}

export interface RefundServiceDeps {
  readonly platform: PlatformDb;
  readonly ledger: Ledger;
  readonly transferIds: TimeOrderedIds;
  readonly clock: () => number;
  /** A frozen merchant (review/) refunds nothing itself: its balance stays for the operator. */
  readonly freezes: Pick<AccountFreezes, 'merchantFrozen'>;
}

/**
 * Refunds as correcting transfers: each party that was paid (the merchant, its co-creators, the
 * platform's fee) pays back its part, in proportion to what it got, into the payer's wallet. A
 * payment is never refunded beyond what was paid, even by concurrent requests.
 *
 * A refund is recorded as pending, with its transfers' ids fixed, before any money moves; the
 * ledger takes each id once, and a chain one of whose ids failed never succeeds later. So the
 * request itself, or the reconciler for a request cut off by a crash, finds the same outcome
 * however often and wherever it submits the transfers, and the outcome is recorded once: only a
 * refund still pending is finished, and only that write enqueues the `refund.succeeded` event.
 */
export function createRefundService(deps: RefundServiceDeps) {
  const { platform, ledger, clock } = deps;
  const db = platform.db;

  async function refund(input: {
    paymentId: string;
    amountMicros?: bigint;
    reason?: string;
    authority: RefundAuthority;
  }): Promise<Result<Refund, RefundFailure>> {
    const { authority } = input;
    // Refunds would move a frozen merchant's balance out around the freeze, to payers who may be
    // its own accounts; the operator can still refund the payers it decides are owed.
    if (
      authority.kind === 'merchant' &&
      (await deps.freezes.merchantFrozen(authority.merchantId))
    ) {
      return fail(
        'accountFrozen',
        'This merchant is frozen; its refunds are made by the operator.',
      );
    }
    const reserved = await reserve(input);
    if (!reserved.ok) return reserved;
    const { refundId, walletId, legs, amountMicros, refundedBeforeMicros } = reserved.value;
    const outcome = await submit(refundId, walletId, legs);
    await finish(refundId, input.paymentId, amountMicros, outcome);
    if (outcome !== 'succeeded') {
      return fail(outcome, 'a party that was paid no longer holds enough to pay its part back');
    }
    return ok({
      refundId,
      paymentId: input.paymentId,
      amountMicros,
      refundedTotalMicros: refundedBeforeMicros + amountMicros,
    });
  }

  /**
   * Checks the refund against what is left of the payment and records it as pending, in one
   * transaction that holds the payment row, so two refunds cannot both take the last of it.
   */
  async function reserve(input: Parameters<typeof refund>[0]) {
    return db.transaction().execute(async (tx) => {
      let query = tx
        .selectFrom('payments')
        .innerJoin('users', 'users.id', 'payments.user_id')
        .select([
          'payments.merchant_id',
          'payments.amount_micros',
          'payments.state',
          'payments.legs',
          'users.wallet_account_id',
        ])
        .where('payments.id', '=', input.paymentId);
      if (platform.dialect === 'postgres') query = query.forUpdate();
      const payment = await query.executeTakeFirst();
      const mayRefund =
        payment !== undefined &&
        payment.state === 'succeeded' &&
        (input.authority.kind === 'operator' || input.authority.merchantId === payment.merchant_id);
      if (!mayRefund) return fail('paymentNotFound' as const);
      const refundedBeforeMicros = await refundedMicros(tx, input.paymentId);
      const paidMicros = BigInt(payment.amount_micros);
      const amountMicros = input.amountMicros ?? paidMicros - refundedBeforeMicros;
      if (amountMicros <= 0n || refundedBeforeMicros + amountMicros > paidMicros) {
        return fail(
          'refundExceedsPayment' as const,
          `at most ${paidMicros - refundedBeforeMicros} micro-units are left to refund`,
        );
      }
      const legs = refundLegs(
        JSON.parse(payment.legs) as PaymentLeg[],
        amountMicros,
        deps.transferIds,
      );
      const refundId = `ref_${uuidv7()}`;
      await tx
        .insertInto('refunds')
        .values({
          id: refundId,
          payment_id: input.paymentId,
          merchant_id: payment.merchant_id,
          amount_micros: amountMicros.toString(),
          state: 'pending',
          failure_code: null,
          requested_by:
            input.authority.kind === 'merchant'
              ? `merchant:${input.authority.merchantId}`
              : `operator:${input.authority.keyId}`,
          reason: input.reason ?? null,
          legs: JSON.stringify(legs),
          created_at: BigInt(clock()),
          completed_at: null,
        })
        .execute();
      return ok({
        refundId,
        walletId: BigInt(payment.wallet_account_id),
        legs,
        amountMicros,
        refundedBeforeMicros,
      });
    });
  }

  /** What the payment's refunds so far take back, pending ones included. */
  async function refundedMicros(tx: Transaction<PlatformSchema>, paymentId: string) {
    const earlier = await tx
      .selectFrom('refunds')
      .select('amount_micros')
      .where('payment_id', '=', paymentId)
      .where('state', 'in', ['pending', 'succeeded'])
      .execute();
    return earlier.reduce((sum, row) => sum + BigInt(row.amount_micros), 0n);
  }

  async function submit(refundId: string, walletId: bigint, legs: readonly RefundLeg[]) {
    return outcomeOf(await ledger.createTransfers(transfersFor(refundId, walletId, legs)));
  }

  /**
   * Records the outcome of a refund still pending, and for a success the `refund.succeeded`
   * event, in one transaction; a refund finished already (by the request or the reconciler,
   * whichever came second) is left as it is, and no second event is made.
   */
  async function finish(
    refundId: string,
    paymentId: string,
    amountMicros: bigint,
    outcome: 'succeeded' | 'insufficientFunds',
  ): Promise<void> {
    const nowMs = clock();
    await db.transaction().execute(async (tx) => {
      const finished = await tx
        .updateTable('refunds')
        .set({
          state: outcome === 'succeeded' ? 'succeeded' : 'failed',
          failure_code: outcome === 'succeeded' ? null : outcome,
          completed_at: BigInt(nowMs),
        })
        .where('id', '=', refundId)
        .where('state', '=', 'pending')
        .executeTakeFirst();
      if (finished.numUpdatedRows === 0n || outcome !== 'succeeded') return;
      const payment = await tx
        .selectFrom('payments')
        .select(['merchant_id', 'user_id', 'spending'])
        .where('id', '=', paymentId)
        .executeTakeFirstOrThrow();
      // Money refunded was not spent: it is taken off the caps of the month the payment counted
      // in (refunds never add up to more than the payment, so no total goes below zero).
      await giveBackSpending(tx, payment.user_id, payment.spending, amountMicros);
      await enqueueWebhookEvent(tx, {
        merchantId: payment.merchant_id,
        type: 'refund.succeeded',
        payload: { refundId, paymentId, amount: formatAmount(amountMicros), currency },
        nowMs,
      });
    });
  }

  /**
   * Finishes refunds left pending past refundPendingGraceMs, oldest first, at most
   * refundReconcileBatchMax a run (the next run takes the rest); the number looked at.
   */
  async function reconcilePending(): Promise<number> {
    const stale = await db
      .selectFrom('refunds')
      .innerJoin('payments', 'payments.id', 'refunds.payment_id')
      .innerJoin('users', 'users.id', 'payments.user_id')
      .select([
        'refunds.id',
        'refunds.payment_id',
        'refunds.amount_micros',
        'refunds.legs',
        'users.wallet_account_id',
      ])
      .where('refunds.state', '=', 'pending')
      .where('refunds.created_at', '<', BigInt(clock() - refundPendingGraceMs))
      .orderBy('refunds.created_at')
      .limit(refundReconcileBatchMax)
      .execute();
    for (const refund of stale) await finishInterrupted(refund);
    return stale.length;
  }

  /**
   * Finishes a refund from the ledger: its transfers there mean it succeeded; otherwise they are
   * submitted again, which moves the money now, finds it moved meanwhile, or fails as the request
   * would have (a party no longer holds its part), never twice.
   */
  async function finishInterrupted(refund: {
    readonly id: string;
    readonly payment_id: string;
    readonly amount_micros: string;
    readonly legs: string;
    readonly wallet_account_id: string;
  }): Promise<void> {
    const legs = JSON.parse(refund.legs) as RefundLeg[];
    const done = await ledger.lookupTransfers(legs.map((leg) => BigInt(leg.transferId)));
    const outcome =
      done.length === legs.length
        ? 'succeeded'
        : await submit(refund.id, BigInt(refund.wallet_account_id), legs);
    await finish(refund.id, refund.payment_id, BigInt(refund.amount_micros), outcome);
  }

  return { refund, reconcilePending };
}

export type RefundService = ReturnType<typeof createRefundService>;

/** Each paid party gives back its part of the refund, in proportion to what it received. */
function refundLegs(
  paid: readonly PaymentLeg[],
  amountMicros: bigint,
  ids: TimeOrderedIds,
): RefundLeg[] {
  const parts = apportion(
    amountMicros,
    paid.map((leg) => BigInt(leg.amountMicros)),
  );
  return paid
    .map((leg, index) => ({
      transferId: ids.next().toString(),
      debitAccountId: leg.creditAccountId,
      amountMicros: (parts[index] ?? 0n).toString(),
    }))
    .filter((leg) => leg.amountMicros !== '0');
}

/** The refund's chain; every leg carries the refund's id (ledger/chain-user-data.ts). */
function transfersFor(refundId: string, walletId: bigint, legs: readonly RefundLeg[]): Transfer[] {
  const userData = chainUserData(refundId);
  return legs.map((leg, index) => ({
    id: BigInt(leg.transferId),
    debitAccountId: BigInt(leg.debitAccountId),
    creditAccountId: walletId,
    amount: BigInt(leg.amountMicros),
    ledger: ledgers.usd,
    code: transferCodes.refund,
    flags: { linked: index < legs.length - 1 },
    userData,
  }));
}

/**
 * The refund's outcome from its chain's results. `exists`: the transfer was made by an earlier
 * submission of the same refund (the other of the request and the reconciler); `idAlreadyFailed`:
 * an earlier submission of it failed, so it never can succeed (a party did not hold its part).
 */
function outcomeOf(results: readonly CreateTransferResult[]): 'succeeded' | 'insufficientFunds' {
  const failure = results.find(
    (result) => result !== 'ok' && result !== 'exists' && result !== 'linkedEventFailed',
  );
  if (failure === undefined) return 'succeeded';
  if (failure === 'exceedsCredits' || failure === 'idAlreadyFailed') return 'insufficientFunds';
  throw new Error(`bug: a refund's transfers failed with ${failure}`);
}
