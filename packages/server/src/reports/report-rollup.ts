/**
 * The rollup job: folds completed payments and refunds into each merchant's totals per UTC day
 * (and per offer and day), which the earnings and top-offer reports read, so that a chart never
 * scans a period's payments and the purchase path writes nothing more.
 *
 * Each run reads payments and refunds in id order (ids are time-ordered, uuidv7), twice over. Its
 * head reads the rows after the ids it has read up to, once an id is `settleMs` old, so that a
 * completed payment shows within seconds. Its sweep reads every row again once its id is
 * `lookbackMs` old (minutes), and so finds those the head passed because they were committed
 * after it had gone by: a slow batch, a stalled checkpoint, a database hiccup, a node whose clock
 * is behind. Each reads at most `pageRows` payments and `pageRows` refunds a run; payments and
 * refunds still pending when read (their money moving, or a crash's, which a reconciler finishes)
 * wait in `report_rollup_waiting`, of which a run looks at `pageRows`, and are folded in once they
 * complete.
 *
 * Reading a row again is harmless, and that is what makes the counting exact: a row is added to
 * the totals only in the transaction that inserts its marker into `report_rollup_counted`
 * (primary key: kind and id), and only if that insert inserted it. The database, not the timing,
 * decides that each row is counted once, however often and by however many nodes it is read.
 * Markers of ids behind both the head and the sweep are deleted, `pruneRows` of each kind a run:
 * no read reaches those ids again. A row counted while it was also waiting leaves the wait list in
 * the same transaction, so that no waiting row outlives its marker.
 *
 * The transaction begins by advancing the state's version from the one the run read: a run that
 * crashed changed nothing, and of runs on several nodes at once one commits and the others write
 * nothing (they would count nothing twice anyway; the version spares them the work).
 *
 * What is still left to time is only whether a row is counted at all, never whether it is
 * counted twice: a row committed more than `lookbackMs` after its id was drawn has been passed
 * by the sweep too, and is not counted.
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
/**
 * How old an id must be before the head reads its row: nearly every row is committed by then and
 * shows this soon. Only how soon depends on it; a row committed later waits for the sweep.
 */
export const reportRollupSettleMs = 2_000;
/**
 * How old an id must be before the sweep reads its row again: a row committed up to this long
 * after its id was drawn is still counted (about this long after it was made).
 */
export const reportRollupLookbackMs = 15 * 60_000;
/** Payments, refunds and waiting rows each read (head and sweep) at most a run, of each. */
export const reportRollupPageRowsMax = 500;
/** Counted markers one run deletes at most, of each kind. */
export const reportRollupPruneRowsMax = 2_000;
/** Merchants' ledger accounts kept in memory to attribute legs: an account never changes owner. */
const merchantAccountsCachedMax = 10_000;
/** Rows per INSERT or DELETE: keeps every statement under both dialects' parameter limits. */
const rowsPerStatement = 200;

export interface ReportRollupDeps {
  readonly platform: PlatformDb;
  /** The time ids are drawn by (uuidv7 reads the system clock); tests pass another. */
  readonly idClock?: () => number;
  readonly settleMs?: number;
  readonly lookbackMs?: number;
  /** 1 to reportRollupPageRowsMax (the default); tests page through small sets. */
  readonly pageRows?: number;
  /** 1 to reportRollupPruneRowsMax (the default). */
  readonly pruneRows?: number;
  /** Tests only: called inside a run's transaction after its writes, to crash it there. */
  readonly beforeCommit?: () => void;
}

type Kind = 'payment' | 'refund';

interface RowRef {
  readonly kind: Kind;
  readonly id: string;
}

/** A completed row a run read: what it adds to the totals, if its marker is new. */
interface Counting extends RowRef {
  readonly add: (totals: Totals) => void;
}

/** What one run read: rows to count, rows to wait for, waiting rows to forget. */
interface RunReads {
  readonly counting: Map<string, Counting>;
  readonly pending: Map<string, RowRef>;
  readonly resolved: RowRef[];
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

const keyOf = (row: RowRef) => `${row.kind}\u0000${row.id}`;

function checkedRows(name: string, value: number | undefined, max: number): number {
  const rows = value ?? max;
  if (!Number.isSafeInteger(rows) || rows < 1 || rows > max) {
    throw new Error(`${name} is 1 to ${max}`);
  }
  return rows;
}

export function createReportRollup(deps: ReportRollupDeps) {
  const db = deps.platform.db;
  const idClock = deps.idClock ?? Date.now;
  const settleMs = deps.settleMs ?? reportRollupSettleMs;
  const lookbackMs = deps.lookbackMs ?? reportRollupLookbackMs;
  const pageRows = checkedRows('pageRows', deps.pageRows, reportRollupPageRowsMax);
  const pruneRows = checkedRows('pruneRows', deps.pruneRows, reportRollupPruneRowsMax);
  const merchantOfAccount = new LRUCache<string, string>({ max: merchantAccountsCachedMax });
  // Where the next look at waiting rows starts: it goes round, so rows that wait long (a refund
  // a crash left pending) never keep the others from being looked at.
  // The empty kind sorts before both kinds: the start.
  const waitingStart = { kind: '' as Kind, id: '' };
  let waitingAfter = waitingStart;

  /** One run; true when more is waiting (a full page was read), so the next should start now. */
  async function runOnce(): Promise<boolean> {
    const state = await db
      .selectFrom('report_rollup_state')
      .selectAll()
      .where('name', '=', 'main')
      .executeTakeFirstOrThrow();
    const nowMs = idClock();
    const reads: RunReads = { counting: new Map(), pending: new Map(), resolved: [] };
    const waitingNext = await readWaiting(reads);
    const headAfter = { payments: state.payments_after_id, refunds: state.refunds_after_id };
    const head = await readPages(reads, headAfter, nowMs - settleMs);
    const sweepAfter = { payments: state.payments_swept_id, refunds: state.refunds_swept_id };
    const sweep = await readPages(reads, sweepAfter, nowMs - lookbackMs);
    const cursors = {
      payments_after_id: head.payments,
      refunds_after_id: head.refunds,
      payments_swept_id: sweep.payments,
      refunds_swept_id: sweep.refunds,
    };
    const horizon = {
      payments: { head: head.payments, swept: sweep.payments },
      refunds: { head: head.refunds, swept: sweep.refunds },
    };
    const committed = await db.transaction().execute(async (tx) => {
      const claimed = await tx
        .updateTable('report_rollup_state')
        .set({ version: state.version + 1n, ...cursors })
        .where('name', '=', 'main')
        .where('version', '=', state.version)
        .executeTakeFirst();
      if (claimed.numUpdatedRows === 0n) return undefined;
      const counted = await insertMarkers(tx, [...reads.counting.values()]);
      const totals = createTotals();
      for (const row of counted) row.add(totals);
      await writeTotals(tx, totals);
      await writeWaiting(tx, [...reads.pending.values()], [...reads.resolved, ...counted]);
      const pruneFull = await pruneMarkers(tx, horizon);
      deps.beforeCommit?.();
      return { pruneFull };
    });
    if (committed === undefined) return false;
    waitingAfter = waitingNext;
    // Waiting rows do not make the next run start at once: rows a crash left pending for good
    // would keep it busy. They are looked at a page per run, going round.
    return head.full || sweep.full || committed.pruneFull;
  }

  /**
   * Deletes markers of ids behind both the head and the sweep (as this run sets them), which no
   * read reaches again; true when it deleted all it may.
   */
  async function pruneMarkers(
    tx: Transaction<PlatformSchema>,
    cursors: Record<'payments' | 'refunds', { head: string; swept: string }>,
  ): Promise<boolean> {
    let full = false;
    for (const [kind, { head, swept }] of [
      ['payment', cursors.payments],
      ['refund', cursors.refunds],
    ] as const) {
      const behind = tx
        .selectFrom('report_rollup_counted')
        .select('id')
        .where('kind', '=', kind)
        .where('id', '<', head)
        .where('id', '<', swept)
        .orderBy('id')
        .limit(pruneRows);
      const pruned = await tx
        .deleteFrom('report_rollup_counted')
        .where('kind', '=', kind)
        .where('id', 'in', behind)
        .executeTakeFirst();
      if (pruned.numDeletedRows === BigInt(pruneRows)) full = true;
    }
    return full;
  }

  /** Looks at a page of the waiting rows; returns where to look next. */
  async function readWaiting(reads: RunReads) {
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
    const last = rows.at(-1);
    const next =
      rows.length === pageRows && last !== undefined
        ? { kind: last.kind, id: last.id }
        : { ...waitingStart };
    const paymentIds = rows.filter((row) => row.kind === 'payment').map((row) => row.id);
    const refundIds = rows.filter((row) => row.kind === 'refund').map((row) => row.id);
    const payments = paymentIds.length === 0 ? [] : await paymentsWhere(paymentIds);
    const refunds = refundIds.length === 0 ? [] : await refundsWhere(refundIds);
    const found = new Set([...payments, ...refunds].map((row) => row.id));
    // A row that no longer exists was never made (its purchase was answered from another).
    for (const row of rows) if (!found.has(row.id)) reads.resolved.push(row);
    // A completed row stops waiting whether or not this run counts it (its marker decides).
    for (const row of payments) {
      if (row.state !== 'pending') reads.resolved.push({ kind: 'payment', id: row.id });
      await takePayment(reads, row);
    }
    for (const row of refunds) {
      if (row.state !== 'pending') reads.resolved.push({ kind: 'refund', id: row.id });
      await takeRefund(reads, row);
    }
    return next;
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

  /**
   * Reads a page of payments and of refunds after these ids, up to the first younger than the
   * cutoff; returns the ids read up to, and whether a page was full (more is there to read).
   */
  async function readPages(
    reads: RunReads,
    after: { payments: string; refunds: string },
    cutoffMs: number,
  ) {
    const payments = settled(
      await paymentsQuery()
        .where('id', '>', after.payments)
        .orderBy('id')
        .limit(pageRows)
        .execute(),
      cutoffMs,
    );
    const refunds = settled(
      await refundsQuery()
        .where('refunds.id', '>', after.refunds)
        .orderBy('refunds.id')
        .limit(pageRows)
        .execute(),
      cutoffMs,
    );
    for (const row of payments.rows) await takePayment(reads, row);
    for (const row of refunds.rows) await takeRefund(reads, row);
    return {
      payments: payments.rows.at(-1)?.id ?? after.payments,
      refunds: refunds.rows.at(-1)?.id ?? after.refunds,
      full: payments.full || refunds.full,
    };
  }

  /** The rows before the first whose id is younger than the cutoff. */
  function settled<Row extends { readonly id: string }>(rows: Row[], cutoffMs: number) {
    const young = rows.findIndex((row) => idTimeMs(row.id) > cutoffMs);
    return {
      rows: young === -1 ? rows : rows.slice(0, young),
      full: young === -1 && rows.length === pageRows,
    };
  }

  async function takePayment(reads: RunReads, row: PaymentRead): Promise<void> {
    const ref = { kind: 'payment' as const, id: row.id };
    if (row.state === 'pending') reads.pending.set(keyOf(ref), ref);
    else if (row.state === 'succeeded') {
      reads.counting.set(keyOf(ref), { ...ref, add: await paymentParts(row) });
    }
  }

  async function takeRefund(reads: RunReads, row: RefundRead): Promise<void> {
    const ref = { kind: 'refund' as const, id: row.id };
    if (row.state === 'pending') reads.pending.set(keyOf(ref), ref);
    else if (row.state === 'succeeded') {
      reads.counting.set(keyOf(ref), { ...ref, add: await refundParts(row) });
    }
  }

  /**
   * What a succeeded payment adds: it counts for each merchant it paid, by its own leg: its net is
   * what its account was credited, its fee the part of the platform fee in proportion to its leg,
   * its gross the two together. A payment whose fee took everything counts for its seller.
   */
  async function paymentParts(row: PaymentRead): Promise<(totals: Totals) => void> {
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
    return (totals) => {
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
    };
  }

  /** What a succeeded refund adds, on its own day, for each merchant whose account paid a part. */
  async function refundParts(row: RefundRead): Promise<(totals: Totals) => void> {
    const fee = platformAccountIds.platformFees.toString();
    const legs = (JSON.parse(row.legs) as RefundLeg[]).filter((leg) => leg.debitAccountId !== fee);
    const merchants = await merchantsOf(legs.map((leg) => leg.debitAccountId));
    const dayMs = BigInt(dayStartMs(Number(row.created_at)));
    return (totals) => {
      legs.forEach((leg, index) => {
        const merchantId = merchants[index] ?? '';
        const refundedMicros = BigInt(leg.amountMicros);
        addDay(totals, merchantId, dayMs, { refundCount: 1n, refundedMicros });
        if (row.offer_id !== null)
          addOffer(totals, merchantId, dayMs, row.offer_id, { refundedMicros });
      });
    };
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

/**
 * Inserts the rows' counted markers; returns the rows whose marker this insert made, the only
 * ones the run may add to the totals (a marker there already: counted before, by a run that
 * committed, or by another node's run this one waited for on the marker's key).
 */
async function insertMarkers(
  tx: Transaction<PlatformSchema>,
  rows: readonly Counting[],
): Promise<Counting[]> {
  const inserted = new Set<string>();
  for (let start = 0; start < rows.length; start += rowsPerStatement) {
    const made = await tx
      .insertInto('report_rollup_counted')
      .values(rows.slice(start, start + rowsPerStatement).map(({ kind, id }) => ({ kind, id })))
      .onConflict((conflict) => conflict.doNothing())
      .returning(['kind', 'id'])
      .execute();
    for (const row of made) inserted.add(keyOf(row));
  }
  return rows.filter((row) => inserted.has(keyOf(row)));
}

async function writeTotals(tx: Transaction<PlatformSchema>, totals: Totals): Promise<void> {
  for (let start = 0; start < totals.shares.length; start += rowsPerStatement) {
    await tx
      .insertInto('report_payment_shares')
      .values(totals.shares.slice(start, start + rowsPerStatement))
      .onConflict((conflict) => conflict.doNothing())
      .execute();
  }
  const days = [...totals.days.values()];
  for (let start = 0; start < days.length; start += rowsPerStatement) {
    await tx
      .insertInto('report_day_totals')
      .values(days.slice(start, start + rowsPerStatement))
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
  for (let start = 0; start < offers.length; start += rowsPerStatement) {
    await tx
      .insertInto('report_offer_day_totals')
      .values(offers.slice(start, start + rowsPerStatement))
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
  added: readonly RowRef[],
  resolved: readonly RowRef[],
): Promise<void> {
  for (let start = 0; start < added.length; start += rowsPerStatement) {
    await tx
      .insertInto('report_rollup_waiting')
      .values(added.slice(start, start + rowsPerStatement).map(({ kind, id }) => ({ kind, id })))
      .onConflict((conflict) => conflict.doNothing())
      .execute();
  }
  for (const kind of ['payment', 'refund'] as const) {
    const ids = [...new Set(resolved.filter((row) => row.kind === kind).map((row) => row.id))];
    for (let start = 0; start < ids.length; start += rowsPerStatement) {
      await tx
        .deleteFrom('report_rollup_waiting')
        .where('kind', '=', kind)
        .where('id', 'in', ids.slice(start, start + rowsPerStatement))
        .execute();
    }
  }
}
