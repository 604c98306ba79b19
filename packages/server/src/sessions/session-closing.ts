/**
 * Vouchers reaching the platform, closes and the sweeper (issue 16 items 2 and 3).
 *
 * A merchant checkpoints the highest voucher it holds (`submitVoucher`) while it serves, so that
 * a session it can no longer close itself (a crash, a client that vanished) settles at it when
 * the session expires. The accepted voucher only rises, by a conditional write on the value read:
 * of two racing submissions the higher stands, and the same voucher again is a success.
 *
 * A merchant's close settles at once. A client's close gives the merchant a grace period (the
 * tempo session draft's forced close has one too) in which a higher voucher still counts, since
 * the client could otherwise close at an older voucher than the last one it paid the merchant
 * with; the client's own last voucher counts at once. Closing twice, or with an older voucher,
 * changes nothing.
 */
import type { SessionVoucher } from '@mite/protocol';
import type { SessionCloseReason } from '../db/schema.ts';
import { fail, ok, type Result } from '../result.ts';
import type { SessionContext } from './session-context.ts';
import { openDueAt, sessionById, type SessionRow } from './session-records.ts';
import type { SessionSettlement } from './session-settlement.ts';
import type { VoucherCheck, VoucherRefusal } from './voucher-check.ts';

/** How long a client's close waits for the merchant's last voucher, by default. */
export const sessionCloseGraceMsDefault = 15_000;
/** Sessions the sweeper takes per run. */
export const sessionSweepBatchMax = 100;
/** How many times a voucher is judged again against a session that changed under it. */
const acceptAttemptsMax = 8;

export type VoucherFailure = VoucherRefusal | 'sessionClosed';

/** Who closes: the merchant (with its key or dashboard), or the paying user. */
export type Closer =
  | { readonly kind: 'merchant'; readonly merchantId: string }
  | { readonly kind: 'user'; readonly userId: string };

export function createSessionClosing(
  context: SessionContext,
  parts: {
    readonly voucherCheck: VoucherCheck;
    readonly settlement: SessionSettlement;
    readonly finishOpening: (row: SessionRow) => Promise<unknown>;
    readonly closeGraceMs: number;
    readonly onSweepError: (sessionId: string, error: unknown) => void;
  },
) {
  const { platform, batcher, clock } = context;
  const db = platform.db;

  /** A merchant's checkpoint of the highest voucher it holds. */
  async function submitVoucher(
    merchantId: string,
    sessionId: string,
    voucher: SessionVoucher,
  ): Promise<Result<SessionRow, VoucherFailure>> {
    const row = await sessionById(db, sessionId);
    if (row === undefined || row.merchant_id !== merchantId) return fail('sessionNotFound');
    return accept(row, voucher, false);
  }

  /** Raises the session's accepted voucher to `voucher` if it may; answers the session. */
  async function accept(
    first: SessionRow,
    voucher: SessionVoucher,
    olderIsFine: boolean,
  ): Promise<Result<SessionRow, VoucherFailure>> {
    let row = first;
    for (let attempt = 0; attempt < acceptAttemptsMax; attempt += 1) {
      if (row.state === 'opening') return fail('sessionNotFound', 'the session is not open yet');
      if (row.state !== 'open' && row.state !== 'closing') {
        return olderIsFine ? ok(row) : fail('sessionClosed', `the session is ${row.state}`);
      }
      const verdict = parts.voucherCheck.check(row, voucher, olderIsFine);
      if (!verdict.ok) return verdict;
      if (verdict.value.kind !== 'raises') return ok(row);
      const nowMs = BigInt(clock());
      const activity = { ...row, last_activity_at: nowMs };
      const raised = await batcher.run((tx) =>
        tx
          .updateTable('payment_sessions')
          .set({
            accepted_micros: voucher.cumulativeMicros.toString(),
            accepted_proof: verdict.value.kind === 'raises' ? verdict.value.proof : null,
            last_activity_at: nowMs,
            ...(row.state === 'open' ? { due_at: openDueAt(activity) } : {}),
          })
          .where('id', '=', row.id)
          .where('state', '=', row.state)
          .where('accepted_micros', '=', row.accepted_micros)
          .executeTakeFirst(),
      );
      const current = await sessionById(db, row.id);
      if (current === undefined) throw new Error(`bug: session ${row.id} vanished`);
      if (raised.numUpdatedRows > 0n) return ok(current);
      row = current;
    }
    throw new Error(`session ${first.id} kept changing while a voucher was judged`);
  }

  /** Closes the session, with the closer's last voucher if it gives one. */
  async function close(
    closer: Closer,
    sessionId: string,
    voucher: SessionVoucher | undefined,
  ): Promise<Result<SessionRow, VoucherFailure>> {
    const row = await sessionById(db, sessionId);
    const owns =
      row !== undefined &&
      (closer.kind === 'merchant'
        ? row.merchant_id === closer.merchantId
        : row.user_id === closer.userId);
    if (row === undefined || !owns) return fail('sessionNotFound');
    if (row.state === 'opening') return fail('sessionNotFound', 'the session is not open yet');
    if (voucher !== undefined) {
      const accepted = await accept(row, voucher, true);
      if (!accepted.ok) return accepted;
    }
    if (closer.kind === 'merchant') return ok(await parts.settlement.settle(sessionId, 'merchant'));
    const nowMs = clock();
    const closeAt = BigInt(nowMs + parts.closeGraceMs);
    await batcher.run((tx) =>
      tx
        .updateTable('payment_sessions')
        .set({ state: 'closing', close_reason: 'client', close_at: closeAt, due_at: closeAt })
        .where('id', '=', sessionId)
        .where('state', '=', 'open')
        .execute(),
    );
    const closing = await sessionById(db, sessionId);
    if (closing === undefined) throw new Error(`bug: session ${sessionId} vanished`);
    return ok(closing);
  }

  /**
   * Takes the sessions whose time has come: opens and settlements a crash cut off, open
   * sessions idle or at the end of their lifetime, client closes past their grace. Returns how
   * many it looked at; each one's failure is reported and left for the next run.
   */
  async function sweepDue(): Promise<number> {
    const nowMs = clock();
    const due = await db
      .selectFrom('payment_sessions')
      .selectAll()
      .where('due_at', '<=', BigInt(nowMs))
      .orderBy('due_at')
      .orderBy('id')
      .limit(sessionSweepBatchMax)
      .execute();
    for (const row of due as SessionRow[]) {
      try {
        await sweepOne(row, nowMs);
      } catch (error) {
        parts.onSweepError(row.id, error);
      }
    }
    return due.length;
  }

  async function sweepOne(row: SessionRow, nowMs: number): Promise<void> {
    const now = BigInt(nowMs);
    switch (row.state) {
      case 'opening':
        await parts.finishOpening(row);
        return;
      case 'open': {
        const reason: SessionCloseReason | undefined =
          now >= row.open_until ? 'lifetime' : now >= openDueAt(row) ? 'idle' : undefined;
        if (reason !== undefined) {
          await parts.settlement.settle(row.id, reason);
        } else {
          await setDue(row, openDueAt(row));
        }
        return;
      }
      case 'closing':
        if (row.close_at !== null && now < row.close_at) await setDue(row, row.close_at);
        else await parts.settlement.settle(row.id, 'client');
        return;
      case 'settling':
        await parts.settlement.settle(row.id, row.close_reason ?? 'idle');
        return;
      case 'settled':
      case 'failed':
        await setDue(row, null);
        return;
    }
  }

  async function setDue(row: SessionRow, dueAt: bigint | null): Promise<void> {
    await batcher.run((tx) =>
      tx
        .updateTable('payment_sessions')
        .set({ due_at: dueAt })
        .where('id', '=', row.id)
        .where('state', '=', row.state)
        .where('last_activity_at', '=', row.last_activity_at)
        .execute(),
    );
  }

  return { submitVoucher, close, sweepDue };
}
