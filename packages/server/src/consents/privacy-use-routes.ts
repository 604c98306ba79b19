/**
 * The routes where consented data is used: a merchant's view of a customer (the email only
 * while the customer shares it with that merchant) and the user's personalised suggestions.
 * Each reads the consent on every request, so a revoke holds from the next one.
 */
import { currency } from '@mite/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sendProblem } from '../http/problems.ts';
import { requirePrincipal } from '../http/route-config.ts';
import { formatAmount } from '../money/amount-schema.ts';
import type { ConsentService } from './consent-service.ts';
import type { SuggestionsService } from './suggestions.ts';

interface Deps {
  readonly consents: ConsentService;
  readonly suggestions: SuggestionsService;
  /** The user's email in clear, for a customer who shares it. */
  readonly emailOf: (userId: string) => Promise<string | undefined>;
}

/** The scope a merchant needs to look up its customers. */
export const customersReadScope = 'customers:read';

const customerSchema = z.object({
  pseudonym: z.string().describe('The customer as this merchant knows them'),
  email: z.string().nullable().describe('Only while the customer shares it with this merchant'),
  emailShared: z.boolean(),
});

const suggestionsSchema = z.object({
  personalised: z
    .boolean()
    .describe('false when the user has not consented to suggestions: the list is then empty'),
  suggestions: z.array(
    z.object({
      offerId: z.string(),
      merchantId: z.string(),
      merchantName: z.string(),
      title: z.string(),
      price: z.string(),
      currency: z.string(),
      category: z.enum(['content', 'goods']),
      reason: z.enum(['sameMerchant', 'sameCategory']),
    }),
  ),
});

export const privacyUseRoutes: FastifyPluginAsyncZod<Deps> = async (api, deps) => {
  api.get(
    '/v1/merchants/:merchantId/customers/:pseudonym',
    {
      schema: {
        summary: 'A customer, by the pseudonym the merchant knows them by',
        description:
          'The email is given only while the customer consents to share it with this merchant ' +
          '(their `shareEmail` consent); otherwise, and for a pseudonym that is no customer, ' +
          'only the pseudonym is known, so the answer does not tell which pseudonyms exist.',
        tags: ['merchants'],
        params: z.object({
          merchantId: z.string().max(100),
          pseudonym: z
            .string()
            .regex(/^psn_[A-Za-z0-9_-]{1,64}$/)
            .describe('A payer pseudonym, as receipts and payments name it'),
        }),
        response: { 200: customerSchema },
      },
      config: { auth: { kinds: ['merchant'], scopes: [customersReadScope] } },
    },
    async (request, reply) => {
      const { merchantId, pseudonym } = request.params;
      if (requirePrincipal(request, 'merchant').id !== merchantId) {
        return sendProblem(reply, 'merchantNotFound');
      }
      const userId = await deps.consents.emailSharer(merchantId, pseudonym);
      const email = userId === undefined ? undefined : await deps.emailOf(userId);
      return { pseudonym, email: email ?? null, emailShared: email !== undefined };
    },
  );

  api.get(
    '/v1/wallet/suggestions',
    {
      schema: {
        summary: 'Offers suggested from what I bought',
        description:
          'Offers of the merchants I bought from and of the categories I bought in, that I have ' +
          'not bought, newest first (at most 10). Only with my `suggestions` consent: without ' +
          'it the answer is `personalised: false` with no suggestions, and my purchases are ' +
          'not read.',
        tags: ['wallet'],
        response: { 200: suggestionsSchema },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request) => {
      const answer = await deps.suggestions.suggest(requirePrincipal(request, 'user').id);
      return {
        personalised: answer.personalised,
        suggestions: answer.suggestions.map(({ priceMicros, ...rest }) => ({
          ...rest,
          price: formatAmount(priceMicros),
          currency,
        })),
      };
    },
  );
};
