/**
 * The payment sessions' HTTP API (issue 16): the payer opens, tops up and closes; the merchant
 * checkpoints vouchers, closes and lists; both read a session. The wire format of vouchers is the
 * protocol's (session-voucher.ts); amounts are integer strings of micro-units, as in the session
 * challenge.
 */
import { decodeSessionVoucher, type SessionVoucher } from '@mite/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idempotencyKeyHeader } from '../http/idempotency-plugin.ts';
import { cursorInteger, encodeCursor, pageQuery, pageSchema } from '../http/pagination.ts';
import { sendProblem } from '../http/problems.ts';
import { deviceHeaderDescription, requestOrigin } from '../http/request-origin.ts';
import { requirePrincipal } from '../http/route-config.ts';
import { presentedDecisionId } from '../policy/policy-confirmations.ts';
import type { Result } from '../result.ts';
import type { PaymentSessions, SessionCursor } from './payment-sessions.ts';
import type { SessionRow } from './session-records.ts';

const microsText = z
  .string()
  .regex(/^[1-9][0-9]{0,17}$/)
  .describe('An integer of micro-units above 0 ("500000" is 0.50)');

const challengeEchoSchema = z
  .object({
    id: z.string().max(200),
    realm: z.string().max(500),
    method: z.string().max(50),
    intent: z.string().max(50),
    request: z.string().max(8192).describe('The base64url request JSON, exactly as sent'),
    expires: z.string().max(50),
    description: z.string().max(500).optional(),
  })
  .describe('The merchant\u2019s `WWW-Authenticate: Payment` session challenge, as sent');

const commitmentSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('payword'),
      anchor: z.string().max(64).describe('The chain\u2019s anchor: 32 bytes, base64url'),
      chainLength: z.number().int().min(1).max(1_000_000).describe('Units the chain pays'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('ed25519'),
      key: z.string().max(64).describe('The voucher public key: 32 bytes, base64url'),
    })
    .strict(),
]);

const voucherSchema = z
  .object({
    channelId: z.string().max(100),
    cumulativeAmount: z.string().max(30),
    payword: z.string().max(100).optional(),
    signature: z.string().max(200).optional(),
  })
  .strict()
  .describe('A cumulative voucher (PROTOCOL.md, Sessions): a PayWord word or a signature');

const sessionSchema = z.object({
  id: z.string(),
  merchantId: z.string(),
  merchantName: z.string().nullable(),
  resource: z.string(),
  currency: z.string(),
  unitPrice: z.string().describe('Micro-units per unit'),
  unitType: z.enum(['second', 'request', 'token', 'byte']),
  deposit: z.string().describe('Micro-units held'),
  acceptedCumulative: z.string().describe('The highest voucher the platform was given'),
  settledAmount: z.string().nullable().describe('What the session paid, once settled'),
  voucherKind: z.enum(['payword', 'ed25519']),
  state: z.enum(['opening', 'open', 'closing', 'settling', 'settled', 'failed']),
  failureCode: z.string().nullable(),
  openedAt: z.string(),
  lastActivityAt: z.string(),
  idleExpiresAt: z.string(),
  openUntil: z.string(),
  closeAt: z.string().nullable().describe('While closing: when it settles'),
  closedAt: z.string().nullable(),
  closeReason: z.enum(['merchant', 'client', 'idle', 'lifetime']).nullable(),
  paymentId: z.string().nullable().describe('The payment recording the settlement'),
  payer: z.string().optional().describe('For the merchant: the payer\u2019s pseudonym'),
});

const stateQuery = z
  .enum(['opening', 'open', 'closing', 'settling', 'settled', 'failed'])
  .optional()
  .describe('Only sessions in this state');

const cursorSchema = z.object({ openedAt: cursorInteger(), id: z.string().min(1).max(100) });

type Routes = FastifyPluginAsyncZod<{ sessions: PaymentSessions }>;

/** A voucher's JSON, decoded; its defects are a validation failure of the body. */
function voucherOf(json: unknown): Result<SessionVoucher, 'validationFailed'> {
  const decoded = decodeSessionVoucher(json);
  return decoded.ok
    ? decoded
    : { ok: false, code: 'validationFailed', detail: `voucher: ${decoded.detail}` };
}

export const sessionRoutes: Routes = async (api, options) => {
  await api.register(payerRoutes, options);
  await api.register(merchantRoutes, options);
  await api.register(readRoutes, options);
};

const payerRoutes: Routes = async (api, { sessions }) => {
  api.post(
    '/v1/payment-sessions',
    {
      schema: {
        summary: 'Open a payment session: hold a deposit for a merchant\u2019s metered route',
        description:
          'Answers a merchant\u2019s `intent="session"` challenge: the deposit is put to the ' +
          'platform\u2019s policy and monthly caps as a purchase of that much, then held from the ' +
          'wallet (a pending ledger transfer) until the session settles at its last voucher. The ' +
          'grant is a compact JWS (EdDSA, `typ` `mite-session+jwt`) the merchant verifies with ' +
          '/v1/keys. The client commits to its vouchers here: a PayWord anchor (fixed price per ' +
          'unit) or an Ed25519 public key, whose secret it keeps. Once per Idempotency-Key. ' +
          deviceHeaderDescription,
        tags: ['sessions'],
        body: z
          .object({
            challenge: challengeEchoSchema,
            deposit: microsText,
            voucher: commitmentSchema,
          })
          .strict(),
        response: { 201: z.object({ session: sessionSchema, grant: z.string() }) },
      },
      config: { auth: { kinds: ['user'] }, idempotent: 'inHandler' },
    },
    async (request, reply) => {
      const userId = requirePrincipal(request, 'user').id;
      const confirmation = presentedDecisionId(request.headers);
      if (!confirmation.ok) return sendProblem(reply, confirmation.code, confirmation.detail);
      const { challenge, deposit, voucher } = request.body;
      const { description, ...echo } = challenge;
      const opened = await sessions.open({
        userId,
        idempotencyKey: String(request.headers[idempotencyKeyHeader]),
        challenge: description === undefined ? echo : { ...echo, description },
        depositMicros: BigInt(deposit),
        commitment: voucher,
        origin: requestOrigin(request),
        ...(confirmation.value === undefined ? {} : { confirmationId: confirmation.value }),
      });
      if (!opened.ok) return sendProblem(reply, opened.code, opened.detail, opened.extra);
      return reply.code(201).send({
        session: await sessions.viewFor(opened.value.row, 'user'),
        grant: sessions.grantOf(opened.value),
      });
    },
  );

  api.post(
    '/v1/payment-sessions/:sessionId/top-ups',
    {
      schema: {
        summary: 'Top a payment session up: hold more of the wallet for it',
        description:
          'Another deposit for an open session, put to the policy and the caps as the first. ' +
          'The answer carries a new grant with the larger deposit, to send the merchant with a ' +
          '`topUp` credential. Once per Idempotency-Key. ' +
          deviceHeaderDescription,
        tags: ['sessions'],
        params: z.object({ sessionId: z.string().max(100) }),
        body: z.object({ amount: microsText }).strict(),
        response: { 200: z.object({ session: sessionSchema, grant: z.string() }) },
      },
      config: { auth: { kinds: ['user'] }, idempotent: 'inHandler' },
    },
    async (request, reply) => {
      const userId = requirePrincipal(request, 'user').id;
      const confirmation = presentedDecisionId(request.headers);
      if (!confirmation.ok) return sendProblem(reply, confirmation.code, confirmation.detail);
      const toppedUp = await sessions.topUp({
        userId,
        sessionId: request.params.sessionId,
        idempotencyKey: String(request.headers[idempotencyKeyHeader]),
        amountMicros: BigInt(request.body.amount),
        origin: requestOrigin(request),
        ...(confirmation.value === undefined ? {} : { confirmationId: confirmation.value }),
      });
      if (!toppedUp.ok) return sendProblem(reply, toppedUp.code, toppedUp.detail, toppedUp.extra);
      return {
        session: await sessions.viewFor(toppedUp.value.row, 'user'),
        grant: sessions.grantOf(toppedUp.value),
      };
    },
  );
};

const merchantRoutes: Routes = async (api, { sessions }) => {
  api.post(
    '/v1/payment-sessions/:sessionId/vouchers',
    {
      schema: {
        summary: 'Checkpoint the highest voucher of a session (its merchant)',
        description:
          'The merchant hands the platform the highest voucher it holds, so that a session it ' +
          'cannot close itself settles at it when the session expires. The same voucher again ' +
          'is a success; an older one is `409 voucher-stale`.',
        tags: ['sessions'],
        params: z.object({ sessionId: z.string().max(100) }),
        body: voucherSchema,
        response: { 200: z.object({ session: sessionSchema }) },
      },
      // The accepted voucher only rises, by a conditional write: a retry changes nothing.
      config: { auth: { kinds: ['merchant'], scopes: ['sessions:write'] }, idempotent: false },
    },
    async (request, reply) => {
      const merchantId = requirePrincipal(request, 'merchant').id;
      const voucher = voucherOf(request.body);
      if (!voucher.ok) return sendProblem(reply, voucher.code, voucher.detail);
      const accepted = await sessions.submitVoucher(
        merchantId,
        request.params.sessionId,
        voucher.value,
      );
      if (!accepted.ok) return sendProblem(reply, accepted.code, accepted.detail);
      return { session: await sessions.viewFor(accepted.value, 'merchant') };
    },
  );

  api.post(
    '/v1/payment-sessions/:sessionId/close',
    {
      schema: {
        summary: 'Close a payment session (its merchant, or its payer)',
        description:
          'The merchant\u2019s close settles at once at the highest voucher (this one, if higher): ' +
          'the hold is posted for exactly that amount, the merchant paid less the platform fee, ' +
          'the rest released, in one ledger chain. The payer\u2019s close takes its last voucher ' +
          'at once and settles after a short grace in which the merchant\u2019s higher voucher ' +
          'still counts. Closing again, or with an older voucher, changes nothing.',
        tags: ['sessions'],
        params: z.object({ sessionId: z.string().max(100) }),
        body: z.object({ voucher: voucherSchema.optional() }).strict(),
        response: { 200: z.object({ session: sessionSchema }) },
      },
      config: {
        auth: { kinds: ['merchant', 'user'], scopes: ['sessions:write'] },
        idempotent: false,
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request, 'merchant', 'user');
      let voucher: SessionVoucher | undefined;
      if (request.body.voucher !== undefined) {
        const decoded = voucherOf(request.body.voucher);
        if (!decoded.ok) return sendProblem(reply, decoded.code, decoded.detail);
        voucher = decoded.value;
      }
      const closer =
        principal.kind === 'merchant'
          ? { kind: 'merchant' as const, merchantId: principal.id }
          : { kind: 'user' as const, userId: principal.id };
      const closed = await sessions.close(closer, request.params.sessionId, voucher);
      if (!closed.ok) return sendProblem(reply, closed.code, closed.detail);
      return { session: await sessions.viewFor(closed.value, principal.kind) };
    },
  );
};

const readRoutes: Routes = async (api, { sessions }) => {
  api.get(
    '/v1/payment-sessions/:sessionId',
    {
      schema: {
        summary: 'A payment session, as its payer or its merchant sees it',
        tags: ['sessions'],
        params: z.object({ sessionId: z.string().max(100) }),
        response: { 200: z.object({ session: sessionSchema }) },
      },
      config: { auth: { kinds: ['merchant', 'user'], scopes: ['sessions:read'] } },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request, 'merchant', 'user');
      const { row } = await sessions
        .stateOf(request.params.sessionId)
        .catch(() => ({ row: undefined }));
      const owner =
        row === undefined ? undefined : principal.kind === 'user' ? row.user_id : row.merchant_id;
      if (row === undefined || owner !== principal.id) return sendProblem(reply, 'sessionNotFound');
      return { session: await sessions.viewFor(row, principal.kind) };
    },
  );

  api.get(
    '/v1/users/me/payment-sessions',
    {
      schema: {
        summary: 'My payment sessions, newest first',
        tags: ['sessions'],
        querystring: pageQuery(cursorSchema).extend({ state: stateQuery }),
        response: { 200: pageSchema(sessionSchema) },
      },
      config: { auth: { kinds: ['user'] } },
    },
    async (request) => {
      const userId = requirePrincipal(request, 'user').id;
      const { cursor, limit, state } = request.query;
      const listed = await sessions.listForUser(userId, { cursor, limit, state });
      return pageOf(listed, (row) => sessions.viewFor(row, 'user'));
    },
  );

  api.get(
    '/v1/merchants/:merchantId/payment-sessions',
    {
      schema: {
        summary: 'A merchant\u2019s payment sessions, newest first',
        tags: ['sessions'],
        params: z.object({ merchantId: z.string().min(1).max(100) }),
        querystring: pageQuery(cursorSchema).extend({ state: stateQuery }),
        response: { 200: pageSchema(sessionSchema) },
      },
      config: { auth: { kinds: ['merchant'], scopes: ['sessions:read'] } },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request, 'merchant');
      const { merchantId } = request.params;
      if (principal.id !== merchantId) return sendProblem(reply, 'merchantNotFound');
      const { cursor, limit, state } = request.query;
      const listed = await sessions.listForMerchant(merchantId, { cursor, limit, state });
      return pageOf(listed, (row) => sessions.viewFor(row, 'merchant'));
    },
  );
};

async function pageOf<V>(
  listed: { rows: SessionRow[]; next: SessionCursor | undefined },
  view: (row: SessionRow) => Promise<V>,
): Promise<{ items: V[]; nextCursor: string | null }> {
  return {
    items: await Promise.all(listed.rows.map(view)),
    nextCursor: listed.next === undefined ? null : encodeCursor(listed.next),
  };
}
