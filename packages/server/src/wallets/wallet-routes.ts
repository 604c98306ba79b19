import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { currency, formatLedgerAmount } from '@mite/protocol';
import type { UserService } from '../auth/user-service.ts';
import { cursorInteger, page, pageQuery, pageSchema } from '../http/pagination.ts';
import type { WalletMovements } from './wallet-movements.ts';
import type { WalletService } from './wallet-service.ts';
import type { WalletPurchase, WalletPurchases } from './wallet-purchases.ts';
import { sendProblem } from '../http/problems.ts';
import { requirePrincipal } from '../http/route-config.ts';

const walletSchema = z.object({
  userId: z.string(),
  email: z.string(),
  balance: z.string().describe('What the wallet can spend'),
  reserved: z.string().describe('Held for purchases still being settled'),
  currency: z.string(),
});

const walletEntrySchema = z.object({
  transferId: z.string().describe('Its first ledger transfer'),
  direction: z.enum(['in', 'out']),
  amount: z.string().describe('All its transfers together: a purchase\u2019s fee included'),
  kind: z
    .string()
    .describe(
      'payment (a purchase), refund, topUp; platformFee or payment alone for a purchase made ' +
        'before purchases were grouped',
    ),
  paymentId: z
    .string()
    .nullable()
    .describe('The purchase, or the purchase a refund gave back; null otherwise'),
  merchantName: z.string().nullable().describe('The merchant paid; null for a top-up'),
  at: z.string().describe('When the ledger recorded it (ISO 8601)'),
});

const walletPurchaseSchema = z.object({
  paymentId: z.string(),
  merchantId: z.string(),
  merchantName: z.string(),
  title: z.string().nullable().describe('The offer\u2019s title; null for a 402 challenge'),
  resource: z.string().nullable().describe('What was bought: a URL path or an item id'),
  amount: z.string(),
  refunded: z.string().describe('What came back in refunds so far'),
  state: z.enum(['pending', 'succeeded', 'failed']),
  at: z.string().describe('When the purchase was made (ISO 8601)'),
  detailsErased: z
    .boolean()
    .describe(
      'True once the retention period has passed and what was bought (title, resource) was ' +
        'erased; the amount, merchant and refunds stay',
    ),
});

/** The user's own wallet: who they are, what they can spend, and where the money went. */
export const walletRoutes: FastifyPluginAsyncZod<{
  users: UserService;
  wallets: WalletService;
  movements: WalletMovements;
  purchases: WalletPurchases;
}> = async (api, { users, wallets, movements: walletMovements, purchases }) => {
  await api.register(walletPurchaseRoutes, { purchases });
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
        summary: 'My wallet\u2019s money in and out, newest first: one item per purchase',
        description:
          'One item per purchase, refund or top-up. A purchase moves money in several ledger ' +
          'transfers (each merchant\u2019s share and the platform\u2019s fee): they are one item, ' +
          'with their total and the merchant\u2019s name, as is each refund. A page never splits ' +
          'a purchase. Purchases and refunds recorded before this grouping show one item per ' +
          'transfer.',
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
      // One movement more than the page: it only tells that there is a next page.
      const movements = await walletMovements.list(profile.walletAccountId, {
        limit: limit + 1,
        ...(cursor === undefined ? {} : { beforeNs: BigInt(cursor.before) }),
      });
      const shown = page(movements, limit, (movement) => ({
        before: movement.recordedAtNs.toString(),
      }));
      return {
        items: shown.items.map((movement) => ({
          transferId: movement.transferId.toString(),
          direction: movement.direction,
          amount: formatLedgerAmount(movement.amountMicros),
          kind: movement.kind,
          paymentId: movement.paymentId,
          merchantName: movement.merchantName,
          at: new Date(Number(movement.recordedAtNs / 1_000_000n)).toISOString(),
        })),
        nextCursor: shown.nextCursor,
      };
    },
  );
};

/** What the user bought, from whom, and what was refunded: the wallet app's history. */
const walletPurchaseRoutes: FastifyPluginAsyncZod<{ purchases: WalletPurchases }> = async (
  api,
  { purchases },
) => {
  api.get(
    '/v1/wallet/purchases',
    {
      schema: {
        summary: 'My purchases, newest first, with merchants\u2019 names and refunds',
        tags: ['wallet'],
        querystring: pageQuery(
          z.object({ before: cursorInteger(), id: z.string().min(1).max(100) }),
        ),
        response: { 200: pageSchema(walletPurchaseSchema) },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request) => {
      const userId = requirePrincipal(request, 'user').id;
      const { cursor, limit } = request.query;
      const rows = await purchases.list({
        userId,
        limit: limit + 1,
        ...(cursor === undefined
          ? {}
          : { before: { createdAtMs: BigInt(cursor.before), paymentId: cursor.id } }),
      });
      const shown = page(rows, limit, (row) => ({
        before: String(row.createdAtMs),
        id: row.paymentId,
      }));
      return { items: shown.items.map(purchaseView), nextCursor: shown.nextCursor };
    },
  );

  api.get(
    '/v1/wallet/purchases/:paymentId',
    {
      schema: {
        summary: 'One of my purchases, with its merchant’s name and refunds',
        description:
          'The wallet’s receipt page shows this beside the signed receipt, which ' +
          '`GET /v1/payments/{paymentId}` answers.',
        tags: ['wallet'],
        params: z.object({ paymentId: z.string().min(1).max(100) }),
        response: { 200: walletPurchaseSchema },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request, reply) => {
      const userId = requirePrincipal(request, 'user').id;
      const purchase = await purchases.get(userId, request.params.paymentId);
      // Another user's purchase is as unknown as one that does not exist.
      if (purchase === undefined) return sendProblem(reply, 'paymentNotFound');
      return purchaseView(purchase);
    },
  );
};

function purchaseView(row: WalletPurchase): z.infer<typeof walletPurchaseSchema> {
  return {
    paymentId: row.paymentId,
    merchantId: row.merchantId,
    merchantName: row.merchantName,
    title: row.title,
    resource: row.resource,
    amount: formatLedgerAmount(row.amountMicros),
    refunded: formatLedgerAmount(row.refundedMicros),
    state: row.state,
    at: new Date(row.createdAtMs).toISOString(),
    detailsErased: row.detailsErased,
  };
}
