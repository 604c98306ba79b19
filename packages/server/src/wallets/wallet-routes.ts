import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { currency, formatLedgerAmount } from '@mite/protocol';
import type { UserService } from '../auth/user-service.ts';
import { cursorInteger, page, pageQuery, pageSchema } from '../http/pagination.ts';
import type { WalletService } from './wallet-service.ts';
import { requirePrincipal } from '../http/route-config.ts';

const walletSchema = z.object({
  userId: z.string(),
  email: z.string(),
  balance: z.string().describe('What the wallet can spend'),
  reserved: z.string().describe('Held for purchases still being settled'),
  currency: z.string(),
});

const walletEntrySchema = z.object({
  transferId: z.string(),
  direction: z.enum(['in', 'out']),
  amount: z.string(),
  kind: z.string().describe('topUp, payment, platformFee, refund, ...'),
  at: z.string().describe('When the ledger recorded it (ISO 8601)'),
});

/** The user's own wallet: who they are, what they can spend, and where the money went. */
export const walletRoutes: FastifyPluginAsyncZod<{
  users: UserService;
  wallets: WalletService;
}> = async (api, { users, wallets }) => {
  api.get(
    '/v1/wallet',
    {
      schema: { summary: 'My wallet', tags: ['wallet'], response: { 200: walletSchema } },
      config: { auth: { kinds: ['user'] } },
    },
    async (request) => {
      const userId = requirePrincipal(request, 'user').id;
      const profile = await users.profile(userId);
      if (profile === undefined) throw new Error('bug: an authenticated user without a profile');
      const wallet = await wallets.balance(profile.walletAccountId);
      if (wallet === undefined) throw new Error('bug: a user without a wallet account');
      return {
        userId,
        email: profile.email,
        balance: formatLedgerAmount(wallet.availableMicros),
        reserved: formatLedgerAmount(wallet.reservedMicros),
        currency,
      };
    },
  );

  api.get(
    '/v1/wallet/transactions',
    {
      schema: {
        summary: 'My wallet\u2019s transactions, newest first',
        tags: ['wallet'],
        // `before` is exclusive: the smallest that leaves anything before it is 1.
        querystring: pageQuery(z.object({ before: cursorInteger(1n) })),
        response: { 200: pageSchema(walletEntrySchema) },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request) => {
      const profile = await users.profile(requirePrincipal(request, 'user').id);
      if (profile === undefined) throw new Error('bug: an authenticated user without a profile');
      const { cursor, limit } = request.query;
      // One entry more than the page: it only tells that there is a next page.
      const entries = await wallets.history(profile.walletAccountId, {
        limit: limit + 1,
        ...(cursor === undefined ? {} : { beforeNs: BigInt(cursor.before) }),
      });
      const shown = page(entries, limit, (entry) => ({ before: entry.recordedAtNs.toString() }));
      return {
        items: shown.items.map((entry) => ({
          transferId: entry.transferId.toString(),
          direction: entry.direction,
          amount: formatLedgerAmount(entry.amountMicros),
          kind: entry.kind,
          at: new Date(Number(entry.recordedAtNs / 1_000_000n)).toISOString(),
        })),
        nextCursor: shown.nextCursor,
      };
    },
  );
};
