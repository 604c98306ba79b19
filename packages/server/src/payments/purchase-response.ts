/**
 * The HTTP answer to a purchase's outcome, as `POST /v1/payments` sends it: the same bytes for the
 * same payment whenever it is asked (a retry is answered from the payment's record), so the
 * problem document of a failure names no occurrence (`instance`).
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
