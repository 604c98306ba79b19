import type { CreateTransferResult, Ledger, TimeOrderedIds, Transfer } from '@mite/ledger';
import type { Transaction } from 'kysely';
import { uuidv7 } from 'uuidv7';
import { currency, formatAmount } from '@mite/protocol';
import type { PlatformDb } from '../db/platform-db.ts';
import type { PlatformSchema } from '../db/schema.ts';
import { ledgers, transferCodes } from '../ledger/chart-of-accounts.ts';
import { fail, ok, type Result } from '../result.ts';
import { enqueueWebhookEvent } from '../webhooks/outbox.ts';
import { apportion } from './revenue-split.ts';

export type RefundFailure = 'paymentNotFound' | 'refundExceedsPayment' | 'insufficientFunds';

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
}

/**
 * Refunds as correcting transfers: each party that was paid (the merchant, its co-creators, the
 * platform's fee) pays back its part, in proportion to what it got, into the payer's wallet. A
 * payment is never refunded beyond what was paid, even by concurrent requests.
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
    const reserved = await reserve(input);
    if (!reserved.ok) return reserved;
    const { refundId, walletId, legs, amountMicros, refundedBeforeMicros } = reserved.value;
    const results = await ledger.createTransfers(transfersFor(walletId, legs));
    const outcome = outcomeOf(results);
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

  /** Records the outcome, and for a success the `refund.succeeded` event, in one transaction. */
  async function finish(
    refundId: string,
    paymentId: string,
    amountMicros: bigint,
    outcome: 'succeeded' | 'insufficientFunds',
  ): Promise<void> {
    const nowMs = clock();
    await db.transaction().execute(async (tx) => {
      await tx
        .updateTable('refunds')
        .set({
          state: outcome === 'succeeded' ? 'succeeded' : 'failed',
          failure_code: outcome === 'succeeded' ? null : outcome,
          completed_at: BigInt(nowMs),
        })
        .where('id', '=', refundId)
        .execute();
      if (outcome !== 'succeeded') return;
      const payment = await tx
        .selectFrom('payments')
        .select('merchant_id')
        .where('id', '=', paymentId)
        .executeTakeFirstOrThrow();
      await enqueueWebhookEvent(tx, {
        merchantId: payment.merchant_id,
        type: 'refund.succeeded',
        payload: { refundId, paymentId, amount: formatAmount(amountMicros), currency },
        nowMs,
      });
    });
  }

  return { refund };
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

function transfersFor(walletId: bigint, legs: readonly RefundLeg[]): Transfer[] {
  return legs.map((leg, index) => ({
    id: BigInt(leg.transferId),
    debitAccountId: BigInt(leg.debitAccountId),
    creditAccountId: walletId,
    amount: BigInt(leg.amountMicros),
    ledger: ledgers.usd,
    code: transferCodes.refund,
    flags: { linked: index < legs.length - 1 },
  }));
}

function outcomeOf(results: readonly CreateTransferResult[]): 'succeeded' | 'insufficientFunds' {
  const failure = results.find((result) => result !== 'ok' && result !== 'linkedEventFailed');
  if (failure === undefined) return 'succeeded';
  if (failure === 'exceedsCredits') return 'insufficientFunds';
  throw new Error(`bug: a refund's transfers failed with ${failure}`);
}
