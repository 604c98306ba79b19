import type { Ledger } from '@mite/ledger';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { UserService } from '../auth/user-service.ts';
import { cursorInteger, page, pageQuery, pageSchema } from '../http/pagination.ts';
import { transferCodes } from '../ledger/chart-of-accounts.ts';
import { formatAmount } from '../money/amounts.ts';
import { currency } from '../payments/payment-service.ts';

const walletSchema = z.object({
  userId: z.string(),
  email: z.string(),
  balance: z.string().describe('What the wallet can spend'),
  reserved: z.string().describe('Held for purchases still being settled'),
  currency: z.string(),
});

const transferKinds = new Map<number, string>(
  Object.entries(transferCodes).map(([kind, code]) => [code, kind]),
);

const walletEntrySchema = z.object({
  transferId: z.string(),
  direction: z.enum(['in', 'out']),
  amount: z.string(),
  kind: z.string().describe('topUp, payment, platformFee, refund, ...'),
  at: z.string().describe('When the ledger recorded it (ISO 8601)'),
});

/** The user's own wallet: who they are, what they can spend, and where the money went. */
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
      const profile = await users.profile(request.principal?.id ?? '');
      if (profile === undefined) throw new Error('bug: an authenticated user without a profile');
      const { cursor, limit } = request.query;
      const transfers = await ledger.getAccountTransfers({
        accountId: profile.walletAccountId,
        limit: limit + 1,
        reversed: true,
        ...(cursor === undefined ? {} : { timestampMax: BigInt(cursor.before) - 1n }),
      });
      const entries = transfers.map((transfer) => ({
        transferId: transfer.id.toString(),
        direction:
          transfer.creditAccountId === profile.walletAccountId ? ('in' as const) : ('out' as const),
        amount: formatAmount(transfer.amount),
        kind: transferKinds.get(transfer.code) ?? 'other',
        at: new Date(Number(transfer.timestamp / 1_000_000n)).toISOString(),
        timestamp: transfer.timestamp,
      }));
      const shown = page(entries, limit, (entry) => ({ before: entry.timestamp.toString() }));
      return {
        items: shown.items.map(({ timestamp: _timestamp, ...entry }) => entry),
        nextCursor: shown.nextCursor,
      };
    },
  );
};
