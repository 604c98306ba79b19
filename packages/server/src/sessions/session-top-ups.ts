/**
 * Topping a session up (issue 16 item 3): another deposit held for the same session, put to the
 * policy and the monthly caps as the first one was. A top-up is recorded only while the session
 * is open, in the same transaction that takes the next sequence number from the session's row,
 * so that once a settlement has begun no new hold can join it.
 */
import type { Transaction } from 'kysely';
import { retryingDeadlocks } from '../db/deadlocks.ts';
import type { PlatformSchema } from '../db/schema.ts';
import {
  addSpending,
  countedSpendingJson,
  giveBackSpending,
  type SpendingCharge,
  type SpendingPlan,
} from '../limits/monthly-spending.ts';
import type { RequestOrigin } from '../policy/policy.ts';
import { stops } from '../policy/policy-decisions.ts';
import { fail, ok, type Result } from '../result.ts';
import type { SessionContext } from './session-context.ts';
import { depositSubject, type SessionState, type TopUpFailure } from './session-opening.ts';
import {
  type HoldRow,
  openDueAt,
  sessionById,
  sessionDepositMaxMicros,
  type SessionRow,
} from './session-records.ts';

export interface TopUpRequest {
  readonly userId: string;
  readonly sessionId: string;
  readonly idempotencyKey: string;
  readonly amountMicros: bigint;
  readonly origin?: RequestOrigin;
  readonly confirmationId?: string;
}

type Recorded =
  | { kind: 'recorded'; hold: HoldRow }
  | { kind: 'exists' }
  | { kind: 'closed' }
  | { kind: 'capReached'; charge: SpendingCharge };

export function createTopUps(
  context: SessionContext,
  steps: {
    finishHold(row: SessionRow, hold: HoldRow): Promise<void>;
    stateOf(sessionId: string): Promise<SessionState>;
  },
) {
  const { platform, batcher, policy, limits, clock, transferIds } = context;
  const db = platform.db;

  async function topUp(request: TopUpRequest): Promise<Result<SessionState, TopUpFailure>> {
    const row = await sessionById(db, request.sessionId);
    if (row === undefined || row.user_id !== request.userId) return fail('sessionNotFound');
    const earlier = await holdByKey(row.id, request.idempotencyKey);
    if (earlier !== undefined) return answer(row, earlier, request.amountMicros);
    if (row.state !== 'open') return fail('sessionClosed', `the session is ${row.state}`);
    const misfit = topUpMisfit(row, request.amountMicros);
    if (misfit !== undefined) return fail('sessionTermsInvalid', misfit);
    const nowMs = clock();
    const subject = await depositSubject(context, {
      userId: row.user_id,
      merchantId: row.merchant_id,
      resource: row.resource,
      amountMicros: request.amountMicros,
      nowMs,
      origin: request.origin,
    });
    const presented =
      request.confirmationId === undefined
        ? undefined
        : { decisionId: request.confirmationId, requestId: `${row.id}:${request.idempotencyKey}` };
    const decision = await policy.decide(subject, presented);
    if (stops(decision)) return policy.refuse(subject, decision);
    const plan = await limits.planFor(subject);
    const hold = {
      session_id: row.id,
      idempotency_key: request.idempotencyKey,
      transfer_id: transferIds.next().toString(),
      amount_micros: request.amountMicros.toString(),
      state: 'pending' as const,
      spending: countedSpendingJson(plan),
      created_at: BigInt(nowMs),
    };
    const recorded = await retryingDeadlocks(() =>
      batcher.run((tx) => recordTopUp(tx, row.user_id, hold, plan, nowMs)),
    );
    switch (recorded.kind) {
      case 'capReached':
        return policy.refuse(subject, limits.refusalFor(subject, recorded.charge));
      case 'closed':
        return fail('sessionClosed', 'the session closed while it was topped up');
      case 'exists': {
        const made = await holdByKey(row.id, request.idempotencyKey);
        if (made === undefined) throw new Error('bug: a top-up conflicted with nothing');
        return answer(row, made, request.amountMicros);
      }
      case 'recorded':
        return answer(row, recorded.hold, request.amountMicros);
    }
  }

  /** The top-up an Idempotency-Key made, finished if need be, if it was for this amount. */
  async function answer(
    row: SessionRow,
    hold: HoldRow,
    amountMicros: bigint,
  ): Promise<Result<SessionState, TopUpFailure>> {
    if (hold.amount_micros !== amountMicros.toString()) {
      return fail('idempotencyKeyReused', 'this Idempotency-Key topped up another amount');
    }
    if (hold.state === 'pending') await steps.finishHold(row, hold);
    const state = await steps.stateOf(row.id);
    const ended = state.holds.find((candidate) => candidate.sequence === hold.sequence);
    if (ended?.state === 'failed') {
      return fail('insufficientFunds', 'the wallet holds less than the top-up');
    }
    return ok(state);
  }

  async function holdByKey(sessionId: string, key: string): Promise<HoldRow | undefined> {
    return db
      .selectFrom('payment_session_holds')
      .selectAll()
      .where('session_id', '=', sessionId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
  }

  /**
   * The hold and its spending, under the next sequence number, while the session is open; the
   * top-up also counts as the session's activity.
   */
  async function recordTopUp(
    tx: Transaction<PlatformSchema>,
    userId: string,
    hold: Omit<HoldRow, 'sequence'>,
    plan: SpendingPlan,
    nowMs: number,
  ): Promise<Recorded> {
    const amountMicros = BigInt(hold.amount_micros);
    const refused = await addSpending(tx, userId, plan, amountMicros);
    if (refused !== undefined) return { kind: 'capReached', charge: refused };
    const bumped = (await tx
      .updateTable('payment_sessions')
      .set((eb) => ({ sequence: eb('sequence', '+', 1), last_activity_at: BigInt(nowMs) }))
      .where('id', '=', hold.session_id)
      .where('state', '=', 'open')
      .returningAll()
      .executeTakeFirst()) as SessionRow | undefined;
    if (bumped === undefined) {
      await giveBackSpending(tx, userId, hold.spending, amountMicros);
      return { kind: 'closed' };
    }
    await tx
      .updateTable('payment_sessions')
      .set({ due_at: openDueAt(bumped) })
      .where('id', '=', hold.session_id)
      .execute();
    const full: HoldRow = { ...hold, sequence: bumped.sequence };
    const inserted = await tx
      .insertInto('payment_session_holds')
      .values(full)
      .onConflict((conflict) => conflict.columns(['session_id', 'idempotency_key']).doNothing())
      .executeTakeFirst();
    if (inserted.numInsertedOrUpdatedRows === 0n) {
      // A concurrent duplicate under the same key recorded it first: this one counted nothing.
      await giveBackSpending(tx, userId, hold.spending, amountMicros);
      return { kind: 'exists' };
    }
    return { kind: 'recorded', hold: full };
  }

  return { topUp };
}

/** Why a top-up does not fit its session, or undefined when it does. */
function topUpMisfit(row: SessionRow, amountMicros: bigint): string | undefined {
  const depositMicros = BigInt(row.deposit_micros) + amountMicros;
  if (depositMicros > sessionDepositMaxMicros) {
    return `a session holds ${sessionDepositMaxMicros} micro-units at most`;
  }
  if (amountMicros < BigInt(row.min_voucher_delta_micros)) {
    return 'a top-up pays for one step at least';
  }
  if (row.chain_length !== null) {
    const capacity = BigInt(row.chain_length) * BigInt(row.unit_price_micros);
    if (depositMicros > capacity) return 'the PayWord chain is too short to pay this deposit';
  }
  return undefined;
}
