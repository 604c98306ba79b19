/**
 * The rollup job: folds completed payments and refunds into each merchant's totals per UTC day
 * (and per offer and day), which the earnings and top-offer reports read, so that a chart never
 * scans a period's payments and the purchase path writes nothing more.
 *
 * Each run reads, after the ids it has read up to (its watermark), at most `pageRows` payments
 * and `pageRows` refunds in id order (ids are time-ordered, uuidv7), and at most `pageRows` of
 * those it passed while pending; it then commits, in one transaction, the new watermark, the
 * totals and the rows left waiting. The transaction begins by advancing the state's version from
 * the one the run read: a run that crashed changed nothing, and of runs on several nodes at once
 * one commits and the others write nothing, so no payment is counted twice or lost.
 *
 * A row is read only once its id is `settleMs` old: an id is drawn just before its row is
 * inserted, and a row committed after the watermark passed its id would be missed. The margin
 * covers the insert's commit and the clock difference between nodes. A payment or refund still
 * pending then (its money moving, or a crash's, which the reconciler finishes) waits in
 * `report_rollup_waiting` and is folded in once it completes.
 */
import { LRUCache } from 'lru-cache';
import type { Transaction } from 'kysely';
import type { PlatformDb } from '../db/platform-db.ts';
import type { PlatformSchema } from '../db/schema.ts';
import { platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import { apportion } from '../payments/revenue-split.ts';
import { dayStartMs } from './report-periods.ts';
import { addDay, addOffer, createTotals, type Totals } from './rollup-totals.ts';

/** How often each node runs the job: the charts lag completed payments by about this plus settleMs. */
export const reportRollupIntervalMs = 5_000;
/** How old an id must be before the job reads its row (see above). */
export const reportRollupSettleMs = 2_000;
/** Payments, refunds and waiting rows each run reads at most, of each. */
export const reportRollupPageRowsMax = 500;
/** Merchants' ledger accounts kept in memory to attribute legs: an account never changes owner. */
const merchantAccountsCachedMax = 10_000;
/** Rows per INSERT of totals: keeps every statement under both dialects' parameter limits. */
const totalsRowsPerStatement = 200;

export interface ReportRollupDeps {
  readonly platform: PlatformDb;
  /** The time ids are drawn by (uuidv7 reads the system clock); tests pass another. */
  readonly idClock?: () => number;
  readonly settleMs?: number;
  /** 1 to reportRollupPageRowsMax (the default); tests page through small sets. */
  readonly pageRows?: number;
  /** Tests only: called inside a run's transaction after its writes, to crash it there. */
  readonly beforeCommit?: () => void;
}

interface PaymentLeg {
  readonly creditAccountId: string;
  readonly amountMicros: string;
  readonly code: number;
}

interface RefundLeg {
  readonly debitAccountId: string;
  readonly amountMicros: string;
}

interface PaymentRead {
  readonly id: string;
  readonly merchant_id: string;
  readonly offer_id: string | null;
  readonly state: string;
  readonly legs: string;
  readonly created_at: bigint;
}

interface RefundRead {
  readonly id: string;
  readonly offer_id: string | null;
  readonly state: string;
  readonly legs: string;
  readonly created_at: bigint;
}

/** The time in a uuidv7-style id (`pay_0190...`), or 0 for an id of another shape. */
export function idTimeMs(id: string): number {
  const hex = id
    .slice(id.indexOf('_') + 1)
    .replaceAll('-', '')
    .slice(0, 12);
  return /^[0-9a-f]{12}$/.test(hex) ? Number.parseInt(hex, 16) : 0;
}

export function createReportRollup(deps: ReportRollupDeps) {
  const db = deps.platform.db;
  const idClock = deps.idClock ?? Date.now;
  const settleMs = deps.settleMs ?? reportRollupSettleMs;
  const pageRows = deps.pageRows ?? reportRollupPageRowsMax;
  if (!Number.isSafeInteger(pageRows) || pageRows < 1 || pageRows > reportRollupPageRowsMax) {
    throw new Error(`pageRows is 1 to ${reportRollupPageRowsMax}`);
  }
  const merchantOfAccount = new LRUCache<string, string>({ max: merchantAccountsCachedMax });
  // Where the next look at waiting rows starts: it goes round, so rows that wait long (a refund
  // a crash left pending) never keep the others from being looked at.
  // The empty kind sorts before both kinds: the start.
  const waitingStart = { kind: '' as 'payment' | 'refund', id: '' };
  let waitingAfter = waitingStart;

  /** One run; true when more is waiting (a full page was read), so the next should start now. */
  async function runOnce(): Promise<boolean> {
    const state = await db
      .selectFrom('report_rollup_state')
      .selectAll()
      .where('name', '=', 'main')
      .executeTakeFirstOrThrow();
    const cutoffMs = idClock() - settleMs;
    const totals = createTotals();
    const waiting = await foldWaiting(totals);
    const payments = await readPayments(state.payments_after_id, cutoffMs);
    const refunds = await readRefunds(state.refunds_after_id, cutoffMs);
    const nowWaiting: { kind: 'payment' | 'refund'; id: string }[] = [];
    for (const row of payments.rows) {
      if (row.state === 'pending') nowWaiting.push({ kind: 'payment', id: row.id });
      else await foldPayment(totals, row);
    }
    for (const row of refunds.rows) {
      if (row.state === 'pending') nowWaiting.push({ kind: 'refund', id: row.id });
      else await foldRefund(totals, row);
    }
    const committed = await db.transaction().execute(async (tx) => {
      const claimed = await tx
        .updateTable('report_rollup_state')
        .set({
          version: state.version + 1n,
          payments_after_id: payments.afterId ?? state.payments_after_id,
          refunds_after_id: refunds.afterId ?? state.refunds_after_id,
        })
        .where('name', '=', 'main')
        .where('version', '=', state.version)
        .executeTakeFirst();
      if (claimed.numUpdatedRows === 0n) return false;
      await writeTotals(tx, totals);
      await writeWaiting(tx, nowWaiting, waiting.resolved);
      deps.beforeCommit?.();
      return true;
    });
    if (committed) waitingAfter = waiting.next;
    // Waiting rows do not make the next run start at once: rows a crash left pending for good
    // would keep it busy. They are looked at a page per run, going round.
    return committed && (payments.full || refunds.full);
  }

  /** Folds in the waiting rows now completed; returns those to forget and where to look next. */
  async function foldWaiting(totals: Totals) {
    const rows = await db
      .selectFrom('report_rollup_waiting')
      .select(['kind', 'id'])
      .where((eb) =>
        eb.or([
          eb('kind', '>', waitingAfter.kind),
          eb.and([eb('kind', '=', waitingAfter.kind), eb('id', '>', waitingAfter.id)]),
        ]),
      )
      .orderBy('kind')
      .orderBy('id')
      .limit(pageRows)
      .execute();
    const full = rows.length === pageRows;
    const last = rows.at(-1);
    const next =
      full && last !== undefined ? { kind: last.kind, id: last.id } : { ...waitingStart };
    const resolved: { kind: 'payment' | 'refund'; id: string }[] = [];
    const paymentIds = rows.filter((row) => row.kind === 'payment').map((row) => row.id);
    const refundIds = rows.filter((row) => row.kind === 'refund').map((row) => row.id);
    const payments = paymentIds.length === 0 ? [] : await paymentsWhere(paymentIds);
    const refunds = refundIds.length === 0 ? [] : await refundsWhere(refundIds);
    const found = new Set([...payments, ...refunds].map((row) => row.id));
    for (const id of [...paymentIds, ...refundIds]) {
      // A row that no longer exists was never made (its purchase was answered from another).
      if (!found.has(id))
        resolved.push({ kind: paymentIds.includes(id) ? 'payment' : 'refund', id });
    }
    for (const row of payments) {
      if (row.state === 'pending') continue;
      await foldPayment(totals, row);
      resolved.push({ kind: 'payment', id: row.id });
    }
    for (const row of refunds) {
      if (row.state === 'pending') continue;
      await foldRefund(totals, row);
      resolved.push({ kind: 'refund', id: row.id });
    }
    return { resolved, next };
  }

  function paymentsQuery() {
    return db
      .selectFrom('payments')
      .select(['id', 'merchant_id', 'offer_id', 'state', 'legs', 'created_at']);
  }

  function refundsQuery() {
    return db
      .selectFrom('refunds')
      .innerJoin('payments', 'payments.id', 'refunds.payment_id')
      .select([
        'refunds.id',
        'payments.offer_id',
        'refunds.state',
        'refunds.legs',
        'refunds.created_at',
      ]);
  }

  const paymentsWhere = (ids: string[]) => paymentsQuery().where('id', 'in', ids).execute();
  const refundsWhere = (ids: string[]) => refundsQuery().where('refunds.id', 'in', ids).execute();

  async function readPayments(afterId: string, cutoffMs: number) {
    const rows = await paymentsQuery()
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(pageRows)
      .execute();
    return settled(rows, cutoffMs);
  }

  async function readRefunds(afterId: string, cutoffMs: number) {
    const rows = await refundsQuery()
      .where('refunds.id', '>', afterId)
      .orderBy('refunds.id')
      .limit(pageRows)
      .execute();
    return settled(rows, cutoffMs);
  }

  /** The rows before the first whose id is younger than the cutoff, and the last id of those. */
  function settled<Row extends { readonly id: string }>(rows: Row[], cutoffMs: number) {
    const young = rows.findIndex((row) => idTimeMs(row.id) > cutoffMs);
    const taken = young === -1 ? rows : rows.slice(0, young);
    return {
      rows: taken,
      afterId: taken.at(-1)?.id,
      full: young === -1 && rows.length === pageRows,
    };
  }

  /**
   * A succeeded payment counts for each merchant it paid, by its own leg: its net is what its
   * account was credited, its fee the part of the platform fee in proportion to its leg, its
   * gross the two together. A payment whose fee took everything counts for its seller.
   */
  async function foldPayment(totals: Totals, row: PaymentRead): Promise<void> {
    if (row.state !== 'succeeded') return;
    const legs = JSON.parse(row.legs) as PaymentLeg[];
    const feeMicros = legs
      .filter((leg) => leg.code === transferCodes.platformFee)
      .reduce((sum, leg) => sum + BigInt(leg.amountMicros), 0n);
    const paid = legs.filter((leg) => leg.code === transferCodes.payment);
    const merchants = await merchantsOf(paid.map((leg) => leg.creditAccountId));
    const dayMs = BigInt(dayStartMs(Number(row.created_at)));
    const parts =
      paid.length === 0
        ? [{ merchantId: row.merchant_id, netMicros: 0n, feeMicros }]
        : apportion(
            feeMicros,
            paid.map((leg) => BigInt(leg.amountMicros)),
          ).map((fee, index) => ({
            merchantId: merchants[index] ?? '',
            netMicros: BigInt(paid[index]?.amountMicros ?? '0'),
            feeMicros: fee,
          }));
    for (const part of parts) {
      if (part.merchantId !== row.merchant_id) {
        totals.shares.push({
          merchant_id: part.merchantId,
          created_at: row.created_at,
          payment_id: row.id,
        });
      }
      const grossMicros = part.netMicros + part.feeMicros;
      addDay(totals, part.merchantId, dayMs, {
        paymentCount: 1n,
        grossMicros,
        feeMicros: part.feeMicros,
        netMicros: part.netMicros,
      });
      if (row.offer_id !== null) {
        addOffer(totals, part.merchantId, dayMs, row.offer_id, {
          paymentCount: 1n,
          grossMicros,
          netMicros: part.netMicros,
        });
      }
    }
  }

  /** A succeeded refund counts, on its own day, for each merchant whose account paid a part. */
  async function foldRefund(totals: Totals, row: RefundRead): Promise<void> {
    if (row.state !== 'succeeded') return;
    const fee = platformAccountIds.platformFees.toString();
    const legs = (JSON.parse(row.legs) as RefundLeg[]).filter((leg) => leg.debitAccountId !== fee);
    const merchants = await merchantsOf(legs.map((leg) => leg.debitAccountId));
    const dayMs = BigInt(dayStartMs(Number(row.created_at)));
    legs.forEach((leg, index) => {
      const merchantId = merchants[index] ?? '';
      const refundedMicros = BigInt(leg.amountMicros);
      addDay(totals, merchantId, dayMs, { refundCount: 1n, refundedMicros });
      if (row.offer_id !== null)
        addOffer(totals, merchantId, dayMs, row.offer_id, { refundedMicros });
    });
  }

  /** The merchant owning each ledger account, in order. */
  async function merchantsOf(accountIds: readonly string[]): Promise<string[]> {
    const missing = [...new Set(accountIds.filter((id) => !merchantOfAccount.has(id)))];
    if (missing.length > 0) {
      const rows = await db
        .selectFrom('merchants')
        .select(['id', 'account_id'])
        .where('account_id', 'in', missing)
        .execute();
      for (const row of rows) merchantOfAccount.set(row.account_id, row.id);
    }
    return accountIds.map((accountId) => {
      const merchantId = merchantOfAccount.get(accountId);
      if (merchantId === undefined) throw new Error(`bug: account ${accountId} is no merchant's`);
      return merchantId;
    });
  }

  return { runOnce };
}

export type ReportRollup = ReturnType<typeof createReportRollup>;

async function writeTotals(tx: Transaction<PlatformSchema>, totals: Totals): Promise<void> {
  for (let start = 0; start < totals.shares.length; start += totalsRowsPerStatement) {
    await tx
      .insertInto('report_payment_shares')
      .values(totals.shares.slice(start, start + totalsRowsPerStatement))
      .onConflict((conflict) => conflict.doNothing())
      .execute();
  }
  const days = [...totals.days.values()];
  for (let start = 0; start < days.length; start += totalsRowsPerStatement) {
    await tx
      .insertInto('report_day_totals')
      .values(days.slice(start, start + totalsRowsPerStatement))
      .onConflict((conflict) =>
        conflict.columns(['merchant_id', 'day_at']).doUpdateSet((eb) => ({
          payment_count: eb(
            'report_day_totals.payment_count',
            '+',
            eb.ref('excluded.payment_count'),
          ),
          gross_micros: eb('report_day_totals.gross_micros', '+', eb.ref('excluded.gross_micros')),
          fee_micros: eb('report_day_totals.fee_micros', '+', eb.ref('excluded.fee_micros')),
          net_micros: eb('report_day_totals.net_micros', '+', eb.ref('excluded.net_micros')),
          refund_count: eb('report_day_totals.refund_count', '+', eb.ref('excluded.refund_count')),
          refunded_micros: eb(
            'report_day_totals.refunded_micros',
            '+',
            eb.ref('excluded.refunded_micros'),
          ),
        })),
      )
      .execute();
  }
  const offers = [...totals.offers.values()];
  for (let start = 0; start < offers.length; start += totalsRowsPerStatement) {
    await tx
      .insertInto('report_offer_day_totals')
      .values(offers.slice(start, start + totalsRowsPerStatement))
      .onConflict((conflict) =>
        conflict.columns(['merchant_id', 'day_at', 'offer_id']).doUpdateSet((eb) => ({
          payment_count: eb(
            'report_offer_day_totals.payment_count',
            '+',
            eb.ref('excluded.payment_count'),
          ),
          gross_micros: eb(
            'report_offer_day_totals.gross_micros',
            '+',
            eb.ref('excluded.gross_micros'),
          ),
          net_micros: eb('report_offer_day_totals.net_micros', '+', eb.ref('excluded.net_micros')),
          refunded_micros: eb(
            'report_offer_day_totals.refunded_micros',
            '+',
            eb.ref('excluded.refunded_micros'),
          ),
        })),
      )
      .execute();
  }
}

async function writeWaiting(
  tx: Transaction<PlatformSchema>,
  added: readonly { kind: 'payment' | 'refund'; id: string }[],
  resolved: readonly { kind: 'payment' | 'refund'; id: string }[],
): Promise<void> {
  if (added.length > 0) {
    await tx
      .insertInto('report_rollup_waiting')
      .values([...added])
      .onConflict((conflict) => conflict.doNothing())
      .execute();
  }
  for (const kind of ['payment', 'refund'] as const) {
    const ids = resolved.filter((row) => row.kind === kind).map((row) => row.id);
    if (ids.length === 0) continue;
    await tx
      .deleteFrom('report_rollup_waiting')
      .where('kind', '=', kind)
      .where('id', 'in', ids)
      .execute();
  }
}
