import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { currency, formatLedgerAmount } from '@mite/protocol';
import { type ProblemCode, sendProblem } from '../http/problems.ts';
import { amountSchema, formatAmount, microsOf } from '../money/amount-schema.ts';
import type { DeclineReason, FundingSource } from './funding-provider.ts';
import type { TopUp, TopUpFailure, TopUpService } from './topup-service.ts';
import { requirePrincipal } from '../http/route-config.ts';
import { presentedDecisionId } from '../policy/policy-confirmations.ts';
import { deviceHeaderDescription, requestOrigin } from '../http/request-origin.ts';

/** Where a card processor sends its webhooks: `/v1/funding/sandbox/webhooks`, `.../stripe/...`. */
export function fundingWebhookPath(providerName: string): string {
  return `/v1/funding/${providerName}/webhooks`;
}

/** A Stripe PaymentMethod id: `pm_` and letters, digits and underscores. */
const paymentMethodIdPattern = /^pm_[A-Za-z0-9_]{1,250}$/;

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
  provider: z.string().describe('The card processor that took it: `sandbox` or `stripe`'),
  sandbox: z
    .boolean()
    .describe('True when no real money moved: the sandbox processor, or a processor test mode'),
});

const problemOfFailure: { readonly [F in TopUpFailure]: ProblemCode } = {
  ...declineProblems,
  validationFailed: 'validationFailed',
  fundingUnavailable: 'fundingUnavailable',
  policyBlocked: 'policyBlocked',
  policyChallenged: 'policyChallenged',
};

function sourceOf(body: {
  card?: { number: string; expMonth: number; expYear: number; cvc: string } | undefined;
  paymentMethod?: string | undefined;
}): FundingSource | undefined {
  if (body.card !== undefined && body.paymentMethod !== undefined) return undefined;
  if (body.card !== undefined) return { kind: 'card', card: body.card };
  if (body.paymentMethod !== undefined) {
    return { kind: 'paymentMethod', paymentMethodId: body.paymentMethod };
  }
  return undefined;
}

function topUpBody(topUp: TopUp): z.infer<typeof topUpSchema> {
  return {
    id: topUp.id,
    state: topUp.state,
    amount: formatAmount(topUp.amountMicros),
    fee: topUp.feeMicros === null ? null : formatAmount(topUp.feeMicros),
    currency,
    cardLast4: topUp.cardLast4,
    provider: topUp.provider,
    sandbox: topUp.sandbox,
  };
}

const newTopUpSchema = z.object({
  amount: amountSchema,
  card: z
    .object({
      number: z.string().regex(/^[0-9]{12,19}$/),
      expMonth: z.number().int().min(1).max(12),
      expYear: z.number().int().min(2000).max(2100),
      cvc: z.string().regex(/^[0-9]{3,4}$/),
    })
    .optional()
    .describe('The sandbox only: one of its test cards'),
  paymentMethod: z
    .string()
    .regex(paymentMethodIdPattern)
    .optional()
    .describe('Stripe: a PaymentMethod id, `pm_...`'),
});

const feeReportSchema = z.object({
  from: z.string(),
  to: z.string(),
  topUps: z.number().int(),
  topUpCardFees: z.string(),
  payments: z.number().int(),
  perPaymentCardFees: z.string(),
  saving: z.string(),
  currency: z.string(),
});

/** Card top-ups, the processor's webhook, and the operator's fee report. */
export const topUpRoutes: FastifyPluginAsyncZod<{
  topUps: TopUpService;
  /** The processor whose webhook route to serve; none without a processor. */
  webhookProvider: string | undefined;
}> = async (api, { topUps, webhookProvider }) => {
  await api.register(walletTopUpRoutes, { topUps });
  if (webhookProvider !== undefined) {
    await api.register(processorWebhookRoute, { topUps, providerName: webhookProvider });
  }
  await api.register(feeReportRoute, { topUps });
};

/** A user's top-ups: made with a card, and read back. */
const walletTopUpRoutes: FastifyPluginAsyncZod<{ topUps: TopUpService }> = async (
  api,
  { topUps },
) => {
  api.post(
    '/v1/topups',
    {
      schema: {
        summary: 'Top up my wallet with a card (one card fee covers many micropayments)',
        tags: ['wallet'],
        description:
          'Send `paymentMethod` (a Stripe PaymentMethod id made by Stripe\u2019s own client ' +
          'library: Mite never sees a card number) when the platform runs Stripe, or `card` ' +
          'with a published test card on the sandbox. The amount is whole cents. Without a ' +
          'configured processor the answer is `fundingUnavailable` (503). A top-up the ' +
          'platform\u2019s policy challenged (`403 policy-challenged`) goes ahead once the user ' +
          'confirms it (`POST /v1/policy-decisions/{decisionId}/confirmation`) and sends it ' +
          'again with header `Mite-Policy-Confirmation: <decisionId>` under a new ' +
          'Idempotency-Key (the refusal is kept as the first key\u2019s answer). ' +
          deviceHeaderDescription,
        body: newTopUpSchema,
        response: { 201: topUpSchema },
      },
      config: {
        auth: { kinds: ['user'] },
        idempotent: true,
        rateLimit: { max: 20, timeWindow: 60_000 },
      },
    },
    async (request, reply) => {
      const confirmation = presentedDecisionId(request.headers);
      if (!confirmation.ok) return sendProblem(reply, confirmation.code, confirmation.detail);
      const result = await topUps.topUp({
        userId: requirePrincipal(request, 'user').id,
        amountMicros: microsOf(request.body.amount),
        source: sourceOf(request.body),
        idempotencyKey: String(request.headers['idempotency-key']),
        confirmationId: confirmation.value,
        origin: requestOrigin(request),
      });
      if (!result.ok) {
        return sendProblem(reply, problemOfFailure[result.code], result.detail, result.extra);
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
      const topUp = await topUps.getTopUp(
        requirePrincipal(request, 'user').id,
        request.params.topUpId,
      );
      if (topUp === undefined) return sendProblem(reply, 'topUpNotFound');
      return topUpBody(topUp);
    },
  );
};

/** The operator's report of card fees saved by top-ups. */
const feeReportRoute: FastifyPluginAsyncZod<{ topUps: TopUpService }> = async (api, { topUps }) => {
  api.get(
    '/v1/fee-report',
    {
      schema: {
        summary: 'Card fees paid through top-ups against paying each purchase by card',
        tags: ['reports'],
        querystring: z.object({ from: z.iso.datetime(), to: z.iso.datetime() }),
        response: { 200: feeReportSchema },
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
        topUpCardFees: formatLedgerAmount(report.topUpFeeMicros),
        payments: report.paymentCount,
        perPaymentCardFees: formatLedgerAmount(report.perPaymentCardFeeMicros),
        saving: formatLedgerAmount(report.savingMicros),
        currency,
      };
    },
  );
};

/**
 * The processor's webhook: public (the processor has no Mite credential), it proves itself by its
 * signature over the body's exact bytes. Registered in its own context, whose JSON parser keeps
 * the raw Buffer instead of parsing: a re-serialisation of parsed JSON differs from what was
 * signed (spacing, key order, escapes), and the other routes keep the ordinary parser.
 */
const processorWebhookRoute: FastifyPluginAsyncZod<{
  topUps: TopUpService;
  providerName: string;
}> = async (api, { topUps, providerName }) => {
  api.removeContentTypeParser('application/json');
  api.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );
  api.post(
    fundingWebhookPath(providerName),
    {
      schema: {
        summary: `The ${providerName} card processor\u2019s signed webhook`,
        tags: ['funding'],
        body: z.unknown().describe('The processor\u2019s event, verified over its raw bytes'),
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
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const result = await topUps.handleProviderWebhook(headers, rawBody);
      if (!result.ok) {
        const code = result.code === 'unknownCharge' ? 'topUpNotFound' : result.code;
        return sendProblem(reply, code);
      }
      return reply.code(204).send();
    },
  );
};
