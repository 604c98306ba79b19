import { ledgerMicrosOf } from '../shared/money.ts';

/** The report's buckets: a UTC day, a week from Monday, or a month. */
export type EarningsInterval = 'day' | 'week' | 'month';

/** What the chart plots. */
export type EarningsMeasure = 'gross' | 'net' | 'fees';

/** `GET /v1/merchants/{id}/reports/earnings` buckets. */
export interface EarningsBucket {
  readonly start: string;
  readonly end: string;
  readonly payments: number;
  readonly gross: string;
  readonly fees: string;
  readonly net: string;
  readonly refunds: number;
  readonly refunded: string;
}

/** A period's totals, in micro-units: added as bigints, never as floating-point numbers. */
export interface EarningsTotals {
  readonly payments: number;
  readonly gross: bigint;
  readonly fees: bigint;
  readonly net: bigint;
  readonly refunded: bigint;
}

const dayMs = 86_400_000;

/** How far back each interval's chart reaches, in buckets (the API takes at most 366). */
export const bucketsShown: Readonly<Record<EarningsInterval, number>> = {
  day: 30,
  week: 26,
  month: 12,
};

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * The report's `from` and `to` (UTC days, both included) for the last `bucketsShown` buckets of
 * an interval, ending today.
 */
export function periodFor(interval: EarningsInterval, nowMs: number): { from: string; to: string } {
  const today = new Date(nowMs);
  const todayMs = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  const count = bucketsShown[interval];
  if (interval === 'day')
    return { from: isoDay(todayMs - (count - 1) * dayMs), to: isoDay(todayMs) };
  if (interval === 'week') {
    const mondayMs = todayMs - ((today.getUTCDay() + 6) % 7) * dayMs;
    return { from: isoDay(mondayMs - (count - 1) * 7 * dayMs), to: isoDay(todayMs) };
  }
  const firstMs = Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - (count - 1), 1);
  return { from: isoDay(firstMs), to: isoDay(todayMs) };
}

function micros(text: string): bigint {
  return ledgerMicrosOf(text) ?? 0n;
}

/** The buckets' sums. */
export function totalsOf(buckets: readonly EarningsBucket[]): EarningsTotals {
  return buckets.reduce<EarningsTotals>(
    (sum, bucket) => ({
      payments: sum.payments + bucket.payments,
      gross: sum.gross + micros(bucket.gross),
      fees: sum.fees + micros(bucket.fees),
      net: sum.net + micros(bucket.net),
      refunded: sum.refunded + micros(bucket.refunded),
    }),
    { payments: 0, gross: 0n, fees: 0n, net: 0n, refunded: 0n },
  );
}

/** What the chart draws: one label and one value per bucket. */
export interface ChartData {
  readonly labels: readonly string[];
  readonly values: readonly number[];
}

const labelFormats: Readonly<Record<EarningsInterval, Intl.DateTimeFormat>> = {
  day: new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' }),
  week: new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' }),
  month: new Intl.DateTimeFormat(undefined, { month: 'short', year: 'numeric', timeZone: 'UTC' }),
};

/** A bucket's name for people: "Mar 3", "Mar 2026". */
export function bucketLabel(interval: EarningsInterval, bucket: EarningsBucket): string {
  return labelFormats[interval].format(new Date(`${bucket.start}T00:00:00Z`));
}

/**
 * The chart's data: the measure of each bucket in dollars. A chart needs numbers; a number of
 * dollars is exact enough for a pixel, and no figure shown as text is read from it.
 */
export function chartData(
  interval: EarningsInterval,
  buckets: readonly EarningsBucket[],
  measure: EarningsMeasure,
): ChartData {
  return {
    labels: buckets.map((bucket) => bucketLabel(interval, bucket)),
    values: buckets.map((bucket) => Number(micros(bucket[measure])) / 1_000_000),
  };
}
