/**
 * A session's holds: each deposit (the one made at open, and one per top-up) is a pending ledger
 * transfer from the wallet to the session-holds account, with a fixed id recorded before it is
 * submitted, so that a retry, the sweeper or a settlement that finds it pending submits the same
 * transfer (which the ledger makes once) and records its outcome once, conditionally.
 *
 * The session's deposit is the sum of its held holds, written in the transaction that records a
 * hold's outcome after the session's row is locked (an update of it comes first), so that two
 * holds finishing at once on two PostgreSQL connections cannot both write a sum missing the other.
 */
import type { CreateTransferResult, Ledger, Transfer } from '@mite/ledger';
import type { Transaction } from 'kysely';
import type { PlatformSchema } from '../db/schema.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import { giveBackSpending } from '../limits/monthly-spending.ts';
import {
  holdExpiryMarginSeconds,
  type HoldRow,
  openDueAt,
  type SessionRow,
} from './session-records.ts';

export type HoldOutcome = 'held' | 'failed';

/** The pending transfer of a hold; it expires on its own long after the session's lifetime. */
export function holdTransfer(
  hold: HoldRow,
  walletId: bigint,
  openUntilMs: bigint,
  nowMs: number,
): Transfer {
  const lifetimeSeconds = Math.max(1, Math.ceil((Number(openUntilMs) - nowMs) / 1000));
  return {
    id: BigInt(hold.transfer_id),
    debitAccountId: walletId,
    creditAccountId: platformAccountIds.sessionHolds,
    amount: BigInt(hold.amount_micros),
    ledger: ledgers.usd,
    code: transferCodes.sessionHold,
    flags: { pending: true },
    timeoutSeconds: lifetimeSeconds + holdExpiryMarginSeconds,
  };
}

/** Submits a hold's transfer; `exists` means an earlier submission made it. */
export async function submitHold(ledger: Ledger, transfer: Transfer): Promise<HoldOutcome> {
  const [result] = await ledger.createTransfers([transfer]);
  return holdOutcomeOf(result);
}

function holdOutcomeOf(result: CreateTransferResult | undefined): HoldOutcome {
  if (result === 'ok' || result === 'exists') return 'held';
  if (result === 'exceedsCredits' || result === 'idAlreadyFailed') return 'failed';
  throw new Error(`bug: a session hold failed with ${String(result)}`);
}

/**
 * Records a hold's outcome, once: a held hold adds to the session's deposit (and the first one
 * opens the session); a failed one gives back the monthly spending it counted (and the first one
 * fails the session). Returns whether this call recorded it.
 */
export async function recordHoldOutcome(
  tx: Transaction<PlatformSchema>,
  hold: Pick<HoldRow, 'session_id' | 'sequence' | 'amount_micros'>,
  outcome: HoldOutcome,
  userId: string,
  nowMs: number,
): Promise<boolean> {
  const sessionId = hold.session_id;
  // Locks the session's row first (see above); a session's id never changes.
  await tx
    .updateTable('payment_sessions')
    .set({ id: sessionId })
    .where('id', '=', sessionId)
    .execute();
  const ended = await tx
    .updateTable('payment_session_holds')
    .set({ state: outcome })
    .where('session_id', '=', sessionId)
    .where('sequence', '=', hold.sequence)
    .where('state', '=', 'pending')
    .returning(['spending'])
    .executeTakeFirst();
  if (ended === undefined) return false;
  if (outcome === 'failed') {
    await giveBackSpending(tx, userId, ended.spending, BigInt(hold.amount_micros));
    if (hold.sequence === 0) {
      await tx
        .updateTable('payment_sessions')
        .set({
          state: 'failed',
          failure_code: 'insufficientFunds',
          closed_at: BigInt(nowMs),
          due_at: null,
        })
        .where('id', '=', sessionId)
        .where('state', '=', 'opening')
        .execute();
    }
    return true;
  }
  const held = await tx
    .selectFrom('payment_session_holds')
    .select('amount_micros')
    .where('session_id', '=', sessionId)
    .where('state', '=', 'held')
    .execute();
  const depositMicros = held.reduce((sum, row) => sum + BigInt(row.amount_micros), 0n);
  const session = (await tx
    .updateTable('payment_sessions')
    .set({ deposit_micros: depositMicros.toString() })
    .where('id', '=', sessionId)
    .returningAll()
    .executeTakeFirst()) as SessionRow | undefined;
  if (session === undefined) throw new Error(`bug: session ${sessionId} vanished under its hold`);
  if (hold.sequence === 0 && session.state === 'opening') {
    await tx
      .updateTable('payment_sessions')
      .set({ state: 'open', due_at: openDueAt(session) })
      .where('id', '=', sessionId)
      .where('state', '=', 'opening')
      .execute();
  }
  return true;
}
