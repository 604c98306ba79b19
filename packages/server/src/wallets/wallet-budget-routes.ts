import { currency } from '@mite/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sendProblem } from '../http/problems.ts';
import { requirePrincipal } from '../http/route-config.ts';
import { amountSchema, formatAmount, microsOf } from '../money/amount-schema.ts';
import {
  type StoredWalletBudget,
  walletBudgetMaximums,
  type WalletBudgets,
} from './wallet-budgets.ts';

/** The four limits, as the client's `Budget` names them. */
const budgetLimitsSchema = z
  .object({
    maxPerPayment: amountSchema.describe(
      `The most one payment may cost; at most ${formatAmount(walletBudgetMaximums.maxPerPaymentMicros)}`,
    ),
    maxPerOriginPerDay: amountSchema.describe(
      'The most paid to one site (origin) in one UTC day; at most ' +
        formatAmount(walletBudgetMaximums.maxPerOriginPerDayMicros),
    ),
    maxTotal: amountSchema.describe(
      `The most paid in total; at most ${formatAmount(walletBudgetMaximums.maxTotalMicros)}`,
    ),
    approveAbove: amountSchema.describe(
      'Payments above this amount are asked about before they are made; at most maxPerPayment',
    ),
  })
  .strict();

const storedBudgetSchema = budgetLimitsSchema.extend({
  currency: z.string(),
  updatedAt: z
    .string()
    .nullable()
    .describe('When the budget was last saved (ISO 8601); null while the defaults apply'),
  maximums: z
    .object({ maxPerPayment: z.string(), maxPerOriginPerDay: z.string(), maxTotal: z.string() })
    .describe('The largest limits the platform stores'),
});

function budgetView(budget: StoredWalletBudget): z.infer<typeof storedBudgetSchema> {
  return {
    maxPerPayment: formatAmount(budget.maxPerPaymentMicros),
    maxPerOriginPerDay: formatAmount(budget.maxPerOriginPerDayMicros),
    maxTotal: formatAmount(budget.maxTotalMicros),
    approveAbove: formatAmount(budget.approveAboveMicros),
    currency,
    updatedAt: budget.updatedAtMs === undefined ? null : new Date(budget.updatedAtMs).toISOString(),
    maximums: {
      maxPerPayment: formatAmount(walletBudgetMaximums.maxPerPaymentMicros),
      maxPerOriginPerDay: formatAmount(walletBudgetMaximums.maxPerOriginPerDayMicros),
      maxTotal: formatAmount(walletBudgetMaximums.maxTotalMicros),
    },
  };
}

const budgetDescription =
  'The limits the clients that pay for this user (the wallet\u2019s paywall) enforce: the ' +
  'platform stores them and checks that they make sense, and does not refuse payments by them.';

/** `GET` and `PUT /v1/wallet/budget`: the user's stored budget. */
export const walletBudgetRoutes: FastifyPluginAsyncZod<{ budgets: WalletBudgets }> = async (
  api,
  { budgets },
) => {
  api.get(
    '/v1/wallet/budget',
    {
      schema: {
        summary: 'My budget for the clients that pay for me',
        description: `${budgetDescription} Until one is saved, the defaults apply.`,
        tags: ['wallet'],
        response: { 200: storedBudgetSchema },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request) => budgetView(await budgets.get(requirePrincipal(request, 'user').id)),
  );

  api.put(
    '/v1/wallet/budget',
    {
      schema: {
        summary: 'Save my budget',
        description:
          `${budgetDescription} Replaces the whole budget; saving the same budget again ` +
          'changes nothing but its time, so no Idempotency-Key is needed.',
        tags: ['wallet'],
        body: budgetLimitsSchema,
        response: { 200: storedBudgetSchema },
      },
      config: { auth: { kinds: ['user'] }, idempotent: false },
    },
    async (request, reply) => {
      const { body } = request;
      const saved = await budgets.put(requirePrincipal(request, 'user').id, {
        maxPerPaymentMicros: microsOf(body.maxPerPayment),
        maxPerOriginPerDayMicros: microsOf(body.maxPerOriginPerDay),
        maxTotalMicros: microsOf(body.maxTotal),
        approveAboveMicros: microsOf(body.approveAbove),
      });
      if (!saved.ok) return sendProblem(reply, saved.code, saved.detail);
      return budgetView(saved.value);
    },
  );
};
