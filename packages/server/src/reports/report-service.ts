/**
 * What a merchant's dashboard reads: its payments, refunds and offers, newest first a page at a
 * time (keyset on time and id, so a page never shifts under new rows), and its earnings over time
 * and top offers from the totals the rollup job keeps (report-rollup.ts). Every read is of one
 * merchant's rows through an index that starts with the merchant: the caller decides whose.
 */
import { sql } from 'kysely';
import type { PlatformDb } from '../db/platform-db.ts';
import { transferCodes } from '../ledger/chart-of-accounts.ts';
import { fail, ok, type Result } from '../result.ts';
import { sandboxFeeDefaults } from '../funding/sandbox-provider.ts';
import type { CardFeeSchedule } from '../funding/topup-service.ts';
import { createMerchantFeeReport } from './merchant-fee-report.ts';
import { type Bucket, buckets, type ReportInterval } from './report-periods.ts';

/** Offers a top-offers report lists when the client does not say. */
export const topOffersDefault = 10;
/** Most offers a top-offers report lists. */
export const topOffersMax = 100;

/** Where a list continues: after the row with this time and id (newest first). */
export interface ListCursor {
  readonly createdAt: string;
  readonly id: string;
}

export interface ListRequest {
  readonly merchantId: string;
  readonly cursor: ListCursor | undefined;
  /** Rows to return; one more is read to tell whether another page follows. */
  readonly limit: number;
}

export interface PaymentItem {
  readonly paymentId: string;
  readonly state: 'pending' | 'succeeded' | 'failed';
  readonly offerId: string | null;
  readonly offerTitle: string | null;
  readonly resource: string | null;
  /** Whether the merchant sold it (and so may refund it), rather than got a share of it. */
  readonly sold: boolean;
  /**
   * `tokens`: paid with unlinkable tokens the merchant deposited, from no one's wallet, so
   * there is no one to refund.
   */
  readonly paidWith: 'wallet' | 'tokens';
  readonly amountMicros: bigint;
  /** What the merchant's account got: its leg, after the platform fee and the splits. */
  readonly shareMicros: bigint;
  /** What succeeded refunds gave back to the payer, and what of it came from the merchant. */
  readonly refundedMicros: bigint;
  readonly shareRefundedMicros: bigint;
  readonly createdAtMs: number;
  readonly completedAtMs: number | null;
}

export interface RefundItem {
  readonly refundId: string;
  readonly paymentId: string;
  readonly state: 'pending' | 'succeeded' | 'failed';
  readonly amountMicros: bigint;
  /** What the merchant's account paid back of it. */
  readonly shareMicros: bigint;
  readonly requestedBy: 'merchant' | 'operator';
  readonly reason: string | null;
  readonly createdAtMs: number;
  readonly completedAtMs: number | null;
}

export interface OfferItem {
  readonly offerId: string;
  readonly resource: string;
  readonly title: string;
  readonly priceMicros: bigint;
  readonly category: 'content' | 'goods';
  readonly accessPeriodSeconds: number;
  readonly splits: readonly { readonly merchantId: string; readonly shareBasisPoints: number }[];
  readonly createdAtMs: number;
  readonly archivedAtMs: number | null;
}

export interface EarningsBucket extends Bucket {
  readonly paymentCount: bigint;
  readonly grossMicros: bigint;
  readonly feeMicros: bigint;
  readonly netMicros: bigint;
  readonly refundCount: bigint;
  readonly refundedMicros: bigint;
}

export interface TopOffer {
  readonly offerId: string;
  readonly title: string | null;
  readonly paymentCount: bigint;
  readonly grossMicros: bigint;
  readonly netMicros: bigint;
  readonly refundedMicros: bigint;
}

/** The page's rows and the cursor after its last, the extra row read telling there is more. */
export interface ListPage<T> {
  readonly items: T[];
  readonly next: ListCursor | undefined;
}

function pageOf<Row, T>(
  rows: readonly Row[],
  limit: number,
  cursorOf: (row: Row) => ListCursor,
  item: (row: Row) => T,
): ListPage<T> {
  const shown = rows.slice(0, limit);
  const last = shown.at(-1);
  return {
    items: shown.map(item),
    next: rows.length > limit && last !== undefined ? cursorOf(last) : undefined,
  };
}

const msOrNull = (ms: bigint | null) => (ms === null ? null : Number(ms));

export function createReportService(deps: {
  readonly platform: PlatformDb;
  /** The card fee the fee report compares against; the sandbox's 2.9% + $0.30 by default. */
  readonly perPaymentCardFee?: CardFeeSchedule;
}) {
  const db = deps.platform.db;
  const cardFeeSchedule = deps.perPaymentCardFee ?? sandboxFeeDefaults;
  const feeReport = createMerchantFeeReport({ platform: deps.platform, schedule: cardFeeSchedule });

  /** The merchant's ledger account, or undefined when there is no such merchant. */
  async function accountOf(merchantId: string): Promise<string | undefined> {
    const row = await db
      .selectFrom('merchants')
      .select('account_id')
      .where('id', '=', merchantId)
      .executeTakeFirst();
    return row?.account_id;
  }

  /** Newest first: before the cursor's (time, id), in the columns given. */
  function before(createdAtColumn: string, idColumn: string, cursor: ListCursor) {
    const createdAt = BigInt(cursor.createdAt);
    const time = sql.ref(createdAtColumn);
    return sql<boolean>`(${time} < ${createdAt} or (${time} = ${createdAt} and ${sql.ref(
      idColumn,
    )} < ${cursor.id}))`;
  }

  function paymentRows() {
    return db
      .selectFrom('payments')
      .leftJoin('offers', 'offers.id', 'payments.offer_id')
      .select([
        'payments.id',
        'payments.merchant_id',
        'payments.state',
        'payments.offer_id',
        'offers.title',
        'payments.resource',
        'payments.amount_micros',
        'payments.legs',
        'payments.created_at',
        'payments.completed_at',
      ]);
  }

  /**
   * The merchant's payments: those it sold (by the payments' own index), those of another
   * seller it got a share of (recorded by the rollup job), and its deposits of tokens, each read
   * a page long after the cursor and merged.
   */
  async function paymentsAfter(request: ListRequest) {
    const { merchantId, cursor, limit } = request;
    const sold = await paymentRows()
      .where('payments.merchant_id', '=', merchantId)
      .$if(cursor !== undefined, (query) =>
        query.where(before('payments.created_at', 'payments.id', cursor as ListCursor)),
      )
      .orderBy('payments.created_at', 'desc')
      .orderBy('payments.id', 'desc')
      .limit(limit + 1)
      .execute();
    const shares = await db
      .selectFrom('report_payment_shares')
      .select('payment_id')
      .where('merchant_id', '=', merchantId)
      .$if(cursor !== undefined, (query) =>
        query.where(before('created_at', 'payment_id', cursor as ListCursor)),
      )
      .orderBy('created_at', 'desc')
      .orderBy('payment_id', 'desc')
      .limit(limit + 1)
      .execute();
    const shared =
      shares.length === 0
        ? []
        : await paymentRows()
            .where(
              'payments.id',
              'in',
              shares.map((share) => share.payment_id),
            )
            .execute();
    const deposits = await db
      .selectFrom('token_deposits')
      .select(['id', 'merchant_id', 'state', 'resource', 'amount_micros', 'legs'])
      .select(['created_at', 'completed_at'])
      .where('merchant_id', '=', merchantId)
      .$if(cursor !== undefined, (query) =>
        query.where(before('created_at', 'id', cursor as ListCursor)),
      )
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const paid = [...sold, ...shared].map((row) => ({ ...row, paid_with: 'wallet' as const }));
    const byTokens = deposits.map((row) => ({
      ...row,
      offer_id: null,
      title: null,
      paid_with: 'tokens' as const,
    }));
    return [...paid, ...byTokens].sort(newestFirst).slice(0, limit + 1);
  }

  async function listPayments(
    request: ListRequest,
  ): Promise<Result<ListPage<PaymentItem>, 'merchantNotFound'>> {
    const account = await accountOf(request.merchantId);
    if (account === undefined) return fail('merchantNotFound');
    const rows = await paymentsAfter(request);
    const refunds = await refundsOf(
      rows.slice(0, request.limit).map((row) => row.id),
      account,
    );
    return ok(
      pageOf(rows, request.limit, cursorOf, (row) => ({
        paymentId: row.id,
        state: row.state,
        offerId: row.offer_id,
        offerTitle: row.title,
        resource: row.resource,
        sold: row.merchant_id === request.merchantId,
        paidWith: row.paid_with,
        amountMicros: BigInt(row.amount_micros),
        shareMicros: paidTo(row.legs, account),
        refundedMicros: refunds.get(row.id)?.totalMicros ?? 0n,
        shareRefundedMicros: refunds.get(row.id)?.shareMicros ?? 0n,
        createdAtMs: Number(row.created_at),
        completedAtMs: msOrNull(row.completed_at),
      })),
    );
  }

  /** The succeeded refunds of these payments: in all, and what `account` paid of them. */
  async function refundsOf(paymentIds: readonly string[], account: string) {
    const totals = new Map<string, { totalMicros: bigint; shareMicros: bigint }>();
    if (paymentIds.length === 0) return totals;
    const rows = await db
      .selectFrom('refunds')
      .select(['payment_id', 'amount_micros', 'legs'])
      .where('payment_id', 'in', paymentIds)
      .where('state', '=', 'succeeded')
      .execute();
    for (const row of rows) {
      const total = totals.get(row.payment_id) ?? { totalMicros: 0n, shareMicros: 0n };
      totals.set(row.payment_id, {
        totalMicros: total.totalMicros + BigInt(row.amount_micros),
        shareMicros: total.shareMicros + shareOf(row.legs, account),
      });
    }
    return totals;
  }

  async function listRefunds(
    request: ListRequest,
  ): Promise<Result<ListPage<RefundItem>, 'merchantNotFound'>> {
    const account = await accountOf(request.merchantId);
    if (account === undefined) return fail('merchantNotFound');
    const { cursor } = request;
    const rows = await db
      .selectFrom('refunds')
      .selectAll()
      .where('refunds.merchant_id', '=', request.merchantId)
      .$if(cursor !== undefined, (query) =>
        query.where(before('refunds.created_at', 'refunds.id', cursor as ListCursor)),
      )
      .orderBy('refunds.created_at', 'desc')
      .orderBy('refunds.id', 'desc')
      .limit(request.limit + 1)
      .execute();
    return ok(
      pageOf(rows, request.limit, cursorOf, (row) => ({
        refundId: row.id,
        paymentId: row.payment_id,
        state: row.state,
        amountMicros: BigInt(row.amount_micros),
        shareMicros: shareOf(row.legs, account),
        requestedBy: row.requested_by.startsWith('operator:') ? 'operator' : 'merchant',
        reason: row.reason,
        createdAtMs: Number(row.created_at),
        completedAtMs: msOrNull(row.completed_at),
      })),
    );
  }

  async function listOffers(
    request: ListRequest,
  ): Promise<Result<ListPage<OfferItem>, 'merchantNotFound'>> {
    if ((await accountOf(request.merchantId)) === undefined) return fail('merchantNotFound');
    const { cursor } = request;
    const rows = await db
      .selectFrom('offers')
      .selectAll()
      .where('offers.merchant_id', '=', request.merchantId)
      .$if(cursor !== undefined, (query) =>
        query.where(before('offers.created_at', 'offers.id', cursor as ListCursor)),
      )
      .orderBy('offers.created_at', 'desc')
      .orderBy('offers.id', 'desc')
      .limit(request.limit + 1)
      .execute();
    const ids = rows.slice(0, request.limit).map((row) => row.id);
    const splits =
      ids.length === 0
        ? []
        : await db
            .selectFrom('offer_splits')
            .selectAll()
            .where('offer_id', 'in', ids)
            .orderBy('offer_id')
            .orderBy('position')
            .execute();
    return ok(
      pageOf(rows, request.limit, cursorOf, (row) => ({
        offerId: row.id,
        resource: row.resource,
        title: row.title,
        priceMicros: BigInt(row.price_micros),
        category: row.category,
        accessPeriodSeconds: row.access_period_seconds,
        splits: splits
          .filter((split) => split.offer_id === row.id)
          .map((split) => ({
            merchantId: split.merchant_id,
            shareBasisPoints: split.share_basis_points,
          })),
        createdAtMs: Number(row.created_at),
        archivedAtMs: msOrNull(row.archived_at),
      })),
    );
  }

  /**
   * Earnings per bucket of the days from `fromDayMs` to `toDayMs` (inclusive, midnights UTC),
   * every bucket listed, empty ones as zeros. Reads one row per day with takings, at most
   * reportBucketsMax months of days.
   */
  async function earnings(input: {
    merchantId: string;
    interval: ReportInterval;
    fromDayMs: number;
    toDayMs: number;
  }): Promise<Result<EarningsBucket[], 'merchantNotFound'>> {
    if ((await accountOf(input.merchantId)) === undefined) return fail('merchantNotFound');
    const rows = await db
      .selectFrom('report_day_totals')
      .selectAll()
      .where('merchant_id', '=', input.merchantId)
      .where('day_at', '>=', BigInt(input.fromDayMs))
      .where('day_at', '<=', BigInt(input.toDayMs))
      .orderBy('day_at')
      .execute();
    return ok(
      buckets(input.interval, input.fromDayMs, input.toDayMs).map((bucket) => {
        const inside = rows.filter(
          (row) => Number(row.day_at) >= bucket.startMs && Number(row.day_at) < bucket.endMs,
        );
        const sum = (pick: (row: (typeof rows)[number]) => bigint) =>
          inside.reduce((total, row) => total + pick(row), 0n);
        return {
          ...bucket,
          paymentCount: sum((row) => row.payment_count),
          grossMicros: sum((row) => row.gross_micros),
          feeMicros: sum((row) => row.fee_micros),
          netMicros: sum((row) => row.net_micros),
          refundCount: sum((row) => row.refund_count),
          refundedMicros: sum((row) => row.refunded_micros),
        };
      }),
    );
  }

  /** The offers that earned the merchant most in the days given: net of refunds, highest first. */
  async function topOffers(input: {
    merchantId: string;
    fromDayMs: number;
    toDayMs: number;
    limit: number;
  }): Promise<Result<TopOffer[], 'merchantNotFound'>> {
    if ((await accountOf(input.merchantId)) === undefined) return fail('merchantNotFound');
    const kept = sql`sum(net_micros - refunded_micros)`;
    // Sums read as text: PostgreSQL sums int8 into numeric, which no JS number holds exactly.
    const rows = await db
      .selectFrom('report_offer_day_totals')
      .select([
        'offer_id',
        sql<string>`cast(sum(payment_count) as text)`.as('payment_count'),
        sql<string>`cast(sum(gross_micros) as text)`.as('gross_micros'),
        sql<string>`cast(sum(net_micros) as text)`.as('net_micros'),
        sql<string>`cast(sum(refunded_micros) as text)`.as('refunded_micros'),
      ])
      .where('merchant_id', '=', input.merchantId)
      .where('day_at', '>=', BigInt(input.fromDayMs))
      .where('day_at', '<=', BigInt(input.toDayMs))
      .groupBy('offer_id')
      .orderBy(kept, 'desc')
      .orderBy('offer_id')
      .limit(input.limit)
      .execute();
    const ids = rows.map((row) => row.offer_id);
    const titles =
      ids.length === 0
        ? []
        : await db.selectFrom('offers').select(['id', 'title']).where('id', 'in', ids).execute();
    return ok(
      rows.map((row) => ({
        offerId: row.offer_id,
        title: titles.find((offer) => offer.id === row.offer_id)?.title ?? null,
        paymentCount: BigInt(row.payment_count),
        grossMicros: BigInt(row.gross_micros),
        netMicros: BigInt(row.net_micros),
        refundedMicros: BigInt(row.refunded_micros),
      })),
    );
  }

  return {
    listPayments,
    listRefunds,
    listOffers,
    earnings,
    topOffers,
    cardFeeSchedule,
    ...feeReport,
  };
}

export type ReportService = ReturnType<typeof createReportService>;

function cursorOf(row: { readonly id: string; readonly created_at: bigint }): ListCursor {
  return { createdAt: row.created_at.toString(), id: row.id };
}

/**
 * Newest first, as the lists' SQL orders them: ids share one shape (a prefix and a lower-case
 * uuid), which orders the same in JavaScript and in either database.
 */
function newestFirst(
  a: { readonly created_at: bigint; readonly id: string },
  b: { readonly created_at: bigint; readonly id: string },
): number {
  if (a.created_at !== b.created_at) return a.created_at > b.created_at ? -1 : 1;
  return a.id === b.id ? 0 : a.id > b.id ? -1 : 1;
}

/** What `account` was credited by a payment's legs (its share, after fee and splits). */
function paidTo(legs: string, account: string): bigint {
  return (JSON.parse(legs) as { creditAccountId: string; amountMicros: string; code: number }[])
    .filter((leg) => leg.code === transferCodes.payment && leg.creditAccountId === account)
    .reduce((sum, leg) => sum + BigInt(leg.amountMicros), 0n);
}

/** What `account` paid back in a refund, from its legs. */
function shareOf(legs: string, account: string): bigint {
  return (JSON.parse(legs) as { debitAccountId: string; amountMicros: string }[])
    .filter((leg) => leg.debitAccountId === account)
    .reduce((sum, leg) => sum + BigInt(leg.amountMicros), 0n);
}
