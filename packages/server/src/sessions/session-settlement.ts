/**
 * Settling a session (issue 16 item 3): the platform posts its holds for exactly the accepted
 * voucher and releases the rest, and pays the merchant from the session-holds account as a
 * purchase of that amount is paid (its legs, the platform's fee), all in one linked ledger chain.
 *
 * Once, by the database and the ledger: the session moves to `settling` by a conditional write
 * that fixes the amount (the accepted voucher, which nothing may raise after), then the chain's
 * transfer ids are fixed by another (the first writer's plan wins), so that whoever finishes the
 * settlement (the request, or the sweeper after a crash) submits the same chain, which the ledger
 * makes once. The settled state, the payment that records it (so that the merchant's reports,
 * payouts and refunds see it as any purchase), the monthly spending given back for what was not
 * used and the merchant's `session.settled` webhook event commit together.
 */
import type { CreateTransferResult, Transfer } from '@mite/ledger';
import { formatAmount } from '@mite/protocol';
import type { Transaction } from 'kysely';
import { uuidv7 } from 'uuidv7';
import { retryingDeadlocks } from '../db/deadlocks.ts';
import type { PlatformSchema, SessionCloseReason } from '../db/schema.ts';
import { chainUserData } from '../ledger/chain-user-data.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import { giveBackSpending } from '../limits/monthly-spending.ts';
import type { Leg } from '../payments/purchase-pricing.ts';
import { enqueueWebhookEvent } from '../webhooks/outbox.ts';
import type { SessionContext } from './session-context.ts';
import {
  holdsOf,
  type HoldRow,
  sessionById,
  type SessionRow,
  sessionStepGraceMs,
} from './session-records.ts';

/** How many times a settlement re-reads a session that changed under its conditional write. */
const settleAttemptsMax = 8;

/** The chain that settles a session: each hold posted (for part of it) or voided, then the legs. */
interface SettlementPlan {
  readonly resolutions: readonly {
    readonly sequence: number;
    readonly transferId: string;
    readonly postedMicros: string;
  }[];
  readonly legs: readonly Leg[];
}

export function createSessionSettlement(
  context: SessionContext,
  steps: { finishHold(row: SessionRow, hold: HoldRow): Promise<void> },
) {
  const { platform, batcher, ledger, pricing, clock, transferIds } = context;
  const db = platform.db;

  /**
   * Settles the session at its accepted voucher, for `reason` (kept if the session was closing:
   * its client asked first). A session settled already is answered as it is.
   */
  async function settle(sessionId: string, reason: SessionCloseReason): Promise<SessionRow> {
    const row = await beginSettling(sessionId, reason);
    if (row.state !== 'settling') return row;
    for (const hold of await holdsOf(db, sessionId)) {
      // A top-up cut off mid-way: its transfer may be made; submitting it again decides.
      if (hold.state === 'pending') await steps.finishHold(row, hold);
    }
    const holds = await holdsOf(db, sessionId);
    const plan = await planOf(row, holds);
    const walletId = await context.walletIdOf(row.user_id);
    const results = await ledger.createTransfers(chainOf(row, holds, plan, walletId));
    checkChain(row.id, results);
    await retryingDeadlocks(() => batcher.run((tx) => recordSettled(tx, row, holds, plan)));
    const settled = await sessionById(db, sessionId);
    if (settled === undefined) throw new Error(`bug: session ${sessionId} vanished`);
    return settled;
  }

  /** Moves an open or closing session to `settling`, fixing what it pays; returns it as it is. */
  async function beginSettling(sessionId: string, reason: SessionCloseReason): Promise<SessionRow> {
    for (let attempt = 0; attempt < settleAttemptsMax; attempt += 1) {
      const row = await sessionById(db, sessionId);
      if (row === undefined)
        throw new Error(`bug: settling session ${sessionId}, which does not exist`);
      if (row.state !== 'open' && row.state !== 'closing') return row;
      const settledMicros = BigInt(row.accepted_micros);
      const nowMs = clock();
      const begun = await batcher.run((tx) =>
        tx
          .updateTable('payment_sessions')
          .set({
            state: 'settling',
            settled_micros: settledMicros.toString(),
            payment_id: settledMicros === 0n ? null : `pay_${uuidv7()}`,
            close_reason: row.close_reason ?? reason,
            close_at: null,
            due_at: BigInt(nowMs + sessionStepGraceMs),
          })
          .where('id', '=', sessionId)
          .where('state', '=', row.state)
          .where('accepted_micros', '=', row.accepted_micros)
          .executeTakeFirst(),
      );
      if (begun.numUpdatedRows > 0n) {
        const settling = await sessionById(db, sessionId);
        if (settling === undefined) throw new Error(`bug: session ${sessionId} vanished`);
        return settling;
      }
    }
    throw new Error(`session ${sessionId} kept changing while it was being settled`);
  }

  /** The session's chain, fixed once: a plan stored already (by a crashed attempt) is reused. */
  async function planOf(row: SessionRow, holds: readonly HoldRow[]): Promise<SettlementPlan> {
    if (row.settlement !== null) return JSON.parse(row.settlement) as SettlementPlan;
    const plan = await newPlan(row, holds);
    await batcher.run((tx) =>
      tx
        .updateTable('payment_sessions')
        .set({ settlement: JSON.stringify(plan) })
        .where('id', '=', row.id)
        .where('settlement', 'is', null)
        .execute(),
    );
    const stored = await sessionById(db, row.id);
    if (stored?.settlement == null) throw new Error(`bug: session ${row.id} lost its plan`);
    return JSON.parse(stored.settlement) as SettlementPlan;
  }

  /** Posts holds in order until the settled amount is covered, voids the rest, then the legs. */
  async function newPlan(row: SessionRow, holds: readonly HoldRow[]): Promise<SettlementPlan> {
    let leftMicros = BigInt(row.settled_micros ?? '0');
    const resolutions = holds
      .filter((hold) => hold.state === 'held')
      .map((hold) => {
        const amountMicros = BigInt(hold.amount_micros);
        const postedMicros = leftMicros < amountMicros ? leftMicros : amountMicros;
        leftMicros -= postedMicros;
        return {
          sequence: hold.sequence,
          transferId: transferIds.next().toString(),
          postedMicros: postedMicros.toString(),
        };
      });
    if (leftMicros !== 0n) {
      throw new Error(`bug: session ${row.id} settles ${leftMicros} more than it holds`);
    }
    const settledMicros = BigInt(row.settled_micros ?? '0');
    const pricer = await pricing.pricerFor({
      merchantId: row.merchant_id,
      priceMicros: settledMicros,
      splits: [{ merchantId: row.merchant_id, shareBasisPoints: 10_000 }],
    });
    return { resolutions, legs: settledMicros === 0n ? [] : pricer(settledMicros) };
  }

  function chainOf(
    row: SessionRow,
    holds: readonly HoldRow[],
    plan: SettlementPlan,
    walletId: bigint,
  ): Transfer[] {
    const userData = row.payment_id === null ? 0n : chainUserData(row.payment_id);
    const transfers: Transfer[] = plan.resolutions.map((resolution) => {
      const hold = holds.find((candidate) => candidate.sequence === resolution.sequence);
      if (hold === undefined)
        throw new Error(`bug: session ${row.id} lost hold ${resolution.sequence}`);
      const posted = BigInt(resolution.postedMicros);
      return {
        id: BigInt(resolution.transferId),
        debitAccountId: walletId,
        creditAccountId: platformAccountIds.sessionHolds,
        amount: posted === 0n ? BigInt(hold.amount_micros) : posted,
        ledger: ledgers.usd,
        code: transferCodes.sessionHold,
        pendingId: BigInt(hold.transfer_id),
        flags: posted === 0n ? { voidPending: true } : { postPending: true },
        userData,
      };
    });
    for (const leg of plan.legs) {
      transfers.push({
        id: BigInt(leg.transferId),
        debitAccountId: platformAccountIds.sessionHolds,
        creditAccountId: BigInt(leg.creditAccountId),
        amount: BigInt(leg.amountMicros),
        ledger: ledgers.usd,
        code: leg.code,
        userData,
      });
    }
    return transfers.map((transfer, index) => ({
      ...transfer,
      flags: { ...transfer.flags, linked: index < transfers.length - 1 },
    }));
  }

  /** The session settled, with its payment, the spending it did not use, and its event. */
  async function recordSettled(
    tx: Transaction<PlatformSchema>,
    row: SessionRow,
    holds: readonly HoldRow[],
    plan: SettlementPlan,
  ): Promise<void> {
    const nowMs = BigInt(clock());
    const ended = await tx
      .updateTable('payment_sessions')
      .set({ state: 'settled', closed_at: nowMs, due_at: null })
      .where('id', '=', row.id)
      .where('state', '=', 'settling')
      .executeTakeFirst();
    if (ended.numUpdatedRows === 0n) return;
    for (const resolution of plan.resolutions) {
      const hold = holds.find((candidate) => candidate.sequence === resolution.sequence);
      if (hold === undefined) continue;
      const unusedMicros = BigInt(hold.amount_micros) - BigInt(resolution.postedMicros);
      if (unusedMicros > 0n) await giveBackSpending(tx, row.user_id, hold.spending, unusedMicros);
    }
    const settledMicros = BigInt(row.settled_micros ?? '0');
    if (row.payment_id !== null) await insertPayment(tx, row, holds, plan, nowMs);
    await enqueueWebhookEvent(tx, {
      merchantId: row.merchant_id,
      type: 'session.settled',
      payload: {
        sessionId: row.id,
        paymentId: row.payment_id,
        amount: formatAmount(settledMicros),
        currency: 'USD',
        payer: context.pseudonym(row.user_id, row.merchant_id),
        resource: row.resource,
      },
      nowMs: Number(nowMs),
    });
  }

  /** The settlement's payment: succeeded, as its chain is durable; refunds reverse its legs. */
  async function insertPayment(
    tx: Transaction<PlatformSchema>,
    row: SessionRow,
    holds: readonly HoldRow[],
    plan: SettlementPlan,
    nowMs: bigint,
  ): Promise<void> {
    await tx
      .insertInto('payments')
      .values({
        id: row.payment_id ?? '',
        user_id: row.user_id,
        merchant_id: row.merchant_id,
        offer_id: null,
        resource: row.resource,
        challenge_id: null,
        amount_micros: row.settled_micros ?? '0',
        state: 'succeeded',
        failure_code: null,
        legs: JSON.stringify(plan.legs),
        access_until: nowMs,
        created_at: row.opened_at,
        completed_at: nowMs,
        idempotency_key: null,
        // A refund gives back to the month the session opened in (its first hold's).
        spending: holds[0]?.spending ?? null,
      })
      .onConflict((conflict) => conflict.column('id').doNothing())
      .execute();
  }

  return { settle };
}

export type SessionSettlement = ReturnType<typeof createSessionSettlement>;

/**
 * A chain is all or nothing: `exists` everywhere is an earlier submission of the same chain.
 * Anything else (a hold the ledger released on its own after its margin, or a bug) leaves the
 * session settling, to be looked at, rather than recorded as paid.
 */
function checkChain(sessionId: string, results: readonly CreateTransferResult[]): void {
  const failure = results.find(
    (result) => result !== 'ok' && result !== 'exists' && result !== 'linkedEventFailed',
  );
  if (failure !== undefined) {
    throw new Error(`session ${sessionId}'s settlement chain failed with ${failure}`);
  }
}
