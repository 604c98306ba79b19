/**
 * Answers for purchases whose request was cut off (the node crashed or was killed between taking
 * the Idempotency-Key and storing the response). Its idempotency record stays "in progress", so
 * that a retry would get 409 for the record's whole retention although the reconciler has long
 * finished the payment. This job, run after the reconciler on every node, stores for each such
 * record the answer the request would have given: the payment's receipt or failure, or, when no
 * payment was recorded at all, nothing (the record is dropped, so a retry runs anew; the unique
 * (user, Idempotency-Key) of payments keeps that from ever paying twice).
 */
import type { PlatformDb } from '../db/platform-db.ts';
import type { TransactionBatcher } from '../db/transaction-batcher.ts';
import type { IdempotencyStore } from '../idempotency/idempotency-store.ts';
import { paymentPendingGraceMs, type PaymentService } from './payment-service.ts';
import { purchaseResponse } from './purchase-response.ts';

/** The request whose cut-off records this job answers, as the idempotency plugin keys them. */
export const purchaseRequest = { method: 'POST', path: '/v1/payments' } as const;
/** A record in progress this long was cut off: a live purchase answers within seconds. */
export const cutOffAfterMs = paymentPendingGraceMs;
/** Records answered per run, so that one run stays short; the next run takes the rest. */
export const cutOffAnswersPerRunMax = 500;

const userPrincipalPrefix = 'user:';

export interface CutOffPurchasesDeps {
  readonly platform: PlatformDb;
  readonly batcher: TransactionBatcher;
  readonly idempotency: IdempotencyStore;
  readonly payments: Pick<PaymentService, 'findByIdempotencyKey' | 'answerOf'>;
  readonly clock: () => number;
}

export function createCutOffPurchases(deps: CutOffPurchasesDeps) {
  const { platform, batcher, idempotency, payments, clock } = deps;

  /** Answers the cut-off purchase records; returns how many it settled. */
  async function answerCutOff(): Promise<number> {
    const stale = await platform.db
      .selectFrom('idempotency_records')
      .select(['principal', 'idempotency_key'])
      .where('state', '=', 'in_progress')
      .where('created_at', '<', BigInt(clock() - cutOffAfterMs))
      .where('method', '=', purchaseRequest.method)
      .where('path', '=', purchaseRequest.path)
      .limit(cutOffAnswersPerRunMax)
      .execute();
    let settled = 0;
    for (const { principal, idempotency_key: key } of stale) {
      if (!principal.startsWith(userPrincipalPrefix)) continue;
      const userId = principal.slice(userPrincipalPrefix.length);
      const payment = await payments.findByIdempotencyKey(userId, key);
      if (payment === undefined) {
        if (await idempotency.abandon({ principal, key })) settled += 1;
        continue;
      }
      // Still pending: the reconciler, which runs first, finishes it once past its grace.
      if (payment.state === 'pending') continue;
      const response = purchaseResponse(payments.answerOf(payment));
      const stored = await batcher.run((tx) =>
        idempotency.completeWithin(tx, { principal, key, ...response }),
      );
      if (stored) settled += 1;
    }
    return settled;
  }

  return { answerCutOff };
}

export type CutOffPurchases = ReturnType<typeof createCutOffPurchases>;
