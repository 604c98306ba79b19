/**
 * A merchant's reports that the codes its customers bought were redeemed (redemption-reports.ts),
 * under `/v1/merchants/{id}/redemptions`: reported with `redemptions:write` (an Idempotency-Key,
 * one report per payment), listed with `redemptions:read`. A merchant acts for itself only;
 * another merchant's id is not found for it.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { cursorInteger, page, pageQuery, pageSchema } from '../http/pagination.ts';
import { type ProblemCode, sendProblem } from '../http/problems.ts';
import { requirePrincipal } from '../http/route-config.ts';
import type {
  RedemptionFailure,
  RedemptionReport,
  RedemptionReports,
} from './redemption-reports.ts';

interface RedemptionRouteOptions {
  readonly redemptions: RedemptionReports;
  /** The pseudonym a merchant knows a user by (payments/purchase-receipts.ts). */
  readonly pseudonym: (userId: string, merchantId: string) => string;
}

/** The scopes a merchant's key needs to report redemptions, and to read its reports. */
export const redemptionsWriteScope = 'redemptions:write';
export const redemptionsReadScope = 'redemptions:read';

const failureProblems: { readonly [F in RedemptionFailure]: ProblemCode } = {
  paymentNotFound: 'paymentNotFound',
  redemptionInvalid: 'redemptionInvalid',
  redemptionConflict: 'redemptionConflict',
};

const merchantParams = z.object({ merchantId: z.string().max(100) });
const pseudonymSchema = z
  .string()
  .regex(/^psn_[A-Za-z0-9_-]{1,64}$/, 'a payer pseudonym, as receipts name payers (psn_...)');
const instant = z.iso.datetime({ offset: true });

const reportBodySchema = z
  .object({
    paymentId: z.string().min(1).max(100).describe('The payment that bought the code'),
    redeemer: pseudonymSchema
      .optional()
      .describe(
        'Who redeemed it, as this merchant knows them: the pseudonym its receipts gave a Mite ' +
          'user; left out for an account outside Mite (or one it does not know as a Mite user)',
      ),
    redeemedAt: instant.optional().describe('When it was redeemed (RFC 3339); now if left out'),
  })
  .strict();

const reportSchema = z.object({
  paymentId: z.string(),
  redeemer: z.string().nullable().describe('The redeemer\u2019s pseudonym; null: outside Mite'),
  redeemedBy: z
    .enum(['buyer', 'otherCustomer', 'outsideAccount'])
    .describe('The payment\u2019s payer, another Mite user, or an account outside Mite'),
  redeemedAt: z.string().describe('RFC 3339'),
  reportedAt: z.string().describe('RFC 3339'),
});

const redeemedByWords = {
  buyer: 'buyer',
  otherUser: 'otherCustomer',
  outside: 'outsideAccount',
} as const;

function reportBody(
  report: RedemptionReport,
  pseudonym: RedemptionRouteOptions['pseudonym'],
): z.infer<typeof reportSchema> {
  return {
    paymentId: report.paymentId,
    redeemer:
      report.redeemerUserId === null ? null : pseudonym(report.redeemerUserId, report.merchantId),
    redeemedBy: redeemedByWords[report.redeemedBy],
    redeemedAt: new Date(report.redeemedAtMs).toISOString(),
    reportedAt: new Date(report.reportedAtMs).toISOString(),
  };
}

const listCursor = z.object({ at: cursorInteger(), paymentId: z.string().min(1).max(100) });

export const redemptionRoutes: FastifyPluginAsyncZod<RedemptionRouteOptions> = async (
  api,
  options,
) => {
  await api.register(reportRoutes, options);
  await api.register(listRoutes, options);
};

const reportRoutes: FastifyPluginAsyncZod<RedemptionRouteOptions> = async (
  api,
  { redemptions, pseudonym },
) => {
  api.post(
    '/v1/merchants/:merchantId/redemptions',
    {
      schema: {
        summary: 'Report that a code a customer bought was redeemed, and by whom',
        description:
          'For merchants that sell codes (gift cards, game currency; classed resellable by the ' +
          'operator): the code the payment bought was redeemed, by the Mite user this merchant ' +
          'knows by `redeemer`, or by an account outside Mite (`redeemer` left out). The risk ' +
          'rules count codes redeemed by accounts other than their buyer. One report per ' +
          'payment: the same report again answers 200 with the first one; another redeemer ' +
          'or time is `redemptionConflict` (409). Only succeeded payments to this merchant.',
        tags: ['merchants'],
        params: merchantParams,
        body: reportBodySchema,
        response: { 200: reportSchema, 201: reportSchema },
      },
      config: {
        auth: { kinds: ['merchant'], scopes: [redemptionsWriteScope] },
        idempotent: true,
      },
    },
    async (request, reply) => {
      const { merchantId } = request.params;
      if (requirePrincipal(request, 'merchant').id !== merchantId) {
        return sendProblem(reply, 'merchantNotFound');
      }
      const { paymentId, redeemer, redeemedAt } = request.body;
      const reported = await redemptions.report({
        merchantId,
        paymentId,
        redeemer,
        redeemedAtMs: redeemedAt === undefined ? undefined : Date.parse(redeemedAt),
      });
      if (!reported.ok) {
        return sendProblem(reply, failureProblems[reported.code], reported.detail);
      }
      const { report, created } = reported.value;
      return reply.code(created ? 201 : 200).send(reportBody(report, pseudonym));
    },
  );
};

const listRoutes: FastifyPluginAsyncZod<RedemptionRouteOptions> = async (
  api,
  { redemptions, pseudonym },
) => {
  api.get(
    '/v1/merchants/:merchantId/redemptions',
    {
      schema: {
        summary: 'The code redemptions this merchant reported, newest report first',
        tags: ['merchants'],
        params: merchantParams,
        querystring: pageQuery(listCursor),
        response: { 200: pageSchema(reportSchema) },
      },
      config: { auth: { kinds: ['merchant'], scopes: [redemptionsReadScope] } },
    },
    async (request, reply) => {
      const { merchantId } = request.params;
      if (requirePrincipal(request, 'merchant').id !== merchantId) {
        return sendProblem(reply, 'merchantNotFound');
      }
      const { cursor, limit } = request.query;
      const before =
        cursor === undefined ? undefined : { atMs: BigInt(cursor.at), paymentId: cursor.paymentId };
      const reports = await redemptions.list(merchantId, limit + 1, before);
      const shown = page(reports, limit, (report) => ({
        at: String(report.reportedAtMs),
        paymentId: report.paymentId,
      }));
      return {
        items: shown.items.map((report) => reportBody(report, pseudonym)),
        nextCursor: shown.nextCursor,
      };
    },
  );
};
