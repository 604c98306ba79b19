import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseAmount } from '@mite/protocol';
import { sendProblem } from '../http/problems.ts';
import { fairPriceCapMicrosMax } from '../limits/fair-price.ts';
import { amountSchema, formatAmount, microsOf } from '../money/amount-schema.ts';
import { basisPointsWhole } from '../payments/revenue-split.ts';
import {
  apiKeyScopes,
  challengeAccessPeriodSecondsMaxDefault,
  challengeAccessPeriodSecondsMaxLimit,
  type MerchantService,
  type Offer,
  splitPartiesMax,
} from './merchant-service.ts';
import { requirePrincipal } from '../http/route-config.ts';

const splitsSchema = z
  .array(
    z.object({
      merchantId: z.string(),
      shareBasisPoints: z.number().int().min(1).max(basisPointsWhole),
    }),
  )
  .min(1)
  .max(splitPartiesMax)
  .describe('Who shares the revenue after the platform fee; shares add up to 10000');

const spendingClassSchema = z
  .object({ category: z.enum(['content', 'goods']), resellable: z.boolean() })
  .strict();

const offerSchema = z.object({
  id: z.string(),
  merchantId: z.string(),
  resource: z.string(),
  title: z.string(),
  price: amountSchema,
  category: z.enum(['content', 'goods']),
  accessPeriodSeconds: z.number().int(),
  splits: splitsSchema,
});

function offerBody(offer: Offer): z.infer<typeof offerSchema> {
  return {
    id: offer.id,
    merchantId: offer.merchantId,
    resource: offer.resource,
    title: offer.title,
    price: formatAmount(offer.priceMicros),
    category: offer.category,
    accessPeriodSeconds: offer.accessPeriodSeconds,
    splits: [...offer.splits],
  };
}

const challengeAccessPeriodSecondsMaxSchema = z
  .number()
  .int()
  .min(0)
  .max(challengeAccessPeriodSecondsMaxLimit);

const newMerchantSchema = z.object({
  name: z.string().min(1).max(200),
  feeBasisPoints: z.number().int().min(0).max(basisPointsWhole),
  payoutThreshold: amountSchema,
  challengeAccessPeriodSecondsMax: challengeAccessPeriodSecondsMaxSchema
    .optional()
    .describe(
      'The longest access a receipt for one of its HTTP 402 challenges grants, in ' +
        `seconds (default ${challengeAccessPeriodSecondsMaxDefault}, 30 days): the ` +
        'platform cannot verify the terms of a challenge',
    ),
});

const newOfferSchema = z.object({
  resource: z.string().min(1).max(2048),
  title: z.string().min(1).max(200),
  price: amountSchema,
  category: z.enum(['content', 'goods']),
  accessPeriodSeconds: z
    .number()
    .int()
    .min(0)
    .max(366 * 24 * 3600),
  splits: splitsSchema.optional(),
});

type MerchantRoutes = FastifyPluginAsyncZod<{ merchants: MerchantService }>;

/** Operators create merchants and their keys; merchants publish offers; anyone reads an offer. */
export const merchantRoutes: MerchantRoutes = async (api, options) => {
  await api.register(merchantAccountRoutes, options);
  await api.register(merchantKeyRoutes, options);
  await api.register(merchantProfileRoutes, options);
  await api.register(offerRoutes, options);
};

/** Merchants: created by operators, with their terms. */
const merchantAccountRoutes: MerchantRoutes = async (api, { merchants }) => {
  api.post(
    '/v1/merchants',
    {
      schema: {
        summary: 'Create a merchant',
        tags: ['merchants'],
        body: newMerchantSchema,
        response: { 201: z.object({ merchantId: z.string() }) },
      },
      config: { auth: { kinds: ['operator'] }, idempotent: true },
    },
    async (request, reply) => {
      const { name, feeBasisPoints, payoutThreshold, challengeAccessPeriodSecondsMax } =
        request.body;
      const created = await merchants.createMerchant({
        name,
        feeBasisPoints,
        payoutThresholdMicros: microsOf(payoutThreshold),
        ...(challengeAccessPeriodSecondsMax === undefined
          ? {}
          : { challengeAccessPeriodSecondsMax }),
      });
      return reply.code(201).send({ merchantId: created.merchantId });
    },
  );

  api.patch(
    '/v1/merchants/:merchantId',
    {
      schema: {
        summary: 'Change a merchant\u2019s terms',
        description:
          'The longest access a receipt for one of the merchant\u2019s HTTP 402 challenges ' +
          'grants: the platform cannot verify the terms of a challenge, so it signs no longer ' +
          'access than this. Payments on every node use the new term within a minute.',
        tags: ['merchants'],
        params: z.object({ merchantId: z.string().max(100) }),
        body: z
          .object({ challengeAccessPeriodSecondsMax: challengeAccessPeriodSecondsMaxSchema })
          .strict(),
        response: { 200: z.object({ challengeAccessPeriodSecondsMax: z.number().int() }) },
      },
      config: {
        auth: { kinds: ['operator', 'merchant'], scopes: ['offers:write'] },
        idempotent: true,
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request, 'operator', 'merchant');
      const { merchantId } = request.params;
      // A merchant sets its own terms only; another merchant's id is not found for it.
      if (principal.kind === 'merchant' && principal.id !== merchantId) {
        return sendProblem(reply, 'merchantNotFound');
      }
      const seconds = request.body.challengeAccessPeriodSecondsMax;
      const updated = await merchants.setChallengeAccessPeriodMax(merchantId, seconds);
      if (!updated.ok) return sendProblem(reply, updated.code, updated.detail);
      return updated.value;
    },
  );
  api.put(
    '/v1/merchants/:merchantId/spending-class',
    {
      schema: {
        summary: 'Class what a merchant sells, for the monthly spending caps',
        description:
          'Its category (`content` or `goods`) for its HTTP 402 challenges (an offer has its ' +
          'own), and whether its goods resell easily (gift cards, game currency, transit ' +
          'top-ups), which puts every sale of it under the lower monthly cap on resellable ' +
          'goods. Operators only: the merchant does not class itself. Payments on every node ' +
          'use the new class within a minute.',
        tags: ['merchants'],
        params: z.object({ merchantId: z.string().max(100) }),
        body: spendingClassSchema,
        response: { 200: spendingClassSchema },
      },
      config: { auth: { kinds: ['operator'] }, idempotent: true },
    },
    async (request, reply) => {
      const updated = await merchants.setSpendingClass(request.params.merchantId, request.body);
      if (!updated.ok) return sendProblem(reply, updated.code, updated.detail);
      return updated.value;
    },
  );
  await api.register(fairPriceCapRoutes, { merchants });
};

const fairPriceCapSchema = z
  .object({
    monthlyCap: amountSchema
      // Refinements run even when the amount's own check failed: parsed here without throwing.
      .refine((amount) => {
        const parsed = parseAmount(amount);
        return parsed.ok && parsed.value > 0n && parsed.value <= fairPriceCapMicrosMax;
      }, 'a cap above zero and at most 1000000 (null removes the cap)')
      .nullable()
      .describe(
        'The most a user pays the merchant in a month (the operator\u2019s time zone): once a ' +
          'user\u2019s spending with it reaches this, further items that month are free, and ' +
          'the item that crosses it is charged what is left. Null: no cap.',
      ),
  })
  .strict();

/** A merchant's fair-price cap (limits/fair-price.ts), which it sets itself, as its other terms. */
const fairPriceCapRoutes: MerchantRoutes = async (api, { merchants }) => {
  const params = z.object({ merchantId: z.string().max(100) });
  const auth = { kinds: ['operator', 'merchant'] as const, scopes: ['offers:write'] as const };
  api.get(
    '/v1/merchants/:merchantId/fair-price-cap',
    {
      schema: {
        summary: 'A merchant\u2019s fair-price cap',
        tags: ['merchants'],
        params,
        response: { 200: fairPriceCapSchema },
      },
      config: { auth: { kinds: [...auth.kinds], scopes: [...auth.scopes] } },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request, 'operator', 'merchant');
      const { merchantId } = request.params;
      // A merchant reads its own terms only; another merchant's id is not found for it.
      if (principal.kind === 'merchant' && principal.id !== merchantId) {
        return sendProblem(reply, 'merchantNotFound');
      }
      const capMicros = await merchants.fairPriceCapOf(merchantId);
      if (capMicros === undefined) return sendProblem(reply, 'merchantNotFound');
      return { monthlyCap: capMicros === null ? null : formatAmount(capMicros) };
    },
  );
  api.put(
    '/v1/merchants/:merchantId/fair-price-cap',
    {
      schema: {
        summary: 'Set or remove a merchant\u2019s fair-price cap',
        description:
          'A promise to users: never more than this in a month. A purchase is charged its ' +
          'price or what is left of the cap this month, whichever is less; once the cap is ' +
          'reached, further items that month are free, and their receipts say so (the ' +
          '`fairPriceCap` claim with the full price, which the middleware accepts). What users ' +
          'spent with the merchant before the cap was set does not count towards it. Payments ' +
          'on every node use the new cap within a minute.',
        tags: ['merchants'],
        params,
        body: fairPriceCapSchema,
        response: { 200: fairPriceCapSchema },
      },
      // Setting the cap to a value is idempotent in itself: sent twice, it is the same cap.
      config: { auth: { kinds: [...auth.kinds], scopes: [...auth.scopes] }, idempotent: false },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request, 'operator', 'merchant');
      const { merchantId } = request.params;
      if (principal.kind === 'merchant' && principal.id !== merchantId) {
        return sendProblem(reply, 'merchantNotFound');
      }
      const { monthlyCap } = request.body;
      const capMicros = monthlyCap === null ? null : microsOf(monthlyCap);
      const updated = await merchants.setFairPriceCap(merchantId, capMicros);
      if (!updated.ok) return sendProblem(reply, updated.code, updated.detail);
      return { monthlyCap };
    },
  );
};

/**
 * A merchant's public name, for a user about to pay it: the platform's payment window shows whom
 * a challenge pays by the name the platform knows, not the name a merchant's page claims.
 */
const merchantProfileRoutes: MerchantRoutes = async (api, { merchants }) => {
  api.get(
    '/v1/merchants/:merchantId/profile',
    {
      schema: {
        summary: 'A merchant\u2019s public name, for a user about to pay it',
        tags: ['merchants'],
        params: z.object({ merchantId: z.string().max(100) }),
        response: { 200: z.object({ merchantId: z.string(), name: z.string() }) },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request, reply) => {
      const { merchantId } = request.params;
      const name = await merchants.merchantName(merchantId);
      if (name === undefined) return sendProblem(reply, 'merchantNotFound');
      return { merchantId, name };
    },
  );
};

/** A merchant's API keys, issued by operators (listed, revoked and rotated in key-routes.ts). */
const merchantKeyRoutes: MerchantRoutes = async (api, { merchants }) => {
  api.post(
    '/v1/merchants/:merchantId/api-keys',
    {
      schema: {
        summary: 'Issue an API key for a merchant (the secret is shown once)',
        tags: ['merchants'],
        params: z.object({ merchantId: z.string() }),
        body: z.object({ scopes: z.array(z.enum(apiKeyScopes)).max(apiKeyScopes.length) }),
        response: { 201: z.object({ keyId: z.string(), secret: z.string() }) },
      },
      config: { auth: { kinds: ['operator'] }, idempotent: true },
    },
    async (request, reply) => {
      const issued = await merchants.issueApiKey(request.params.merchantId, request.body.scopes);
      if (!issued.ok) return sendProblem(reply, issued.code, issued.detail);
      return reply.code(201).send(issued.value);
    },
  );
};

/** Offers: merchants publish them; anyone reads one. */
const offerRoutes: MerchantRoutes = async (api, { merchants }) => {
  api.post(
    '/v1/offers',
    {
      schema: {
        summary: 'Publish an offer',
        tags: ['offers'],
        body: newOfferSchema,
        response: { 201: offerSchema },
      },
      config: { auth: { kinds: ['merchant'], scopes: ['offers:write'] }, idempotent: true },
    },
    async (request, reply) => {
      const { price, splits, ...rest } = request.body;
      const priceMicros = microsOf(price);
      if (priceMicros === 0n)
        return sendProblem(reply, 'validationFailed', 'an offer has a price above zero');
      const created = await merchants.createOffer({
        ...rest,
        merchantId: requirePrincipal(request, 'merchant').id,
        priceMicros,
        ...(splits === undefined ? {} : { splits }),
      });
      if (!created.ok) return sendProblem(reply, created.code, created.detail);
      return reply.code(201).send(offerBody(created.value));
    },
  );

  api.get(
    '/v1/offers/:offerId',
    {
      schema: {
        summary: 'An offer',
        tags: ['offers'],
        params: z.object({ offerId: z.string() }),
        response: { 200: offerSchema },
      },
      config: { auth: 'public' },
    },
    async (request, reply) => {
      const offer = await merchants.getOffer(request.params.offerId);
      if (offer === undefined) return sendProblem(reply, 'offerNotFound');
      return offerBody(offer);
    },
  );
};
