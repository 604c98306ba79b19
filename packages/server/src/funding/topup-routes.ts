import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type ProblemCode, sendProblem } from '../http/problems.ts';
import { amountSchema, formatAmount, microsOf } from '../money/amount-schema.ts';
import { currency } from '../payments/payment-service.ts';
import type { DeclineReason } from './funding-provider.ts';
import type { TopUp, TopUpService } from './topup-service.ts';

/** Card declines as problem types: distinct from a wallet's own insufficient funds. */
const declineProblems: { readonly [R in DeclineReason]: ProblemCode } = {
  cardDeclined: 'cardDeclined',
  insufficientFunds: 'cardInsufficientFunds',
  expiredCard: 'cardExpired',
  invalidCard: 'cardInvalid',
};

const topUpSchema = z.object({
  id: z.string(),
  state: z.enum(['pending', 'succeeded', 'failed']),
  amount: z.string(),
  fee: z.string().nullable().describe('What the card processor charged; known once confirmed'),
  currency: z.string(),
  cardLast4: z.string().nullable(),
});

function topUpBody(topUp: TopUp): z.infer<typeof topUpSchema> {
  return {
    id: topUp.id,
    state: topUp.state,
    amount: formatAmount(topUp.amountMicros),
    fee: topUp.feeMicros === null ? null : formatAmount(topUp.feeMicros),
    currency,
    cardLast4: topUp.cardLast4,
  };
}

/** Card top-ups, the processor's webhook, and the operator's fee report. */
export const topUpRoutes: FastifyPluginAsyncZod<{ topUps: TopUpService }> = async (
  api,
  { topUps },
) => {
  api.post(
    '/v1/topups',
    {
      schema: {
        summary: 'Top up my wallet with a card (one card fee covers many micropayments)',
        tags: ['wallet'],
        body: z.object({
          amount: amountSchema,
          card: z.object({
            number: z.string().regex(/^[0-9]{12,19}$/),
            expMonth: z.number().int().min(1).max(12),
            expYear: z.number().int().min(2000).max(2100),
            cvc: z.string().regex(/^[0-9]{3,4}$/),
          }),
        }),
        response: { 201: topUpSchema },
      },
      config: {
        auth: { kinds: ['user'] },
        idempotent: true,
        rateLimit: { max: 20, timeWindow: 60_000 },
      },
    },
    async (request, reply) => {
      const result = await topUps.topUp({
        userId: request.principal?.id ?? '',
        amountMicros: microsOf(request.body.amount),
        card: request.body.card,
        idempotencyKey: String(request.headers['idempotency-key']),
      });
      if (!result.ok) {
        const code =
          result.code === 'validationFailed' ? 'validationFailed' : declineProblems[result.code];
        return sendProblem(reply, code, result.detail);
      }
      return reply.code(201).send(topUpBody(result.value));
    },
  );

  api.get(
    '/v1/topups/:topUpId',
    {
      schema: {
        summary: 'One of my top-ups',
        tags: ['wallet'],
        params: z.object({ topUpId: z.string() }),
        response: { 200: topUpSchema },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request, reply) => {
      const topUp = await topUps.getTopUp(request.principal?.id ?? '', request.params.topUpId);
      if (topUp === undefined) return sendProblem(reply, 'topUpNotFound');
      return topUpBody(topUp);
    },
  );

  // The processor's webhook is public (the processor has no Mite credential) and proves itself
  // by its Standard Webhooks signature over the raw body.
  api.post(
    '/v1/funding/sandbox/webhooks',
    {
      schema: {
        summary: 'The sandbox card processor\u2019s signed webhook',
        tags: ['funding'],
        body: z.unknown(),
      },
      config: { auth: 'public', idempotent: false },
    },
    async (request, reply) => {
      const headers = Object.fromEntries(
        Object.entries(request.headers).map(([name, value]) => [
          name,
          Array.isArray(value) ? value[0] : value,
        ]),
      );
      const result = await topUps.handleProviderWebhook(headers, JSON.stringify(request.body));
      if (!result.ok)
        return sendProblem(
          reply,
          result.code === 'invalidSignature' ? 'invalidSignature' : 'topUpNotFound',
        );
      return reply.code(204).send();
    },
  );

  api.get(
    '/v1/fee-report',
    {
      schema: {
        summary: 'Card fees paid through top-ups against paying each purchase by card',
        tags: ['reports'],
        querystring: z.object({ from: z.iso.datetime(), to: z.iso.datetime() }),
        response: {
          200: z.object({
            from: z.string(),
            to: z.string(),
            topUps: z.number().int(),
            topUpCardFees: z.string(),
            payments: z.number().int(),
            perPaymentCardFees: z.string(),
            saving: z.string(),
            currency: z.string(),
          }),
        },
      },
      config: { auth: { kinds: ['operator'] } },
    },
    async (request) => {
      const fromMs = Date.parse(request.query.from);
      const toMs = Date.parse(request.query.to);
      const report = await topUps.feeReport({ fromMs, toMs });
      return {
        from: request.query.from,
        to: request.query.to,
        topUps: report.topUpCount,
        topUpCardFees: formatAmount(report.topUpFeeMicros),
        payments: report.paymentCount,
        perPaymentCardFees: formatAmount(report.perPaymentCardFeeMicros),
        saving: formatAmount(report.savingMicros),
        currency,
      };
    },
  );
};
