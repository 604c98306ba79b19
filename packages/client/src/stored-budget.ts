/**
 * The budget a user keeps on the platform (`GET /v1/wallet/budget`) as this client's `Budget`.
 * The platform stores it and checks that it makes sense; enforcing it is the client's job. The
 * field names are the same on both sides, so the work here is checking the answer: an answer
 * that is not a budget is a failure the caller decides about, never a budget of zeros or none.
 */
import { type ExplainedFailure, ok, parseAmount, type Success } from '@mite/protocol';
import type { Budget } from './budget.ts';

/** The limits of `GET /v1/wallet/budget`, as decimal strings. */
export interface StoredBudget {
  readonly maxPerPayment: string;
  readonly maxPerOriginPerDay: string;
  readonly maxTotal: string;
  readonly approveAbove: string;
}

function invalid(detail: string): ExplainedFailure<'invalidBudget'> {
  return { ok: false, code: 'invalidBudget', detail };
}

const storedLimits = ['maxPerPayment', 'maxPerOriginPerDay', 'maxTotal', 'approveAbove'] as const;

/**
 * The client's `Budget` for a stored budget (the platform's JSON answer, parsed), with the
 * `approve` callback that is asked about payments above `approveAbove`; without it, such payments
 * are refused.
 */
export function budgetFromStored(
  stored: unknown,
  approve?: Budget['approve'],
): Success<Budget> | ExplainedFailure<'invalidBudget'> {
  if (typeof stored !== 'object' || stored === null) {
    return invalid('the stored budget is not a JSON object');
  }
  const fields = stored as Record<string, unknown>;
  for (const name of storedLimits) {
    const text = fields[name];
    const parsed = typeof text === 'string' ? parseAmount(text) : undefined;
    if (parsed === undefined || !parsed.ok) {
      return invalid(`the stored budget's ${name} is not an amount`);
    }
  }
  const limits = fields as unknown as StoredBudget;
  return ok({
    maxPerPayment: limits.maxPerPayment,
    maxPerOriginPerDay: limits.maxPerOriginPerDay,
    maxTotal: limits.maxTotal,
    approveAbove: limits.approveAbove,
    ...(approve === undefined ? {} : { approve }),
  });
}
