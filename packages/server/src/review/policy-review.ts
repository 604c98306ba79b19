/**
 * The operator's review of what the policy stopped (issue 15): the decisions recorded in
 * `policy_decisions`, listed with filters newest first, released (the refusal stands, nothing
 * moves; the decision is closed as not fraud) or confirmed as fraud, which freezes the accounts
 * the operator names (table `account_freezes`), until an operator lifts the freeze.
 *
 * Every change is one conditional write: a decision leaves `open` once, so of two operators
 * reviewing it at the same moment one does and the other is told it was reviewed already; a
 * freeze is lifted once. An account has at most one freeze in force (a partial unique index): a
 * fraud confirmed against an account frozen already leaves its freeze as it is.
 */
import type { Selectable, Transaction } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { PlatformDb } from '../db/platform-db.ts';
import type {
  AccountFreezesTable,
  PlatformSchema,
  PolicyDecisionsTable,
  ReviewState,
} from '../db/schema.ts';
import type { TransactionBatcher } from '../db/transaction-batcher.ts';
import { fail, ok, type Result } from '../result.ts';

/** The longest review note: a sentence or two, bounded as every stored field is (migration 0033). */
export const reviewNoteLengthMax = 500;

export interface ReviewedDecision {
  readonly id: string;
  readonly subject: 'purchase' | 'topUp' | 'tokenWithdrawal';
  readonly userId: string;
  readonly merchantId: string | null;
  readonly amountMicros: bigint;
  readonly verdict: 'challenge' | 'block';
  readonly rule: string;
  readonly reason: string;
  readonly createdAtMs: number;
  readonly reviewState: ReviewState;
  readonly reviewedBy: string | null;
  readonly reviewedAtMs: number | null;
  readonly reviewNote: string | null;
}

export interface AccountFreeze {
  readonly id: string;
  readonly account: { readonly kind: 'user' | 'merchant'; readonly id: string };
  readonly decisionId: string;
  readonly frozenBy: string;
  readonly frozenAtMs: number;
  readonly liftedBy: string | null;
  readonly liftedAtMs: number | null;
}

/** Newest-first keyset position: after the item at this time and id. */
export interface TimeCursor {
  readonly atMs: bigint;
  readonly id: string;
}

export interface DecisionFilter {
  readonly verdict?: 'challenge' | 'block' | undefined;
  readonly reviewState?: ReviewState | undefined;
  readonly rule?: string | undefined;
  readonly userId?: string | undefined;
  readonly merchantId?: string | undefined;
  /** Decisions made at or after this time (milliseconds since the epoch). */
  readonly fromMs?: number | undefined;
  /** Decisions made before this time. */
  readonly toMs?: number | undefined;
}

export interface Reviewer {
  /** `<kind>:<id>` of the operator's principal. */
  readonly operator: string;
  readonly note: string;
}

/** Which accounts a confirmed fraud freezes: at least one. */
export interface FreezeChoice {
  readonly user: boolean;
  readonly merchant: boolean;
}

export type ReviewFailure = 'decisionNotFound' | 'decisionReviewed' | 'validationFailed';
export type LiftFailure = 'freezeNotFound' | 'freezeLifted';

export interface PolicyReviewDeps {
  readonly platform: PlatformDb;
  readonly batcher: TransactionBatcher;
  readonly clock: () => number;
}

type DecisionRow = Selectable<PolicyDecisionsTable>;
type FreezeRow = Selectable<AccountFreezesTable>;
type Tx = Transaction<PlatformSchema>;

function decisionOf(row: DecisionRow): ReviewedDecision {
  return {
    id: row.id,
    subject: row.subject,
    userId: row.user_id,
    merchantId: row.merchant_id,
    amountMicros: BigInt(row.amount_micros),
    verdict: row.verdict,
    rule: row.rule,
    reason: row.reason,
    createdAtMs: Number(row.created_at),
    reviewState: row.review_state,
    reviewedBy: row.reviewed_by,
    reviewedAtMs: row.reviewed_at === null ? null : Number(row.reviewed_at),
    reviewNote: row.review_note,
  };
}

function freezeOf(row: FreezeRow): AccountFreeze {
  const account =
    row.user_id !== null
      ? { kind: 'user' as const, id: row.user_id }
      : { kind: 'merchant' as const, id: row.merchant_id ?? '' };
  return {
    id: row.id,
    account,
    decisionId: row.decision_id,
    frozenBy: row.frozen_by,
    frozenAtMs: Number(row.frozen_at),
    liftedBy: row.lifted_by,
    liftedAtMs: row.lifted_at === null ? null : Number(row.lifted_at),
  };
}

export function createPolicyReview(deps: PolicyReviewDeps) {
  const { batcher, clock } = deps;
  const db = deps.platform.db;

  async function listDecisions(
    filter: DecisionFilter & { limit: number; before?: TimeCursor },
  ): Promise<ReviewedDecision[]> {
    const { before } = filter;
    const rows = await db
      .selectFrom('policy_decisions')
      .selectAll()
      .$if(filter.reviewState !== undefined, (q) =>
        q.where('review_state', '=', filter.reviewState ?? 'open'),
      )
      .$if(filter.verdict !== undefined, (q) => q.where('verdict', '=', filter.verdict ?? 'block'))
      .$if(filter.rule !== undefined, (q) => q.where('rule', '=', filter.rule ?? ''))
      .$if(filter.userId !== undefined, (q) => q.where('user_id', '=', filter.userId ?? ''))
      .$if(filter.merchantId !== undefined, (q) =>
        q.where('merchant_id', '=', filter.merchantId ?? ''),
      )
      .$if(filter.fromMs !== undefined, (q) =>
        q.where('created_at', '>=', BigInt(filter.fromMs ?? 0)),
      )
      .$if(filter.toMs !== undefined, (q) => q.where('created_at', '<', BigInt(filter.toMs ?? 0)))
      .$if(before !== undefined, (q) =>
        q.where((eb) =>
          eb.or([
            eb('created_at', '<', before?.atMs ?? 0n),
            eb.and([eb('created_at', '=', before?.atMs ?? 0n), eb('id', '<', before?.id ?? '')]),
          ]),
        ),
      )
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit)
      .execute();
    return rows.map(decisionOf);
  }

  async function getDecision(id: string): Promise<ReviewedDecision | undefined> {
    const row = await db
      .selectFrom('policy_decisions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row === undefined ? undefined : decisionOf(row);
  }

  /**
   * Moves an open decision to `state`, in `tx`: the row as written, or why not (missing,
   * reviewed already by another operator or by this one's earlier request, or naming no merchant
   * when `needsMerchant`).
   */
  async function closeDecision(
    tx: Tx,
    id: string,
    state: Exclude<ReviewState, 'open'>,
    reviewer: Reviewer & { readonly needsMerchant?: boolean },
  ): Promise<Result<DecisionRow, ReviewFailure>> {
    const row = await tx
      .updateTable('policy_decisions')
      .set({
        review_state: state,
        reviewed_by: reviewer.operator,
        reviewed_at: BigInt(clock()),
        review_note: reviewer.note,
      })
      .where('id', '=', id)
      .where('review_state', '=', 'open')
      .$if(reviewer.needsMerchant === true, (q) => q.where('merchant_id', 'is not', null))
      .returningAll()
      .executeTakeFirst();
    if (row !== undefined) return ok(row);
    const found = await tx
      .selectFrom('policy_decisions')
      .select('review_state')
      .where('id', '=', id)
      .executeTakeFirst();
    if (found === undefined) return fail('decisionNotFound');
    if (found.review_state !== 'open') {
      return fail('decisionReviewed', `The decision was reviewed already (${found.review_state}).`);
    }
    return fail('validationFailed', 'The decision names no merchant to freeze.');
  }

  /** Releases an open decision: closed as not fraud. The refusal stands; no money moves. */
  async function release(
    id: string,
    reviewer: Reviewer,
  ): Promise<Result<ReviewedDecision, ReviewFailure>> {
    const closed = await batcher.run((tx) => closeDecision(tx, id, 'released', reviewer));
    return closed.ok ? ok(decisionOf(closed.value)) : closed;
  }

  /**
   * Freezes one account in `tx` for the decision, unless it is frozen already: the freeze in
   * force either way.
   */
  async function freeze(
    tx: Tx,
    account: AccountFreeze['account'],
    decisionId: string,
    operator: string,
  ): Promise<FreezeRow> {
    const column = account.kind === 'user' ? 'user_id' : 'merchant_id';
    await tx
      .insertInto('account_freezes')
      .values({
        id: `frz_${uuidv7()}`,
        user_id: account.kind === 'user' ? account.id : null,
        merchant_id: account.kind === 'merchant' ? account.id : null,
        decision_id: decisionId,
        frozen_by: operator,
        frozen_at: BigInt(clock()),
        lifted_by: null,
        lifted_at: null,
      })
      .onConflict((conflict) => conflict.doNothing())
      .execute();
    const inForce = await tx
      .selectFrom('account_freezes')
      .selectAll()
      .where(column, '=', account.id)
      .where('lifted_at', 'is', null)
      .executeTakeFirstOrThrow();
    return inForce;
  }

  /**
   * Confirms an open decision as fraud and freezes the accounts chosen (the user; for a
   * purchase, the merchant it would have paid), in one transaction.
   */
  async function confirmFraud(
    id: string,
    reviewer: Reviewer,
    choice: FreezeChoice,
  ): Promise<Result<{ decision: ReviewedDecision; freezes: AccountFreeze[] }, ReviewFailure>> {
    if (!choice.user && !choice.merchant) {
      return fail('validationFailed', 'Choose at least one account to freeze.');
    }
    return batcher.run(async (tx) => {
      const closed = await closeDecision(tx, id, 'fraud', {
        ...reviewer,
        needsMerchant: choice.merchant,
      });
      if (!closed.ok) return closed;
      const row = closed.value;
      const accounts: AccountFreeze['account'][] = [];
      if (choice.user) accounts.push({ kind: 'user', id: row.user_id });
      if (choice.merchant && row.merchant_id !== null) {
        accounts.push({ kind: 'merchant', id: row.merchant_id });
      }
      const freezes: AccountFreeze[] = [];
      for (const account of accounts) {
        freezes.push(freezeOf(await freeze(tx, account, id, reviewer.operator)));
      }
      return ok({ decision: decisionOf(row), freezes });
    });
  }

  async function listFreezes(options: {
    limit: number;
    inForce?: boolean | undefined;
    before?: TimeCursor | undefined;
  }): Promise<AccountFreeze[]> {
    const { before } = options;
    const rows = await db
      .selectFrom('account_freezes')
      .selectAll()
      .$if(options.inForce === true, (q) => q.where('lifted_at', 'is', null))
      .$if(options.inForce === false, (q) => q.where('lifted_at', 'is not', null))
      .$if(before !== undefined, (q) =>
        q.where((eb) =>
          eb.or([
            eb('frozen_at', '<', before?.atMs ?? 0n),
            eb.and([eb('frozen_at', '=', before?.atMs ?? 0n), eb('id', '<', before?.id ?? '')]),
          ]),
        ),
      )
      .orderBy('frozen_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit)
      .execute();
    return rows.map(freezeOf);
  }

  /** Lifts a freeze in force, once: the account pays, is paid and paid out again. */
  async function liftFreeze(
    id: string,
    operator: string,
  ): Promise<Result<AccountFreeze, LiftFailure>> {
    return batcher.run(async (tx) => {
      const row = await tx
        .updateTable('account_freezes')
        .set({ lifted_by: operator, lifted_at: BigInt(clock()) })
        .where('id', '=', id)
        .where('lifted_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
      if (row !== undefined) return ok(freezeOf(row));
      const exists = await tx
        .selectFrom('account_freezes')
        .select('id')
        .where('id', '=', id)
        .executeTakeFirst();
      return exists === undefined ? fail('freezeNotFound') : fail('freezeLifted');
    });
  }

  return { listDecisions, getDecision, release, confirmFraud, listFreezes, liftFreeze };
}

export type PolicyReview = ReturnType<typeof createPolicyReview>;
