/**
 * The user's spending this month against each cap in force (issue 15): what the wallet's limits
 * page shows as progress, and what tells a user why a payment near a cap was refused.
 */
import { formatAmount } from '@mite/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { amountSchema } from '../money/amount-schema.ts';
import { requirePrincipal } from '../http/route-config.ts';
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

export const spendingRoutes: FastifyPluginAsyncZod<{
  limits: SpendingLimits;
  clock: () => number;
}> = async (api, { limits, clock }) => {
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
          }),
        },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request) => {
      const userId = requirePrincipal(request, 'user').id;
      const summary = await limits.summaryFor(userId, clock());
      return {
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
