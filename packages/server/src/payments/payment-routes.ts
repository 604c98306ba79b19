import { currency } from '@mite/protocol';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idempotencyKeyHeader, idempotentReplayedHeader } from '../http/idempotency-plugin.ts';
import { purchaseResponse } from './purchase-response.ts';
import { sendProblem } from '../http/problems.ts';
import type { ReceiptKey } from '../receipts/receipt-keys.ts';
import { receiptJwks } from '../receipts/receipt-keys.ts';
import { amountSchema, formatAmount, microsOf } from '../money/amount-schema.ts';
import type { PaymentRow } from '../db/schema.ts';
import { type Principal, requirePrincipal } from '../http/route-config.ts';
import type { PaymentService } from './payment-service.ts';
import type { RefundService } from './refund-service.ts';
import type { ConsentService } from '../consents/consent-service.ts';
import { checkAutoPay } from '../consents/auto-pay.ts';
import { presentedDecisionId } from '../policy/policy-confirmations.ts';
import { deviceHeaderDescription, requestOrigin } from '../http/request-origin.ts';

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

const paymentViewSchema = z.object({
  paymentId: z.string(),
  state: z.enum(['pending', 'succeeded', 'failed']),
  failureCode: z
    .enum(['insufficientFunds', 'accountClosed'])
    .nullable()
    .describe('Why a failed payment failed'),
  merchantId: z.string(),
  offerId: z.string().nullable(),
  challengeId: z.string().nullable(),
  resource: z.string().nullable(),
  amount: z.string(),
  currency: z.string(),
  payer: z.string().describe('The payer as the merchant sees them: a merchant-scoped pseudonym'),
  createdAt: z.string().describe('RFC 3339'),
  completedAt: z.string().nullable(),
  receipt: z
    .string()
    .optional()
    .describe(
      'For a succeeded payment: its signed receipt; none once what was bought was erased ' +
        'after its retention period',
    ),
  claims: receiptClaimsSchema.optional(),
});

function isoOf(epochMs: bigint): string {
  return new Date(Number(epochMs)).toISOString();
}

/** A payment as its payer, its merchant or an operator sees it: never the payer's user id. */
function paymentView(row: PaymentRow, payments: PaymentService): z.infer<typeof paymentViewSchema> {
  const answer = payments.answerOf(row);
  return {
    paymentId: row.id,
    state: row.state,
    failureCode:
      row.failure_code === 'insufficientFunds' || row.failure_code === 'accountClosed'
        ? row.failure_code
        : null,
    merchantId: row.merchant_id,
    offerId: row.offer_id,
    challengeId: row.challenge_id,
    resource: row.resource,
    amount: formatAmount(BigInt(row.amount_micros)),
    currency,
    payer: payments.pseudonym(row.user_id, row.merchant_id),
    createdAt: isoOf(row.created_at),
    completedAt: row.completed_at === null ? null : isoOf(row.completed_at),
    ...(answer.ok ? { receipt: answer.value.receipt, claims: answer.value.claims } : {}),
  };
}

/** Whether this caller may see the payment: its payer, its merchant, or an operator. */
function maySee(principal: Principal, row: PaymentRow): boolean {
  switch (principal.kind) {
    case 'user':
      return row.user_id === principal.id;
    case 'merchant':
      return row.merchant_id === principal.id;
    case 'operator':
      return true;
    default:
      return false;
  }
}

type PaymentRoutes = FastifyPluginAsyncZod<{
  payments: PaymentService;
  refunds: RefundService;
  receiptKeys: readonly ReceiptKey[];
  /** The users' consents: an automatic payment needs the autoPay one for its site. */
  consents: ConsentService;
}>;

/** Purchases, their lookups and refunds, and the public keys that verify their receipts. */
export const paymentRoutes: PaymentRoutes = async (api, options) => {
  await api.register(purchaseRoutes, options);
  await api.register(paymentLookupRoutes, options);
  await api.register(refundRoutes, options);
  await api.register(receiptKeyRoutes, options);
};

/** `POST /v1/payments`: pay for an offer or a merchant's 402 challenge. */
const purchaseRoutes: PaymentRoutes = async (api, { payments, consents }) => {
  api.post(
    '/v1/payments',
    {
      schema: {
        summary: 'Pay for an offer, or a merchant\u2019s HTTP 402 challenge, from my wallet',
        description:
          'A challenge pays the merchant it names (its `recipient`), less the platform fee. A ' +
          'challenge whose request names one of that merchant\u2019s offers ' +
          '(`methodDetails.offer`) is charged as that offer: its price must be the ' +
          'challenge\u2019s amount (else `400 validation-failed`; an unknown offer is ' +
          '`404 offer-not-found`), its revenue splits share the price, its access period bounds ' +
          'the receipt\u2019s, and the payment records it. The receipt answers the challenge. A ' +
          'client paying without asking the person (the payment window under auto-pay) says so ' +
          'with `automatic: { site }`, the origin that asked: the payment is then taken only ' +
          'while the user\u2019s `autoPay` consent for that site is active (else ' +
          '`403 consent-required`), and the challenge\u2019s resource, when a full URL, must be ' +
          'on that site. A purchase the platform\u2019s policy challenged (`403 ' +
          'policy-challenged`) goes ahead once the user confirms it ' +
          '(`POST /v1/policy-decisions/{decisionId}/confirmation`) and the request is sent ' +
          'again with header `Mite-Policy-Confirmation: <decisionId>`. ' +
          deviceHeaderDescription,
        tags: ['payments'],
        body: z.union([
          z.object({ offerId: z.string().min(1).max(100) }).strict(),
          z
            .object({
              challenge: challengeEchoSchema,
              automatic: z
                .object({ site: z.string().max(300).describe('The origin that asked to be paid') })
                .strict()
                .optional()
                .describe('Present when the client pays without asking the person'),
            })
            .strict(),
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
      config: { auth: { kinds: ['user'] }, idempotent: 'inHandler' },
    },
    async (request, reply) => {
      const userId = requirePrincipal(request, 'user').id;
      const { body } = request;
      const origin = requestOrigin(request);
      // The idempotency plugin has checked the key; the payment is recorded under it (unique per
      // payer), so a retry, however late, is answered from the payment and pays nothing.
      const idempotencyKey = request.headers[idempotencyKeyHeader];
      const confirmation = presentedDecisionId(request.headers);
      if (!confirmation.ok) return sendProblem(reply, confirmation.code, confirmation.detail);
      const buyer = {
        userId,
        origin,
        ...(typeof idempotencyKey === 'string' ? { idempotencyKey } : {}),
        ...(confirmation.value === undefined ? {} : { confirmationId: confirmation.value }),
      };
      // A retry of an automatic payment made already is answered from it, even after a revoke:
      // the consent was checked when it was made.
      const madeAlready =
        typeof idempotencyKey === 'string' &&
        (await payments.findByIdempotencyKey(userId, idempotencyKey)) !== undefined;
      if ('challenge' in body && body.automatic !== undefined && !madeAlready) {
        const allowed = await checkAutoPay(consents, {
          userId,
          challenge: body.challenge,
          site: body.automatic.site,
        });
        if (!allowed.ok) return sendProblem(reply, allowed.code, allowed.detail);
      }
      const paid =
        'offerId' in body
          ? await payments.pay({ ...buyer, offerId: body.offerId })
          : await payments.payChallenge({ ...buyer, challenge: body.challenge });
      // The same bytes for the same payment, whenever asked: a retry gets the answer again.
      const answer = purchaseResponse(paid);
      if ('replayed' in paid && paid.replayed === true)
        reply.header(idempotentReplayedHeader, 'true');
      // A string body is sent as is, whatever the route's typed send() expects.
      const raw = reply as unknown as FastifyReply;
      return raw.code(answer.status).headers(answer.headers).send(answer.body);
    },
  );
};

/** A payment by id, or by the Idempotency-Key it was made under. */
const paymentLookupRoutes: PaymentRoutes = async (api, { payments }) => {
  api.get(
    '/v1/payments/:paymentId',
    {
      schema: {
        summary: 'A payment: its state and, once it succeeded, its receipt',
        description:
          'A client whose purchase was cut off (a timeout, a crash) learns its outcome here, or ' +
          'by its Idempotency-Key with `GET /v1/payments?idempotencyKey=...`.',
        tags: ['payments'],
        params: z.object({ paymentId: z.string().max(100) }),
        response: { 200: paymentViewSchema },
      },
      config: { auth: { kinds: ['user', 'merchant', 'operator'], scopes: ['payments:read'] } },
    },
    async (request, reply) => {
      const row = await payments.getPayment(request.params.paymentId);
      const principal = requirePrincipal(request, 'user', 'merchant', 'operator');
      if (row === undefined || !maySee(principal, row)) {
        return sendProblem(reply, 'paymentNotFound');
      }
      return paymentView(row, payments);
    },
  );

  api.get(
    '/v1/payments',
    {
      schema: {
        summary: 'My payment made under an Idempotency-Key',
        description:
          'Finds the purchase a `POST /v1/payments` with this Idempotency-Key made, however ' +
          'long ago: a retry under the same key never pays twice.',
        tags: ['payments'],
        querystring: z.object({ idempotencyKey: z.string().min(1).max(255) }).strict(),
        response: { 200: paymentViewSchema },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request, reply) => {
      const userId = requirePrincipal(request, 'user').id;
      const row = await payments.findByIdempotencyKey(userId, request.query.idempotencyKey);
      if (row === undefined) return sendProblem(reply, 'paymentNotFound');
      return paymentView(row, payments);
    },
  );
};

const refundRoutes: PaymentRoutes = async (api, { refunds }) => {
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
      const principal = requirePrincipal(request, 'merchant', 'operator');
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
};

const receiptKeyRoutes: PaymentRoutes = async (api, { receiptKeys }) => {
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
