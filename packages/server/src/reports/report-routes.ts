/**
 * The merchant dashboard's lists and reports, under `/v1/merchants/{merchantId}/...`. A merchant
 * reads its own (another merchant's id is answered 404, as for an unknown one, so that ids cannot
 * be probed); operators read any merchant's.
 */
import { currency, formatLedgerAmount } from '@mite/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiKeyScope } from '../auth/scopes.ts';
import { cursorInteger, encodeCursor, pageQuery, pageSchema } from '../http/pagination.ts';
import { sendProblem } from '../http/problems.ts';
import { actsForMerchant } from '../http/route-config.ts';
import { amountSchema, formatAmount } from '../money/amount-schema.ts';
import {
  bucketCount,
  dayMs,
  formatDay,
  parseDay,
  reportBucketsMax,
  reportIntervals,
} from './report-periods.ts';
import {
  reportRollupIntervalMs,
  reportRollupLookbackMs,
  reportRollupSettleMs,
} from './report-rollup.ts';
import {
  type EarningsBucket,
  type ListCursor,
  type ListPage,
  type ReportService,
  topOffersDefault,
  topOffersMax,
} from './report-service.ts';

const listCursorSchema = z.object({ createdAt: cursorInteger(), id: z.string().min(1).max(100) });
const merchantParams = z.object({ merchantId: z.string().min(1).max(100) });
const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));
const stateSchema = z.enum(['pending', 'succeeded', 'failed']);

const paymentItemSchema = z.object({
  paymentId: z.string(),
  state: stateSchema,
  offerId: z.string().nullable(),
  offerTitle: z.string().nullable(),
  resource: z.string().nullable().describe('What was bought'),
  sold: z
    .boolean()
    .describe(
      'Whether this merchant sold it, and so may refund it; false for a share of another ' +
        'merchant\u2019s sale (a revenue split)',
    ),
  paidWith: z
    .enum(['wallet', 'tokens'])
    .describe(
      '`tokens`: paid with unlinkable tokens this merchant deposited (no payer is known, so ' +
        'it cannot be refunded)',
    ),
  amount: amountSchema.describe('What the payer paid'),
  share: amountSchema.describe('What this merchant got, after the platform fee and the splits'),
  refunded: amountSchema.describe('What succeeded refunds gave back to the payer'),
  shareRefunded: amountSchema.describe('What of the refunds came from this merchant'),
  currency: z.string(),
  createdAt: z.string().describe('RFC 3339'),
  completedAt: z.string().nullable(),
});

const refundItemSchema = z.object({
  refundId: z.string(),
  paymentId: z.string(),
  state: stateSchema,
  amount: amountSchema,
  share: amountSchema.describe('What this merchant paid back of it'),
  requestedBy: z.enum(['merchant', 'operator']),
  reason: z.string().nullable(),
  currency: z.string(),
  createdAt: z.string(),
  completedAt: z.string().nullable(),
});

const offerItemSchema = z.object({
  offerId: z.string(),
  resource: z.string(),
  title: z.string(),
  price: amountSchema,
  category: z.enum(['content', 'goods']),
  accessPeriodSeconds: z.number().int(),
  splits: z.array(z.object({ merchantId: z.string(), shareBasisPoints: z.number().int() })),
  createdAt: z.string(),
  archivedAt: z.string().nullable(),
});

const totalSchema = z.string().describe('A decimal amount; a sum, so it may pass 10^12');
const lagNote =
  `Built from totals a background job keeps: a payment or refund appears about ` +
  `${(reportRollupIntervalMs + reportRollupSettleMs) / 1000} seconds after it completes ` +
  `(one whose record was written late, within ${reportRollupLookbackMs / 60_000} minutes), ` +
  `and is counted once.`;

const dayQuery = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/)
  .describe('A day, YYYY-MM-DD (UTC), included');

type ReportRoutes = FastifyPluginAsyncZod<{ reports: ReportService }>;

function auth(scope: ApiKeyScope) {
  return { auth: { kinds: ['merchant', 'operator'] as const, scopes: [scope] } };
}

function wirePage<T, W>(page: ListPage<T>, item: (value: T) => W) {
  const next: ListCursor | undefined = page.next;
  return {
    items: page.items.map(item),
    nextCursor: next === undefined ? null : encodeCursor(next),
  };
}

export const reportRoutes: ReportRoutes = async (api, options) => {
  await api.register(paymentListRoute, options);
  await api.register(refundListRoute, options);
  await api.register(offerListRoute, options);
  await api.register(earningsRoute, options);
  await api.register(topOffersRoute, options);
  await api.register(feeReportRoute, options);
};

const paymentListRoute: ReportRoutes = async (api, { reports }) => {
  api.get(
    '/v1/merchants/:merchantId/payments',
    {
      schema: {
        summary: 'A merchant\u2019s payments, newest first',
        description:
          'Every payment of the merchant\u2019s offers and challenges, whatever its state, ' +
          'those of other merchants\u2019 offers it got a share of (a revenue split; these ' +
          'once succeeded, a few seconds later), and its deposits of tokens (`paidWith: ' +
          'tokens`), with the merchant\u2019s own share. A page never shifts under new payments.',
        tags: ['reports'],
        params: merchantParams,
        querystring: pageQuery(listCursorSchema),
        response: { 200: pageSchema(paymentItemSchema) },
      },
      config: auth('payments:read'),
    },
    async (request, reply) => {
      const { merchantId } = request.params;
      if (!actsForMerchant(request, merchantId)) return sendProblem(reply, 'merchantNotFound');
      const { cursor, limit } = request.query;
      const listed = await reports.listPayments({ merchantId, cursor, limit });
      if (!listed.ok) return sendProblem(reply, listed.code);
      return wirePage(listed.value, (payment) => ({
        paymentId: payment.paymentId,
        state: payment.state,
        offerId: payment.offerId,
        offerTitle: payment.offerTitle,
        resource: payment.resource,
        sold: payment.sold,
        paidWith: payment.paidWith,
        amount: formatAmount(payment.amountMicros),
        share: formatAmount(payment.shareMicros),
        refunded: formatAmount(payment.refundedMicros),
        shareRefunded: formatAmount(payment.shareRefundedMicros),
        currency,
        createdAt: iso(payment.createdAtMs),
        completedAt: isoOrNull(payment.completedAtMs),
      }));
    },
  );
};

const refundListRoute: ReportRoutes = async (api, { reports }) => {
  api.get(
    '/v1/merchants/:merchantId/refunds',
    {
      schema: {
        summary: 'A merchant\u2019s refunds, newest first',
        tags: ['reports'],
        params: merchantParams,
        querystring: pageQuery(listCursorSchema),
        response: { 200: pageSchema(refundItemSchema) },
      },
      config: auth('payments:read'),
    },
    async (request, reply) => {
      const { merchantId } = request.params;
      if (!actsForMerchant(request, merchantId)) return sendProblem(reply, 'merchantNotFound');
      const { cursor, limit } = request.query;
      const listed = await reports.listRefunds({ merchantId, cursor, limit });
      if (!listed.ok) return sendProblem(reply, listed.code);
      return wirePage(listed.value, (refund) => ({
        refundId: refund.refundId,
        paymentId: refund.paymentId,
        state: refund.state,
        amount: formatAmount(refund.amountMicros),
        share: formatAmount(refund.shareMicros),
        requestedBy: refund.requestedBy,
        reason: refund.reason,
        currency,
        createdAt: iso(refund.createdAtMs),
        completedAt: isoOrNull(refund.completedAtMs),
      }));
    },
  );
};

const offerListRoute: ReportRoutes = async (api, { reports }) => {
  api.get(
    '/v1/merchants/:merchantId/offers',
    {
      schema: {
        summary: 'A merchant\u2019s offers with their revenue splits, newest first',
        tags: ['reports'],
        params: merchantParams,
        querystring: pageQuery(listCursorSchema),
        response: { 200: pageSchema(offerItemSchema) },
      },
      config: auth('offers:read'),
    },
    async (request, reply) => {
      const { merchantId } = request.params;
      if (!actsForMerchant(request, merchantId)) return sendProblem(reply, 'merchantNotFound');
      const { cursor, limit } = request.query;
      const listed = await reports.listOffers({ merchantId, cursor, limit });
      if (!listed.ok) return sendProblem(reply, listed.code);
      return wirePage(listed.value, (offer) => ({
        offerId: offer.offerId,
        resource: offer.resource,
        title: offer.title,
        price: formatAmount(offer.priceMicros),
        category: offer.category,
        accessPeriodSeconds: offer.accessPeriodSeconds,
        splits: [...offer.splits],
        createdAt: iso(offer.createdAtMs),
        archivedAt: isoOrNull(offer.archivedAtMs),
      }));
    },
  );
};

/**
 * The days a report covers, checked: real dates, `from` not after `to`. A string is the detail
 * of the validationFailed to answer.
 */
function periodOf(query: { from: string; to: string }) {
  const fromDayMs = parseDay(query.from);
  const toDayMs = parseDay(query.to);
  if (fromDayMs === undefined || toDayMs === undefined) {
    return 'from and to are days of the calendar, YYYY-MM-DD';
  }
  if (fromDayMs > toDayMs) return 'from is a day before to, or the same day';
  return { fromDayMs, toDayMs };
}

const earningsBucketSchema = z.object({
  start: z.string().describe('The first day of the bucket, YYYY-MM-DD'),
  end: z.string().describe('The last day of the bucket, YYYY-MM-DD'),
  payments: z.number().int(),
  gross: totalSchema.describe('The merchant\u2019s part of the prices: its share and fee'),
  fees: totalSchema.describe('The platform\u2019s fees on the merchant\u2019s part'),
  net: totalSchema.describe('What the merchant\u2019s account was credited'),
  refunds: z.number().int(),
  refunded: totalSchema.describe('What refunds took back from the merchant\u2019s account'),
});

const topOfferSchema = z.object({
  offerId: z.string(),
  title: z.string().nullable(),
  payments: z.number().int(),
  gross: totalSchema,
  net: totalSchema,
  refunded: totalSchema,
  kept: totalSchema.describe('net - refunded: what the offers are ranked by'),
});

const earningsRoute: ReportRoutes = async (api, { reports }) => {
  api.get(
    '/v1/merchants/:merchantId/reports/earnings',
    {
      schema: {
        summary: 'A merchant\u2019s earnings per day, week (from Monday) or month, in UTC',
        description:
          `Every bucket from the one holding \`from\` to the one holding \`to\`, at most ` +
          `${reportBucketsMax}, each clipped to those days; a payment split among merchants ` +
          `counts for each by its own share. ${lagNote}`,
        tags: ['reports'],
        params: merchantParams,
        querystring: z.object({
          interval: z.enum(reportIntervals),
          from: dayQuery,
          to: dayQuery,
        }),
        response: {
          200: z.object({
            interval: z.enum(reportIntervals),
            currency: z.string(),
            buckets: z.array(earningsBucketSchema),
          }),
        },
      },
      config: auth('reports:read'),
    },
    async (request, reply) => {
      const { merchantId } = request.params;
      if (!actsForMerchant(request, merchantId)) return sendProblem(reply, 'merchantNotFound');
      const { interval } = request.query;
      const period = periodOf(request.query);
      if (typeof period === 'string') return sendProblem(reply, 'validationFailed', period);
      const count = bucketCount(interval, period.fromDayMs, period.toDayMs);
      if (count > reportBucketsMax) {
        return sendProblem(
          reply,
          'validationFailed',
          `${count} buckets of a ${interval}; a report holds at most ${reportBucketsMax}`,
        );
      }
      const report = await reports.earnings({ merchantId, interval, ...period });
      if (!report.ok) return sendProblem(reply, report.code);
      return {
        interval,
        currency,
        buckets: report.value.map((bucket) => ({
          start: formatDay(bucket.startMs),
          end: formatDay(bucket.endMs - dayMs),
          payments: Number(bucket.paymentCount),
          gross: formatLedgerAmount(bucket.grossMicros),
          fees: formatLedgerAmount(bucket.feeMicros),
          net: formatLedgerAmount(bucket.netMicros),
          refunds: Number(bucket.refundCount),
          refunded: formatLedgerAmount(bucket.refundedMicros),
        })),
      };
    },
  );
};

const topOffersRoute: ReportRoutes = async (api, { reports }) => {
  api.get(
    '/v1/merchants/:merchantId/reports/top-offers',
    {
      schema: {
        summary: 'A merchant\u2019s offers that earned most in a period',
        description:
          `Ranked by what the merchant kept (net of refunds), over at most ` +
          `${reportBucketsMax} days. ${lagNote}`,
        tags: ['reports'],
        params: merchantParams,
        querystring: z.object({
          from: dayQuery,
          to: dayQuery,
          limit: z.coerce
            .number()
            .int()
            .min(1)
            .max(topOffersMax)
            .default(topOffersDefault)
            .describe(`Offers to list, 1 to ${topOffersMax}`),
        }),
        response: { 200: z.object({ currency: z.string(), offers: z.array(topOfferSchema) }) },
      },
      config: auth('reports:read'),
    },
    async (request, reply) => {
      const { merchantId } = request.params;
      if (!actsForMerchant(request, merchantId)) return sendProblem(reply, 'merchantNotFound');
      const period = periodOf(request.query);
      if (typeof period === 'string') return sendProblem(reply, 'validationFailed', period);
      if (bucketCount('day', period.fromDayMs, period.toDayMs) > reportBucketsMax) {
        return sendProblem(
          reply,
          'validationFailed',
          `a period of at most ${reportBucketsMax} days`,
        );
      }
      const { limit } = request.query;
      const top = await reports.topOffers({ merchantId, ...period, limit });
      if (!top.ok) return sendProblem(reply, top.code);
      return {
        currency,
        offers: top.value.map((offer) => ({
          offerId: offer.offerId,
          title: offer.title,
          payments: Number(offer.paymentCount),
          gross: formatLedgerAmount(offer.grossMicros),
          net: formatLedgerAmount(offer.netMicros),
          refunded: formatLedgerAmount(offer.refundedMicros),
          kept: formatLedgerAmount(offer.netMicros - offer.refundedMicros),
        })),
      };
    },
  );
};

const feeReportSchema = z.object({
  from: z.string(),
  to: z.string(),
  currency: z.string(),
  platformFeeBasisPoints: z.number().int().describe('The merchant\u2019s platform fee rate'),
  sales: z
    .object({
      payments: z.number().int(),
      gross: totalSchema.describe('The merchant\u2019s part of the prices: its share and fee'),
      platformFees: totalSchema.describe('What the platform fee took of it'),
      net: totalSchema.describe('What the merchant\u2019s account was credited'),
      refunded: totalSchema,
    })
    .describe(`The merchant\u2019s takings, splits included. ${lagNote}`),
  cardComparison: z
    .object({
      payments: z.number().int().describe('Succeeded payments it sold, made in the period'),
      paid: totalSchema.describe('What their buyers paid, from wallets funded by top-ups'),
      perPaymentCardFees: totalSchema.describe(
        'What the same purchases would have cost in card fees, each paid by card on its own',
      ),
      cardFeeBasisPoints: z.number().int(),
      cardFeeFixed: totalSchema.describe('The fixed part of one card charge'),
    })
    .describe('Read from the payments themselves, so it is current'),
});

const feeReportRoute: ReportRoutes = async (api, { reports }) => {
  api.get(
    '/v1/merchants/:merchantId/reports/fees',
    {
      schema: {
        summary: 'What the platform fee took, against card fees per purchase, for a merchant',
        description:
          `Over the days from \`from\` to \`to\` (UTC, at most ${reportBucketsMax}): the ` +
          'platform fee on the merchant\u2019s sales, and what the purchases it sold would ' +
          'have cost in card fees had each been paid by card on its own. The card fees of the ' +
          'top-ups that funded them are not shown: a top-up pays for many merchants\u2019 ' +
          'purchases, so no part of it is one merchant\u2019s (the operator\u2019s ' +
          '`/v1/fee-report` has the platform\u2019s totals).',
        tags: ['reports'],
        params: merchantParams,
        querystring: z.object({ from: dayQuery, to: dayQuery }),
        response: { 200: feeReportSchema },
      },
      config: auth('reports:read'),
    },
    async (request, reply) => {
      const { merchantId } = request.params;
      if (!actsForMerchant(request, merchantId)) return sendProblem(reply, 'merchantNotFound');
      const period = periodOf(request.query);
      if (typeof period === 'string') return sendProblem(reply, 'validationFailed', period);
      if (bucketCount('day', period.fromDayMs, period.toDayMs) > reportBucketsMax) {
        return sendProblem(
          reply,
          'validationFailed',
          `a period of at most ${reportBucketsMax} days`,
        );
      }
      const days = await reports.earnings({ merchantId, interval: 'day', ...period });
      if (!days.ok) return sendProblem(reply, days.code);
      const cards = await reports.merchantCardFees({
        merchantId,
        fromMs: period.fromDayMs,
        toMs: period.toDayMs + dayMs,
      });
      if (!cards.ok) return sendProblem(reply, cards.code);
      const sum = (pick: (bucket: EarningsBucket) => bigint) =>
        days.value.reduce((total, bucket) => total + pick(bucket), 0n);
      const schedule = reports.cardFeeSchedule;
      return {
        ...request.query,
        currency,
        platformFeeBasisPoints: cards.value.platformFeeBasisPoints,
        sales: {
          payments: Number(sum((bucket) => bucket.paymentCount)),
          gross: formatLedgerAmount(sum((bucket) => bucket.grossMicros)),
          platformFees: formatLedgerAmount(sum((bucket) => bucket.feeMicros)),
          net: formatLedgerAmount(sum((bucket) => bucket.netMicros)),
          refunded: formatLedgerAmount(sum((bucket) => bucket.refundedMicros)),
        },
        cardComparison: {
          payments: cards.value.paymentCount,
          paid: formatLedgerAmount(cards.value.paidMicros),
          perPaymentCardFees: formatLedgerAmount(cards.value.perPaymentCardFeeMicros),
          cardFeeBasisPoints: schedule.feeBasisPoints,
          cardFeeFixed: formatLedgerAmount(schedule.feeFixedMicros),
        },
      };
    },
  );
};
