/**
 * The retention of what purchases were for (DESIGN.md section 7, issue 14 item 3). A payment's
 * offer and resource say what a person bought; they are kept for the person's own history for
 * `purchaseDetailRetentionMs` (90 days by default), then this job erases them from the row and
 * adds the payment into `purchase_day_totals` (merchant, UTC day, offer or `challenge`: count and
 * amount). What the ledger, refunds and reports need stays: ids, user, merchant, amount, legs,
 * state and times. An offer's access row (`offer_access`) names the offer too: it is deleted with
 * the details once the access has ended, and kept while the access lasts, since serving it needs
 * the offer.
 *
 * The job walks payments in id order (ids are time-ordered, uuidv7) from the id it reached, a
 * batch a run, and stops at the first payment not yet due (too recent, still pending, or not yet
 * counted by the report rollup, which reads the offer). Each run commits the erasures, the totals
 * and its new position in one transaction that first advances the state's version from the one
 * it read, so that of the nodes running it at once one commits and a payment is added once.
 */
import type { Transaction } from 'kysely';
import type { PlatformDb } from '../db/platform-db.ts';
import type { PaymentState, PlatformSchema } from '../db/schema.ts';
import { dayMs, dayStartMs } from '../reports/report-periods.ts';

/** How long a purchase's offer and resource are kept by default: 90 days. */
export const purchaseDetailRetentionDaysDefault = 90;
/** Payments one run reads and compacts at most. */
export const purchaseCompactionBatchMax = 500;
/** What `purchase_day_totals.offer_id` says for payments of HTTP 402 challenges without an offer. */
export const challengeTotalsKey = 'challenge';
/** Rows per statement: keeps every statement under both dialects' parameter limits. */
const rowsPerStatement = 100;

/** The retention period from `MITE_PURCHASE_DETAIL_RETENTION_DAYS`, else the default, in ms. */
export function purchaseDetailRetentionMsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): number {
  const days = env.MITE_PURCHASE_DETAIL_RETENTION_DAYS;
  if (days === undefined || days === '') return purchaseDetailRetentionDaysDefault * dayMs;
  if (!/^\d+(\.\d+)?$/.test(days) || Number(days) <= 0) {
    throw new Error(
      `MITE_PURCHASE_DETAIL_RETENTION_DAYS is a positive number of days, not ${JSON.stringify(days)}`,
    );
  }
  return Math.round(Number(days) * dayMs);
}

export interface PurchaseCompactionDeps {
  readonly platform: PlatformDb;
  readonly clock: () => number;
  /** How long details are kept, in ms. */
  readonly retentionMs: number;
  /** Payments a run takes at most; purchaseCompactionBatchMax by default (tests pass fewer). */
  readonly batchRows?: number;
}

interface CandidateRow {
  readonly id: string;
  readonly user_id: string;
  readonly merchant_id: string;
  readonly offer_id: string | null;
  readonly amount_micros: string;
  readonly state: PaymentState;
  readonly created_at: bigint;
  readonly access_until: bigint;
  readonly details_erased_at: bigint | null;
}

export interface PurchaseCompaction {
  /** One run: how many payments it compacted, and whether more are due at once. */
  runOnce(): Promise<{ readonly compacted: number; readonly more: boolean }>;
}

export function createPurchaseCompaction(deps: PurchaseCompactionDeps): PurchaseCompaction {
  const { db } = deps.platform;
  const batchRows = deps.batchRows ?? purchaseCompactionBatchMax;

  async function runOnce(): Promise<{ compacted: number; more: boolean }> {
    const state = await db
      .selectFrom('purchase_compaction_state')
      .selectAll()
      .where('name', '=', 'payments')
      .executeTakeFirstOrThrow();
    // The rollup reads a payment's offer into the report totals: it must have counted it first.
    const rollup = await db
      .selectFrom('report_rollup_state')
      .select('payments_swept_id')
      .where('name', '=', 'main')
      .executeTakeFirst();
    const nowMs = deps.clock();
    const rows = await db
      .selectFrom('payments')
      .select([
        'id',
        'user_id',
        'merchant_id',
        'offer_id',
        'amount_micros',
        'state',
        'created_at',
        'access_until',
        'details_erased_at',
      ])
      .where('id', '>', state.after_id)
      .orderBy('id')
      .limit(batchRows)
      .execute();
    const due = dueRows(rows, BigInt(nowMs - deps.retentionMs), rollup?.payments_swept_id ?? '');
    const last = due.at(-1);
    if (last === undefined) return { compacted: 0, more: false };
    const committed = await db.transaction().execute(async (tx) => {
      const claimed = await tx
        .updateTable('purchase_compaction_state')
        .set({ version: state.version + 1n, after_id: last.id })
        .where('name', '=', 'payments')
        .where('version', '=', state.version)
        .executeTakeFirst();
      if (claimed.numUpdatedRows === 0n) return false;
      await compact(tx, due, nowMs);
      return true;
    });
    if (!committed) return { compacted: 0, more: false };
    return { compacted: due.length, more: due.length === rows.length && rows.length === batchRows };
  }

  return { runOnce };
}

/** The first rows of `rows` (in id order) that are due: old enough, finished, and rolled up. */
function dueRows(rows: readonly CandidateRow[], cutoff: bigint, rolledUpId: string) {
  const due: CandidateRow[] = [];
  for (const row of rows) {
    if (row.created_at >= cutoff || row.state === 'pending' || row.id > rolledUpId) break;
    due.push(row);
  }
  return due;
}

/** Erases the rows' details, adds them into the day totals, and ends their finished access. */
async function compact(
  tx: Transaction<PlatformSchema>,
  rows: readonly CandidateRow[],
  nowMs: number,
): Promise<void> {
  // A row erased already (by an erasure of the account) was counted by nothing here, and has no
  // offer left to count under.
  const kept = rows.filter((row) => row.details_erased_at === null);
  for (let start = 0; start < kept.length; start += rowsPerStatement) {
    const chunk = kept.slice(start, start + rowsPerStatement);
    await tx
      .updateTable('payments')
      .set({ offer_id: null, resource: null, details_erased_at: BigInt(nowMs) })
      .where(
        'id',
        'in',
        chunk.map((row) => row.id),
      )
      .where('details_erased_at', 'is', null)
      .execute();
    const ended = chunk.filter((row) => row.offer_id !== null && row.access_until <= nowMs);
    if (ended.length > 0) {
      await tx
        .deleteFrom('offer_access')
        .where((eb) =>
          eb.or(
            ended.map((row) =>
              eb.and([
                eb('user_id', '=', row.user_id),
                eb('offer_id', '=', row.offer_id ?? ''),
                eb('payment_id', '=', row.id),
              ]),
            ),
          ),
        )
        .execute();
    }
  }
  await addTotals(tx, kept);
}

async function addTotals(tx: Transaction<PlatformSchema>, rows: readonly CandidateRow[]) {
  const totals = new Map<
    string,
    {
      merchant_id: string;
      day_at: bigint;
      offer_id: string;
      payment_count: bigint;
      amount_micros: bigint;
    }
  >();
  for (const row of rows) {
    // A failed payment sold nothing: its details are erased and nothing is added.
    if (row.state !== 'succeeded') continue;
    const dayAt = BigInt(dayStartMs(Number(row.created_at)));
    const offerId = row.offer_id ?? challengeTotalsKey;
    const key = `${row.merchant_id}\u0000${dayAt}\u0000${offerId}`;
    const total = totals.get(key) ?? {
      merchant_id: row.merchant_id,
      day_at: dayAt,
      offer_id: offerId,
      payment_count: 0n,
      amount_micros: 0n,
    };
    total.payment_count += 1n;
    total.amount_micros += BigInt(row.amount_micros);
    totals.set(key, total);
  }
  const values = [...totals.values()];
  for (let start = 0; start < values.length; start += rowsPerStatement) {
    await tx
      .insertInto('purchase_day_totals')
      .values(values.slice(start, start + rowsPerStatement))
      .onConflict((conflict) =>
        conflict.columns(['merchant_id', 'day_at', 'offer_id']).doUpdateSet((eb) => ({
          payment_count: eb(
            'purchase_day_totals.payment_count',
            '+',
            eb.ref('excluded.payment_count'),
          ),
          amount_micros: eb(
            'purchase_day_totals.amount_micros',
            '+',
            eb.ref('excluded.amount_micros'),
          ),
        })),
      )
      .execute();
  }
}
