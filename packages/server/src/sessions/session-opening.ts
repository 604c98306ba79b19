/**
 * Opening a session and topping it up (issue 16 item 1 and 3): the merchant's session challenge
 * is read, the deposit put to the platform's policy and counted against the monthly caps as a
 * purchase of that much would be, then held from the wallet as a pending ledger transfer; the
 * answer is the platform's signed grant, which the merchant verifies offline.
 *
 * Exactly once, by the database: a session is unique per (user, Idempotency-Key), a top-up per
 * (session, Idempotency-Key); each is recorded with its hold's fixed transfer id before the ledger
 * is asked, so that a retry or the sweeper finishes it with the same transfer.
 */
import {
  baseUnitsMicros,
  type ChallengeEcho,
  checkSessionChallengeTimes,
  decodeBase64url,
  paywordChainLengthMax,
  sessionChallengeFromEcho,
  type SessionChallenge,
} from '@mite/protocol';
import type { Insertable, Transaction } from 'kysely';
import { uuidv7 } from 'uuidv7';
import { retryingDeadlocks } from '../db/deadlocks.ts';
import type { PaymentSessionsTable, PlatformSchema } from '../db/schema.ts';
import {
  addSpending,
  countedSpendingJson,
  type SpendingCharge,
  type SpendingPlan,
} from '../limits/monthly-spending.ts';
import type { PurchaseFacts, RequestOrigin } from '../policy/policy.ts';
import { type PolicyRefusal, stops } from '../policy/policy-decisions.ts';
import { fail, ok, type Result } from '../result.ts';
import { holdTransfer, recordHoldOutcome, submitHold } from './session-holds.ts';
import { createTopUps } from './session-top-ups.ts';
import {
  holdsOf,
  type HoldRow,
  sessionById,
  sessionDepositMaxMicros,
  sessionLifetimeMs,
  type SessionRow,
  sessionStepGraceMs,
} from './session-records.ts';
import type { SessionContext } from './session-context.ts';

/** How the client commits to its vouchers at open. */
export type CommitmentInput =
  | { readonly kind: 'payword'; readonly anchor: string; readonly chainLength: number }
  | { readonly kind: 'ed25519'; readonly key: string };

export interface OpenRequest {
  readonly userId: string;
  readonly idempotencyKey: string;
  readonly challenge: ChallengeEcho;
  readonly depositMicros: bigint;
  readonly commitment: CommitmentInput;
  readonly origin?: RequestOrigin;
  readonly confirmationId?: string;
}

export type OpenFailure =
  | 'sessionTermsInvalid'
  | 'challengeExpired'
  | 'merchantNotFound'
  | 'insufficientFunds'
  | 'idempotencyKeyReused'
  | PolicyRefusal;

export type TopUpFailure =
  | 'sessionNotFound'
  | 'sessionClosed'
  | 'sessionTermsInvalid'
  | 'insufficientFunds'
  | 'idempotencyKeyReused'
  | PolicyRefusal;

/** A session's state after a step, with what it holds: enough to sign its grant. */
export interface SessionState {
  readonly row: SessionRow;
  readonly holds: readonly HoldRow[];
}

export function createSessionOpening(context: SessionContext) {
  const { platform, batcher, ledger, policy, limits, pricing, clock, transferIds } = context;
  const db = platform.db;

  async function open(request: OpenRequest): Promise<Result<SessionState, OpenFailure>> {
    const nowMs = clock();
    const earlier = await rowByKey(request.userId, request.idempotencyKey);
    if (earlier !== undefined) return answerOpen(earlier, request);
    const terms = await termsOf(request, nowMs);
    if (!terms.ok) return terms;
    const challenge = terms.value;
    const merchantId = challenge.request.recipient;
    const sessionId = `ses_${uuidv7().replaceAll('-', '')}`;
    const resource = challenge.request.methodDetails.resource;
    const subject = await depositSubject(context, {
      userId: request.userId,
      merchantId,
      resource,
      amountMicros: request.depositMicros,
      nowMs,
      origin: request.origin,
    });
    const presented =
      request.confirmationId === undefined
        ? undefined
        : { decisionId: request.confirmationId, requestId: sessionId };
    const decision = await policy.decide(subject, presented);
    if (stops(decision)) return policy.refuse(subject, decision);
    const plan = await limits.planFor(subject);
    const row = newSessionRow(sessionId, request, challenge, nowMs);
    const hold: HoldRow = {
      session_id: sessionId,
      sequence: 0,
      idempotency_key: null,
      transfer_id: transferIds.next().toString(),
      amount_micros: request.depositMicros.toString(),
      state: 'pending',
      spending: countedSpendingJson(plan),
      created_at: BigInt(nowMs),
    };
    const recorded = await retryingDeadlocks(() =>
      batcher.run((tx) => recordOpening(tx, row, hold, plan)),
    );
    if (recorded.kind === 'capReached')
      return policy.refuse(subject, limits.refusalFor(subject, recorded.charge));
    const made = await rowByKey(request.userId, request.idempotencyKey);
    if (made === undefined) throw new Error('bug: a session vanished after its insert');
    return recorded.kind === 'exists' ? answerOpen(made, request) : finishOpening(made);
  }

  /** The challenge as a session challenge, usable now, and the deposit and commitment it fits. */
  async function termsOf(
    request: OpenRequest,
    nowMs: number,
  ): Promise<Result<SessionChallenge, OpenFailure>> {
    const parsed = sessionChallengeFromEcho(request.challenge);
    if (!parsed.ok) return fail('sessionTermsInvalid', `challenge: ${parsed.detail}`);
    const timely = checkSessionChallengeTimes(parsed.value, Math.floor(nowMs / 1000));
    if (!timely.ok) {
      return timely.code === 'challengeExpired'
        ? fail('challengeExpired', timely.detail)
        : fail('sessionTermsInvalid', timely.detail);
    }
    const challenge = timely.value;
    if (challenge.request.currency !== 'usd')
      return fail('sessionTermsInvalid', 'Mite sessions are in USD');
    if ((await pricing.termsOf(challenge.request.recipient)) === undefined) {
      return fail('merchantNotFound', `no merchant ${challenge.request.recipient}`);
    }
    const misfit = commitmentMisfit(challenge, request.depositMicros, request.commitment);
    return misfit === undefined ? ok(challenge) : fail('sessionTermsInvalid', misfit);
  }

  async function rowByKey(userId: string, idempotencyKey: string): Promise<SessionRow | undefined> {
    return (await db
      .selectFrom('payment_sessions')
      .selectAll()
      .where('user_id', '=', userId)
      .where('idempotency_key', '=', idempotencyKey)
      .executeTakeFirst()) as SessionRow | undefined;
  }

  /** The session an earlier open under the key made, if it was this open; finished if need be. */
  async function answerOpen(
    row: SessionRow,
    request: OpenRequest,
  ): Promise<Result<SessionState, OpenFailure>> {
    const commitment =
      request.commitment.kind === 'payword' ? request.commitment.anchor : request.commitment.key;
    const same = row.challenge_id === request.challenge.id && row.commitment === commitment;
    if (!same) return fail('idempotencyKeyReused', 'this Idempotency-Key opened another session');
    return finishOpening(row);
  }

  /** Submits the first hold (again, if need be) and answers with the session as it then is. */
  async function finishOpening(row: SessionRow): Promise<Result<SessionState, OpenFailure>> {
    if (row.state === 'opening') {
      const [hold] = await holdsOf(db, row.id);
      if (hold === undefined) throw new Error(`bug: session ${row.id} has no first hold`);
      await finishHold(row, hold);
    }
    const state = await stateOf(row.id);
    if (state.row.state === 'failed')
      return fail('insufficientFunds', 'the wallet holds less than the deposit');
    return ok(state);
  }

  /** Submits a hold's transfer and records its outcome (both at most once in effect). */
  async function finishHold(row: SessionRow, hold: HoldRow): Promise<void> {
    const walletId = await context.walletIdOf(row.user_id);
    const nowMs = clock();
    const outcome = await submitHold(ledger, holdTransfer(hold, walletId, row.open_until, nowMs));
    await retryingDeadlocks(() =>
      batcher.run((tx) => recordHoldOutcome(tx, hold, outcome, row.user_id, clock())),
    );
  }

  async function stateOf(sessionId: string): Promise<SessionState> {
    const row = await sessionById(db, sessionId);
    if (row === undefined) throw new Error(`bug: session ${sessionId} vanished`);
    return { row, holds: await holdsOf(db, sessionId) };
  }

  return { open, finishHold, stateOf, ...createTopUps(context, { finishHold, stateOf }) };

  /** The session and its first hold, with the hold's monthly spending; a cap refuses it whole. */
  async function recordOpening(
    tx: Transaction<PlatformSchema>,
    row: Insertable<PaymentSessionsTable>,
    hold: HoldRow,
    plan: SpendingPlan,
  ): Promise<
    { kind: 'recorded' } | { kind: 'exists' } | { kind: 'capReached'; charge: SpendingCharge }
  > {
    const inserted = await tx
      .insertInto('payment_sessions')
      .values(row)
      .onConflict((conflict) => conflict.columns(['user_id', 'idempotency_key']).doNothing())
      .executeTakeFirst();
    if (inserted.numInsertedOrUpdatedRows === 0n) return { kind: 'exists' };
    const refused = await addSpending(tx, row.user_id, plan, BigInt(hold.amount_micros));
    if (refused !== undefined) {
      await tx.deleteFrom('payment_sessions').where('id', '=', row.id).execute();
      return { kind: 'capReached', charge: refused };
    }
    await tx.insertInto('payment_session_holds').values(hold).execute();
    return { kind: 'recorded' };
  }
}

/** What the policy is told of a session's deposit: a purchase of that much from the merchant. */
export async function depositSubject(
  context: SessionContext,
  deposit: {
    readonly userId: string;
    readonly merchantId: string;
    readonly resource: string;
    readonly amountMicros: bigint;
    readonly nowMs: number;
    readonly origin: RequestOrigin | undefined;
  },
): Promise<PurchaseFacts> {
  const { userId, merchantId, resource, amountMicros, nowMs, origin } = deposit;
  const seller = await context.pricing.termsOf(merchantId);
  if (seller === undefined) throw new Error(`bug: merchant ${merchantId} not found`);
  return {
    kind: 'purchase',
    userId,
    merchantId,
    amountMicros,
    offerId: null,
    resource,
    spendingCategory: seller.spendingCategory,
    resellable: seller.resellable,
    atMs: nowMs,
    ...(origin === undefined ? {} : { origin }),
  };
}

/** Why a deposit and commitment do not fit a challenge, or undefined when they do. */
function commitmentMisfit(
  challenge: SessionChallenge,
  depositMicros: bigint,
  commitment: CommitmentInput,
): string | undefined {
  const { request } = challenge;
  const unitMicros = baseUnitsMicros(request.amount);
  const deltaMicros = baseUnitsMicros(request.methodDetails.minVoucherDelta);
  if (!request.methodDetails.vouchers.includes(commitment.kind)) {
    return `the merchant takes ${request.methodDetails.vouchers.join(' or ')} vouchers, not ${commitment.kind}`;
  }
  if (depositMicros < unitMicros || depositMicros < deltaMicros)
    return 'the deposit pays for less than one step';
  if (depositMicros > sessionDepositMaxMicros)
    return `a session holds ${sessionDepositMaxMicros} micro-units at most`;
  const key = decodeBase64url(
    commitment.kind === 'payword' ? commitment.anchor : commitment.key,
    64,
  );
  if (!key.ok || key.value.length !== 32) return 'the commitment is 32 bytes, base64url';
  if (commitment.kind === 'payword') {
    if (
      !Number.isSafeInteger(commitment.chainLength) ||
      commitment.chainLength < 1 ||
      commitment.chainLength > paywordChainLengthMax
    ) {
      return `a PayWord chain is 1 to ${paywordChainLengthMax} units long`;
    }
    if (BigInt(commitment.chainLength) * unitMicros < depositMicros)
      return 'the chain is too short to pay the deposit';
  }
  return undefined;
}

function newSessionRow(
  sessionId: string,
  request: OpenRequest,
  challenge: SessionChallenge,
  nowMs: number,
): Insertable<PaymentSessionsTable> & { id: string; user_id: string } {
  const { commitment } = request;
  const details = challenge.request.methodDetails;
  return {
    id: sessionId,
    user_id: request.userId,
    merchant_id: challenge.request.recipient,
    idempotency_key: request.idempotencyKey,
    challenge_id: challenge.id,
    resource: details.resource,
    unit_price_micros: baseUnitsMicros(challenge.request.amount).toString(),
    unit_type: challenge.request.unitType,
    min_voucher_delta_micros: baseUnitsMicros(details.minVoucherDelta).toString(),
    idle_timeout_seconds: details.idleTimeoutSeconds,
    voucher_kind: commitment.kind,
    commitment: commitment.kind === 'payword' ? commitment.anchor : commitment.key,
    chain_length: commitment.kind === 'payword' ? commitment.chainLength : null,
    deposit_micros: '0',
    sequence: 0,
    accepted_micros: '0',
    accepted_proof: null,
    state: 'opening',
    failure_code: null,
    close_reason: null,
    settled_micros: null,
    settlement: null,
    payment_id: null,
    opened_at: BigInt(nowMs),
    last_activity_at: BigInt(nowMs),
    open_until: BigInt(nowMs + sessionLifetimeMs),
    close_at: null,
    closed_at: null,
    due_at: BigInt(nowMs + sessionStepGraceMs),
  };
}
