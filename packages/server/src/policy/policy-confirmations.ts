/**
 * Confirming a challenged request (DESIGN.md section 8, issue 15 item 3): a `challenge` asks the
 * user to confirm; the user does so in the wallet, the pay window or through the client SDK's
 * `approve` callback, and then retries the request with header `Mite-Policy-Confirmation`
 * naming the decision. The retry goes ahead once: the gate uses the confirmation up with a
 * conditional write (policy-decisions.ts), so two retries racing with one confirmation let one
 * through, and a confirmation sent again is refused.
 *
 * A confirmation covers the request that was challenged and nothing else: the same user, the same
 * kind of request, the same merchant and the same amount, within `challengeConfirmationTtlMs` of
 * the decision. A `block` is never confirmed.
 */
import type { TransactionBatcher } from '../db/transaction-batcher.ts';
import type { PlatformDb } from '../db/platform-db.ts';
import { fail, ok, type Result } from '../result.ts';
import type { PolicySubject } from './policy.ts';

/**
 * How long after a challenge the user may confirm it, and the retry use the confirmation: long
 * enough to read the message and answer it, short enough that a confirmation does not linger as
 * a standing permission.
 */
export const challengeConfirmationTtlMs = 10 * 60 * 1000;

/** The header a retry names the confirmed decision in. */
export const policyConfirmationHeader = 'mite-policy-confirmation';

/** What a decision id looks like (`pdc_` and a UUIDv7): anything else is not one. */
export const policyDecisionIdPattern =
  /^pdc_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Why a confirmation is refused. */
export type ConfirmationRefusal =
  | 'policyDecisionNotFound'
  | 'policyBlockNotConfirmable'
  | 'policyConfirmationExpired'
  | 'policyConfirmationUsed';

/** A confirmed decision, as its user is told. */
export interface Confirmation {
  readonly decisionId: string;
  readonly confirmedAtMs: number;
  /** Until when the retry may use it. */
  readonly expiresAtMs: number;
}

/** The retry's side: the decision it names and the record it is to make. */
export interface PresentedConfirmation {
  readonly decisionId: string;
  /** The id of the payment, top-up or token withdrawal the request makes, for the review. */
  readonly requestId: string;
}

export interface PolicyConfirmationsDeps {
  readonly platform: PlatformDb;
  readonly batcher: TransactionBatcher;
  readonly clock: () => number;
}

export interface PolicyConfirmations {
  /** The user confirms their own challenged decision. */
  confirm(userId: string, decisionId: string): Promise<Result<Confirmation, ConfirmationRefusal>>;
  /**
   * Uses the confirmation up for this request, if it covers it: true at most once per decision,
   * whoever asks at the same time.
   */
  consume(subject: PolicySubject, presented: PresentedConfirmation): Promise<boolean>;
}

export function createPolicyConfirmations(deps: PolicyConfirmationsDeps): PolicyConfirmations {
  const { platform, batcher, clock } = deps;
  const db = platform.db;

  async function confirm(
    userId: string,
    decisionId: string,
  ): Promise<Result<Confirmation, ConfirmationRefusal>> {
    const row = await db
      .selectFrom('policy_decisions')
      .select(['verdict', 'created_at', 'confirmed_at', 'consumed_at'])
      .where('id', '=', decisionId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    // Another user's decision is answered as none: its existence is not theirs to learn.
    if (row === undefined) return fail('policyDecisionNotFound', 'no such decision of yours');
    if (row.verdict !== 'challenge') {
      return fail('policyBlockNotConfirmable', 'this request was blocked; it cannot be confirmed');
    }
    if (row.consumed_at !== null) {
      return fail('policyConfirmationUsed', 'this confirmation was used already');
    }
    const nowMs = clock();
    const expiresAtMs = Number(row.created_at) + challengeConfirmationTtlMs;
    if (nowMs > expiresAtMs) {
      return fail('policyConfirmationExpired', 'this challenge is too old to confirm: ask again');
    }
    // Confirming again changes nothing: the first time stands.
    await batcher.run((tx) =>
      tx
        .updateTable('policy_decisions')
        .set({ confirmed_at: BigInt(nowMs) })
        .where('id', '=', decisionId)
        .where('confirmed_at', 'is', null)
        .execute(),
    );
    const confirmedAt = row.confirmed_at ?? BigInt(nowMs);
    return ok({ decisionId, confirmedAtMs: Number(confirmedAt), expiresAtMs });
  }

  async function consume(
    subject: PolicySubject,
    presented: PresentedConfirmation,
  ): Promise<boolean> {
    const nowMs = clock();
    const merchantId = subject.kind === 'purchase' ? subject.merchantId : null;
    const result = await batcher.run((tx) =>
      tx
        .updateTable('policy_decisions')
        .set({ consumed_at: BigInt(nowMs), consumed_by: presented.requestId })
        .where('id', '=', presented.decisionId)
        .where('user_id', '=', subject.userId)
        .where('subject', '=', subject.kind)
        .where('merchant_id', merchantId === null ? 'is' : '=', merchantId)
        .where('amount_micros', '=', subject.amountMicros.toString())
        .where('verdict', '=', 'challenge')
        .where('confirmed_at', 'is not', null)
        .where('consumed_at', 'is', null)
        .where('created_at', '>=', BigInt(nowMs - challengeConfirmationTtlMs))
        .executeTakeFirst(),
    );
    return result.numUpdatedRows === 1n;
  }

  return { confirm, consume };
}

/**
 * The decision a retry names in `Mite-Policy-Confirmation`: undefined when it names none, a
 * failure when the header is not one decision id.
 */
export function presentedDecisionId(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): Result<string | undefined, 'validationFailed'> {
  const value = headers[policyConfirmationHeader];
  if (value === undefined) return ok(undefined);
  if (typeof value !== 'string' || !policyDecisionIdPattern.test(value)) {
    return fail('validationFailed', 'Mite-Policy-Confirmation names one decision id (pdc_...)');
  }
  return ok(value);
}
