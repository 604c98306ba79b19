import { currency, formatAmount } from '@mite/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { passwordSchema } from '../auth/auth-routes.ts';
import { sessionClearCookie } from '../http/credentials.ts';
import { sendProblem } from '../http/problems.ts';
import { requirePrincipal } from '../http/route-config.ts';
import { type AccountErasure, erasureUnclaimedMicrosMax } from './account-erasure.ts';

/** Password guesses are what this route could be abused for: as few as logging in allows. */
const erasureRateLimit = { max: 10, timeWindow: 60_000 } as const;

const erasureSchema = z.object({
  password: passwordSchema.describe('The account\u2019s password, asked again to confirm'),
});

/** Erasing one's own wallet account (privacy/account-erasure.ts holds the rules). */
export const erasureRoutes: FastifyPluginAsyncZod<{ erasure: AccountErasure }> = async (
  api,
  { erasure },
) => {
  api.post(
    '/v1/users/me/erasure',
    {
      schema: {
        summary: 'Erase my account',
        description:
          'With the password confirmed again: destroys the account\u2019s data key (its email ' +
          'and card digits can no longer be read, backups included), disables the account and ' +
          'ends every session. Refused (`balanceRemains`) while the wallet holds more than ' +
          `${formatAmount(erasureUnclaimedMicrosMax)} or a purchase is pending; a smaller ` +
          'balance moves to the platform\u2019s unclaimed balances. The ledger and the ' +
          'merchants\u2019 records keep only account numbers and merchant-scoped pseudonyms. ' +
          'Cannot be undone.',
        tags: ['users'],
        body: erasureSchema,
        response: {
          200: z.object({
            erasedAt: z.string(),
            unclaimed: z.string().describe('What moved to unclaimed balances'),
            currency: z.string(),
          }),
        },
      },
      config: { auth: { kinds: ['user'] }, idempotent: false, rateLimit: erasureRateLimit },
    },
    async (request, reply) => {
      const userId = requirePrincipal(request, 'user').id;
      const result = await erasure.erase({ userId, password: request.body.password });
      if (!result.ok) return sendProblem(reply, result.code, result.detail);
      reply.header('set-cookie', sessionClearCookie('user'));
      return {
        erasedAt: new Date(result.value.erasedAtMs).toISOString(),
        unclaimed: formatAmount(result.value.unclaimedMicros),
        currency,
      };
    },
  );
};
