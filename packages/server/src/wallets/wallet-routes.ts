import type { Ledger } from '@mite/ledger';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { UserService } from '../auth/user-service.ts';
import { formatAmount } from '../money/amounts.ts';
import { currency } from '../payments/payment-service.ts';

const walletSchema = z.object({
  userId: z.string(),
  email: z.string(),
  balance: z.string().describe('What the wallet can spend'),
  reserved: z.string().describe('Held for purchases still being settled'),
  currency: z.string(),
});

/** The user's own wallet: who they are and what they can spend. */
export const walletRoutes: FastifyPluginAsyncZod<{ users: UserService; ledger: Ledger }> = async (
  api,
  { users, ledger },
) => {
  api.get(
    '/v1/wallet',
    {
      schema: { summary: 'My wallet', tags: ['wallet'], response: { 200: walletSchema } },
      config: { auth: { kinds: ['user'] } },
    },
    async (request) => {
      const userId = request.principal?.id ?? '';
      const profile = await users.profile(userId);
      if (profile === undefined) throw new Error('bug: an authenticated user without a profile');
      const [account] = await ledger.lookupAccounts([profile.walletAccountId]);
      if (account === undefined) throw new Error('bug: a user without a wallet account');
      const reserved = account.debitsPending;
      const balance = account.creditsPosted - account.debitsPosted - reserved;
      return {
        userId,
        email: profile.email,
        balance: formatAmount(balance),
        reserved: formatAmount(reserved),
        currency,
      };
    },
  );
};
