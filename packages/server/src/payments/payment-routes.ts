import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sendProblem } from '../http/problems.ts';
import type { ReceiptKey } from '../receipts/receipt-keys.ts';
import { receiptJwks } from '../receipts/receipt-keys.ts';
import { amountSchema, formatAmount, microsOf } from '../money/amount-schema.ts';
import type { PaymentService } from './payment-service.ts';
import type { RefundService } from './refund-service.ts';

const receiptClaimsSchema = z.object({
  paymentId: z.string(),
  merchantId: z.string(),
  resource: z.string(),
  amount: z.string(),
  currency: z.string(),
  payer: z.string().describe('The payer as this merchant sees them: a merchant-scoped pseudonym'),
  issuedAt: z.number().int(),
  accessUntil: z.number().int(),
  challengeId: z.string().optional().describe('The HTTP 402 challenge this payment answered'),
});

/** The merchant's `WWW-Authenticate: Payment` challenge, its parameters as sent (PROTOCOL.md). */
const challengeEchoSchema = z.object({
  id: z.string().max(200),
  realm: z.string().max(500),
  method: z.string().max(50),
  intent: z.string().max(50),
  request: z.string().max(8192).describe('The base64url request JSON, exactly as sent'),
  expires: z.string().max(50),
  description: z.string().max(500).optional(),
});

/** Purchases, and the public keys that verify their receipts. */
export const paymentRoutes: FastifyPluginAsyncZod<{
  payments: PaymentService;
  refunds: RefundService;
  receiptKeys: readonly ReceiptKey[];
}> = async (api, { payments, refunds, receiptKeys }) => {
  api.post(
    '/v1/payments',
    {
      schema: {
        summary: 'Pay for an offer, or a merchant\u2019s HTTP 402 challenge, from my wallet',
        tags: ['payments'],
        body: z.union([
          z.object({ offerId: z.string().min(1).max(100) }).strict(),
          z.object({ challenge: challengeEchoSchema }).strict(),
        ]),
        response: {
          201: z.object({
            paymentId: z.string(),
            receipt: z
              .string()
              .describe('A compact JWS (EdDSA) that merchants verify with /v1/keys'),
            claims: receiptClaimsSchema,
          }),
        },
      },
      config: { auth: { kinds: ['user'] }, idempotent: true },
    },
    async (request, reply) => {
      const userId = request.principal?.id ?? '';
      const { body } = request;
      // The idempotency record written with this response follows the payment's outcome.
      const options = { outcomeBeforeNextWrite: true };
      const paid =
        'offerId' in body
          ? await payments.pay({ userId, offerId: body.offerId }, options)
          : await payments.payChallenge({ userId, challenge: body.challenge }, options);
      if (!paid.ok) return sendProblem(reply, paid.code, paid.detail);
      return reply.code(201).send(paid.value);
    },
  );

  api.post(
    '/v1/payments/:paymentId/refunds',
    {
      schema: {
        summary: 'Refund a payment, in full or in part (the merchant paid, or an operator)',
        tags: ['payments'],
        params: z.object({ paymentId: z.string() }),
        body: z.object({
          amount: amountSchema
            .optional()
            .describe('What to refund; the rest of the payment if left out'),
          reason: z.string().max(500).optional(),
        }),
        response: {
          201: z.object({ refundId: z.string(), amount: z.string(), refundedTotal: z.string() }),
        },
      },
      config: {
        auth: { kinds: ['merchant', 'operator'], scopes: ['refunds:write'] },
        idempotent: true,
      },
    },
    async (request, reply) => {
      const principal = request.principal;
      if (principal === undefined)
        throw new Error('bug: an authenticated route without a principal');
      const { amount, reason } = request.body;
      const refunded = await refunds.refund({
        paymentId: request.params.paymentId,
        ...(amount === undefined ? {} : { amountMicros: microsOf(amount) }),
        ...(reason === undefined ? {} : { reason }),
        authority:
          principal.kind === 'merchant'
            ? { kind: 'merchant', merchantId: principal.id }
            : { kind: 'operator', keyId: principal.id },
      });
      if (!refunded.ok) return sendProblem(reply, refunded.code, refunded.detail);
      return reply.code(201).send({
        refundId: refunded.value.refundId,
        amount: formatAmount(refunded.value.amountMicros),
        refundedTotal: formatAmount(refunded.value.refundedTotalMicros),
      });
    },
  );

  api.get(
    '/v1/keys',
    {
      schema: {
        summary: 'The platform\u2019s receipt-signing public keys (JWKS)',
        tags: ['payments'],
        response: { 200: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }) },
      },
      config: { auth: 'public' },
    },
    async (_request, reply) => {
      // Keys change rarely and are fetched once by each merchant: let them be cached.
      reply.header('cache-control', 'public, max-age=300');
      return receiptJwks(receiptKeys);
    },
  );
};
