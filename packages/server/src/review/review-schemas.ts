/**
 * The review routes' shapes (review-routes.ts): amounts as the protocol writes them (decimal
 * strings), times as ISO 8601.
 */
import { formatLedgerAmount } from '@mite/protocol';
import { z } from 'zod';
import { isoTime, isoTimeOrNull } from '../operator/operator-schemas.ts';
import type { AccountFreeze, ReviewedDecision } from './policy-review.ts';

export const reviewStates = ['open', 'released', 'fraud'] as const;
export const verdicts = ['challenge', 'block'] as const;

export const decisionSchema = z.object({
  decisionId: z.string(),
  subject: z.enum(['purchase', 'topUp', 'tokenWithdrawal']).describe('What was stopped'),
  userId: z.string().describe('Who asked'),
  merchantId: z.string().nullable().describe('The merchant a purchase would have paid'),
  amount: z.string(),
  verdict: z.enum(verdicts),
  rule: z.string().describe('The rule that decided'),
  reason: z.string().describe('Why, for the operator (the user may have been told less)'),
  createdAt: z.string(),
  reviewState: z
    .enum(reviewStates)
    .describe('`open` until an operator releases it or confirms it as fraud'),
  reviewedBy: z.string().nullable().describe('`operator:<id>`'),
  reviewedAt: z.string().nullable(),
  reviewNote: z.string().nullable(),
});

export function decisionBody(decision: ReviewedDecision): z.infer<typeof decisionSchema> {
  return {
    decisionId: decision.id,
    subject: decision.subject,
    userId: decision.userId,
    merchantId: decision.merchantId,
    amount: formatLedgerAmount(decision.amountMicros),
    verdict: decision.verdict,
    rule: decision.rule,
    reason: decision.reason,
    createdAt: isoTime(decision.createdAtMs),
    reviewState: decision.reviewState,
    reviewedBy: decision.reviewedBy,
    reviewedAt: isoTimeOrNull(decision.reviewedAtMs),
    reviewNote: decision.reviewNote,
  };
}

export const freezeSchema = z.object({
  freezeId: z.string(),
  account: z.object({ kind: z.enum(['user', 'merchant']), id: z.string() }),
  decisionId: z.string().describe('The decision confirmed as fraud that froze it'),
  frozenBy: z.string().describe('`operator:<id>`'),
  frozenAt: z.string(),
  liftedBy: z.string().nullable(),
  liftedAt: z.string().nullable().describe('Null while the freeze is in force'),
});

export function freezeBody(freeze: AccountFreeze): z.infer<typeof freezeSchema> {
  return {
    freezeId: freeze.id,
    account: { ...freeze.account },
    decisionId: freeze.decisionId,
    frozenBy: freeze.frozenBy,
    frozenAt: isoTime(freeze.frozenAtMs),
    liftedBy: freeze.liftedBy,
    liftedAt: isoTimeOrNull(freeze.liftedAtMs),
  };
}
