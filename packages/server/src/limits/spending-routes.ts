/**
 * The user's spending this month against each cap in force (issue 15): what the wallet's limits
 * page shows as progress, and what tells a user why a payment near a cap was refused.
 */
import { formatAmount } from '@mite/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { amountSchema } from '../money/amount-schema.ts';
import { requirePrincipal } from '../http/route-config.ts';
import { sendProblem } from '../http/problems.ts';
import type { FairPriceReader, FairPriceStanding } from './fair-price.ts';
import type { SpendingLimits } from './spending-limits.ts';

const scopeSpendingSchema = z.object({
  scope: z
    .string()
    .describe(
      '`content`, `goods`, `resellable` or `merchant:<merchant id>` (a limit the user set)',
    ),
  spent: amountSchema,
  cap: amountSchema.describe(
    'The cap in force: the lower of the platform\u2019s and the user\u2019s',
  ),
  ownLimit: amountSchema.nullable().describe('The user\u2019s own limit, if they set one'),
});

const fairPriceSchema = z.object({
  merchantId: z.string(),
  merchantName: z.string(),
  cap: amountSchema
    .nullable()
    .describe(
      'The merchant\u2019s fair-price cap: the most the user pays it in a month; null: none',
    ),
  spent: amountSchema.describe('What the user paid it this month towards the cap'),
  left: amountSchema
    .nullable()
    .describe('What the user pays at most until the cap is reached (0: the rest is free)'),
});

function fairPriceBody(standing: FairPriceStanding): z.infer<typeof fairPriceSchema> {
  const { capMicros, spentMicros } = standing;
  const left = capMicros === null ? null : capMicros > spentMicros ? capMicros - spentMicros : 0n;
  return {
    merchantId: standing.merchantId,
    merchantName: standing.merchantName,
    cap: capMicros === null ? null : formatAmount(capMicros),
    spent: formatAmount(spentMicros),
    left: left === null ? null : formatAmount(left),
  };
}

export const spendingRoutes: FastifyPluginAsyncZod<{
  limits: SpendingLimits;
  clock: () => number;
  fairPrices: FairPriceReader;
}> = async (api, { limits, clock, fairPrices }) => {
  api.get(
    '/v1/users/me/spending/merchants/:merchantId',
    {
      schema: {
        summary: 'Where I stand with a merchant\u2019s fair-price cap this month',
        description:
          'What the pay window tells the user before paying: the merchant\u2019s monthly cap, ' +
          'if it has one, what the user paid it this month towards the cap, and what is left ' +
          'before further items are free.',
        tags: ['limits'],
        params: z.object({ merchantId: z.string().max(100) }),
        response: { 200: fairPriceSchema.extend({ month: z.string().describe('YYYY-MM') }) },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request, reply) => {
      const userId = requirePrincipal(request, 'user').id;
      const nowMs = clock();
      const standing = await fairPrices.standingWith(userId, request.params.merchantId, nowMs);
      if (standing === undefined) return sendProblem(reply, 'merchantNotFound');
      return { ...fairPriceBody(standing), month: limits.monthOf(nowMs) };
    },
  );
  api.get(
    '/v1/users/me/spending',
    {
      schema: {
        summary: 'My spending this month against each monthly cap',
        description:
          'Months roll over at midnight on the first in the operator\u2019s time zone. A payment ' +
          'that would take a scope past its cap is refused before any money moves.',
        tags: ['limits'],
        response: {
          200: z.object({
            month: z.string().describe('YYYY-MM'),
            timeZone: z.string(),
            scopes: z.array(scopeSpendingSchema),
            fairPriceCaps: z
              .array(fairPriceSchema)
              .describe('Each merchant with a fair-price cap the user paid this month'),
          }),
        },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request) => {
      const userId = requirePrincipal(request, 'user').id;
      const nowMs = clock();
      const summary = await limits.summaryFor(userId, nowMs);
      const standings = await fairPrices.standingsOf(userId, nowMs);
      return {
        fairPriceCaps: standings.map(fairPriceBody),
        month: summary.month,
        timeZone: summary.timeZone,
        scopes: summary.scopes.map((scope) => ({
          scope: scope.scope,
          spent: formatAmount(scope.spentMicros),
          cap: formatAmount(scope.capMicros),
          ownLimit: scope.ownLimitMicros === null ? null : formatAmount(scope.ownLimitMicros),
        })),
      };
    },
  );
};
