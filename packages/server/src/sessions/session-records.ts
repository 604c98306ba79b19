/**
 * A payment session as the platform keeps it (`payment_sessions`, `payment_session_holds`,
 * migration 0037), the reads every step of its life starts from, and the view its payer and its
 * merchant are shown. Amounts are micro-units, as text in the database and on the wire.
 */
import { formatTimestamp } from '@mite/protocol';
import type { Kysely, Selectable } from 'kysely';
import type {
  PaymentSessionHoldsTable,
  PaymentSessionsTable,
  PlatformSchema,
} from '../db/schema.ts';

export type SessionRow = Selectable<PaymentSessionsTable>;
export type HoldRow = Selectable<PaymentSessionHoldsTable>;

/** The longest a session stays open, however active: it is settled by then. */
export const sessionLifetimeMs = 24 * 3_600_000;
/**
 * How much longer than the session's lifetime the ledger keeps its holds pending before it
 * releases them on its own: a backstop for a platform that could not settle for that long, far
 * beyond any settlement the sweeper makes.
 */
export const holdExpiryMarginSeconds = 7 * 86_400;
/**
 * How long an interrupted step (an open or a settlement cut off by a crash) waits before the
 * sweeper finishes it: long enough that the request doing it now has finished.
 */
export const sessionStepGraceMs = 30_000;
/** The most a session may hold, deposit and top-ups together: 100.00. */
export const sessionDepositMaxMicros = 100_000_000n;

export async function sessionById(
  db: Kysely<PlatformSchema>,
  sessionId: string,
): Promise<SessionRow | undefined> {
  return db
    .selectFrom('payment_sessions')
    .selectAll()
    .where('id', '=', sessionId)
    .executeTakeFirst() as Promise<SessionRow | undefined>;
}

export async function holdsOf(db: Kysely<PlatformSchema>, sessionId: string): Promise<HoldRow[]> {
  return db
    .selectFrom('payment_session_holds')
    .selectAll()
    .where('session_id', '=', sessionId)
    .orderBy('sequence')
    .execute();
}

/** When the sweeper must next look at an open session: its idle expiry or its lifetime's end. */
export function openDueAt(
  row: Pick<SessionRow, 'last_activity_at' | 'idle_timeout_seconds' | 'open_until'>,
): bigint {
  const idleAt = row.last_activity_at + BigInt(row.idle_timeout_seconds) * 1000n;
  return idleAt < row.open_until ? idleAt : row.open_until;
}

/** A session as its payer and its merchant see it (the merchant sees the payer's pseudonym). */
export interface SessionView {
  readonly id: string;
  readonly merchantId: string;
  readonly merchantName: string | null;
  readonly resource: string;
  readonly currency: string;
  readonly unitPrice: string;
  readonly unitType: SessionRow['unit_type'];
  readonly deposit: string;
  readonly acceptedCumulative: string;
  readonly settledAmount: string | null;
  readonly voucherKind: SessionRow['voucher_kind'];
  readonly state: SessionRow['state'];
  readonly failureCode: string | null;
  readonly openedAt: string;
  readonly lastActivityAt: string;
  readonly idleExpiresAt: string;
  readonly openUntil: string;
  readonly closeAt: string | null;
  readonly closedAt: string | null;
  readonly closeReason: SessionRow['close_reason'];
  readonly paymentId: string | null;
  /** For the merchant only: who pays, as the merchant knows them. */
  readonly payer?: string;
}

const iso = (epochMs: bigint): string => formatTimestamp(Math.floor(Number(epochMs) / 1000));

export function sessionView(
  row: SessionRow,
  extras: { readonly merchantName: string | null; readonly payer?: string },
): SessionView {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    merchantName: extras.merchantName,
    resource: row.resource,
    currency: 'USD',
    unitPrice: row.unit_price_micros,
    unitType: row.unit_type,
    deposit: row.deposit_micros,
    acceptedCumulative: row.accepted_micros,
    settledAmount: row.state === 'settled' ? row.settled_micros : null,
    voucherKind: row.voucher_kind,
    state: row.state,
    failureCode: row.failure_code,
    openedAt: iso(row.opened_at),
    lastActivityAt: iso(row.last_activity_at),
    idleExpiresAt: iso(row.last_activity_at + BigInt(row.idle_timeout_seconds) * 1000n),
    openUntil: iso(row.open_until),
    closeAt: row.close_at === null ? null : iso(row.close_at),
    closedAt: row.closed_at === null ? null : iso(row.closed_at),
    closeReason: row.close_reason,
    paymentId: row.payment_id,
    ...(extras.payer === undefined ? {} : { payer: extras.payer }),
  };
}
