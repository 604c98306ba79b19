/** The deltas one rollup run adds to the totals, keyed by merchant and day (and offer). */
import type {
  ReportDayTotalsTable,
  ReportOfferDayTotalsTable,
  ReportPaymentSharesTable,
} from '../db/schema.ts';

export interface Totals {
  readonly days: Map<string, ReportDayTotalsTable>;
  readonly offers: Map<string, ReportOfferDayTotalsTable>;
  /** Payments of another seller that paid a merchant a share. */
  readonly shares: ReportPaymentSharesTable[];
}

export function createTotals(): Totals {
  return { days: new Map(), offers: new Map(), shares: [] };
}

interface DayDelta {
  readonly paymentCount?: bigint;
  readonly grossMicros?: bigint;
  readonly feeMicros?: bigint;
  readonly netMicros?: bigint;
  readonly refundCount?: bigint;
  readonly refundedMicros?: bigint;
}

export function addDay(totals: Totals, merchantId: string, dayMs: bigint, delta: DayDelta): void {
  const key = `${merchantId}\u0000${dayMs}`;
  const row = totals.days.get(key) ?? {
    merchant_id: merchantId,
    day_at: dayMs,
    payment_count: 0n,
    gross_micros: 0n,
    fee_micros: 0n,
    net_micros: 0n,
    refund_count: 0n,
    refunded_micros: 0n,
  };
  totals.days.set(key, {
    ...row,
    payment_count: row.payment_count + (delta.paymentCount ?? 0n),
    gross_micros: row.gross_micros + (delta.grossMicros ?? 0n),
    fee_micros: row.fee_micros + (delta.feeMicros ?? 0n),
    net_micros: row.net_micros + (delta.netMicros ?? 0n),
    refund_count: row.refund_count + (delta.refundCount ?? 0n),
    refunded_micros: row.refunded_micros + (delta.refundedMicros ?? 0n),
  });
}

export function addOffer(
  totals: Totals,
  merchantId: string,
  dayMs: bigint,
  offerId: string,
  delta: Pick<DayDelta, 'paymentCount' | 'grossMicros' | 'netMicros' | 'refundedMicros'>,
): void {
  const key = `${merchantId}\u0000${dayMs}\u0000${offerId}`;
  const row = totals.offers.get(key) ?? {
    merchant_id: merchantId,
    day_at: dayMs,
    offer_id: offerId,
    payment_count: 0n,
    gross_micros: 0n,
    net_micros: 0n,
    refunded_micros: 0n,
  };
  totals.offers.set(key, {
    ...row,
    payment_count: row.payment_count + (delta.paymentCount ?? 0n),
    gross_micros: row.gross_micros + (delta.grossMicros ?? 0n),
    net_micros: row.net_micros + (delta.netMicros ?? 0n),
    refunded_micros: row.refunded_micros + (delta.refundedMicros ?? 0n),
  });
}
