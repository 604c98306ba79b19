/**
 * Streaming and metered payments (issue 16, DESIGN.md section 6): the platform's side of a
 * session, composed from its steps (open and top up, vouchers and closes, settlement) over one
 * context, with the reads its payer's wallet and its merchant's dashboard list.
 */
import { LRUCache } from 'lru-cache';
import { sql } from 'kysely';
import { walletIdsCachedMax } from '../payments/purchase-core.ts';
import type { SessionContext } from './session-context.ts';
import { createSessionClosing, sessionCloseGraceMsDefault } from './session-closing.ts';
import { signSessionGrant, grantClaimsOf } from './session-grants.ts';
import { createSessionOpening, type SessionState } from './session-opening.ts';
import { sessionById, type SessionRow, sessionView, type SessionView } from './session-records.ts';
import { createSessionSettlement } from './session-settlement.ts';
import { createVoucherCheck } from './voucher-check.ts';

export interface PaymentSessionsDeps extends Omit<SessionContext, 'walletIdOf'> {
  readonly merchantName: (merchantId: string) => Promise<string | undefined>;
  /** How long a client's close waits for the merchant's last voucher. */
  readonly closeGraceMs?: number;
  readonly onSweepError: (sessionId: string, error: unknown) => void;
}

/** Where a list of sessions continues: the last one's opening time and id. */
export interface SessionCursor {
  readonly openedAt: string;
  readonly id: string;
}

export interface SessionListRequest {
  readonly state?: SessionRow['state'] | undefined;
  readonly cursor?: SessionCursor | undefined;
  readonly limit: number;
}

export function createPaymentSessions(deps: PaymentSessionsDeps) {
  const walletIds = new LRUCache<string, bigint>({ max: walletIdsCachedMax });
  const db = deps.platform.db;
  const context: SessionContext = {
    ...deps,
    async walletIdOf(userId) {
      const cached = walletIds.get(userId);
      if (cached !== undefined) return cached;
      const user = await db
        .selectFrom('users')
        .select('wallet_account_id')
        .where('id', '=', userId)
        .executeTakeFirstOrThrow();
      const walletId = BigInt(user.wallet_account_id);
      walletIds.set(userId, walletId);
      return walletId;
    },
  };
  const opening = createSessionOpening(context);
  const settlement = createSessionSettlement(context, { finishHold: opening.finishHold });
  const closing = createSessionClosing(context, {
    voucherCheck: createVoucherCheck(),
    settlement,
    finishOpening: async (row) => {
      const [hold] = (await opening.stateOf(row.id)).holds;
      if (hold?.state === 'pending') await opening.finishHold(row, hold);
    },
    closeGraceMs: deps.closeGraceMs ?? sessionCloseGraceMsDefault,
    onSweepError: deps.onSweepError,
  });

  /** The grant for a session as it stands (signed again each time: the same bytes). */
  function grantOf(state: SessionState): string {
    const payer = deps.pseudonym(state.row.user_id, state.row.merchant_id);
    return signSessionGrant(grantClaimsOf(state.row, state.holds, payer), deps.receiptKey);
  }

  async function viewFor(row: SessionRow, audience: 'user' | 'merchant'): Promise<SessionView> {
    const merchantName = (await deps.merchantName(row.merchant_id)) ?? null;
    return audience === 'user'
      ? sessionView(row, { merchantName })
      : sessionView(row, { merchantName, payer: deps.pseudonym(row.user_id, row.merchant_id) });
  }

  async function list(
    owner: { readonly column: 'user_id' | 'merchant_id'; readonly id: string },
    request: SessionListRequest,
  ): Promise<{ rows: SessionRow[]; next: SessionCursor | undefined }> {
    const { cursor, state, limit } = request;
    const rows = (await db
      .selectFrom('payment_sessions')
      .selectAll()
      .where(owner.column, '=', owner.id)
      .$if(state !== undefined, (query) => query.where('state', '=', state ?? 'open'))
      .$if(cursor !== undefined, (query) => {
        const openedAt = BigInt(cursor?.openedAt ?? '0');
        return query.where(
          sql<boolean>`(opened_at < ${openedAt} or (opened_at = ${openedAt} and id < ${cursor?.id ?? ''}))`,
        );
      })
      .orderBy('opened_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute()) as SessionRow[];
    const shown = rows.slice(0, limit);
    const last = shown.at(-1);
    const next =
      rows.length > limit && last !== undefined
        ? { openedAt: last.opened_at.toString(), id: last.id }
        : undefined;
    return { rows: shown, next };
  }

  return {
    open: opening.open,
    topUp: opening.topUp,
    stateOf: opening.stateOf,
    find: (sessionId: string) => sessionById(db, sessionId),
    submitVoucher: closing.submitVoucher,
    close: closing.close,
    sweepDue: closing.sweepDue,
    settle: settlement.settle,
    grantOf,
    viewFor,
    listForUser: (userId: string, request: SessionListRequest) =>
      list({ column: 'user_id', id: userId }, request),
    listForMerchant: (merchantId: string, request: SessionListRequest) =>
      list({ column: 'merchant_id', id: merchantId }, request),
  };
}

export type PaymentSessions = ReturnType<typeof createPaymentSessions>;
