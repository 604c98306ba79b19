/**
 * The HTTP answer to a purchase's outcome, as `POST /v1/payments` sends it and as its idempotency
 * record keeps it: the purchase core stores it with the outcome, and the cut-off job for requests
 * a crash cut off.
 */
import { problemMediaType } from '@mite/protocol';
import { problem } from '../http/problems.ts';
import type { StoredResponse } from '../idempotency/idempotency-store.ts';
import type { Result } from '../result.ts';
import type { PaidReceipt } from './purchase-receipts.ts';

/** The response to a purchase with this answer. */
export function purchaseResponse(answer: Result<PaidReceipt, string>): StoredResponse {
  if (answer.ok) {
    return {
      status: 201,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(answer.value),
    };
  }
  const code = answer.code as Parameters<typeof problem>[0];
  const body = problem(code, answer.detail, answer.extra);
  return {
    status: body.status,
    headers: { 'content-type': `${problemMediaType}; charset=utf-8` },
    body: JSON.stringify(body),
  };
}
