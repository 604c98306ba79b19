/**
 * The operator console's lists (operators only): merchants with their payout state and balance,
 * every top-up with its card fee, and personal data shown on request with a reason, each view
 * logged, with the log itself.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { cursorInteger, page, pageQuery, pageSchema } from '../http/pagination.ts';
import { sendProblem } from '../http/problems.ts';
import {
  operatorMerchantBody,
  operatorMerchantSchema,
  operatorTopUpBody,
  operatorTopUpSchema,
  personalDataViewBody,
  personalDataViewSchema,
} from './operator-schemas.ts';
import type { OperatorReads } from './operator-reads.ts';
import {
  type PersonalDataViews,
  viewReasonLengthMax,
  viewReasonLengthMin,
} from './personal-data-views.ts';

interface ListRouteOptions {
  readonly reads: OperatorReads;
  readonly views: PersonalDataViews;
}

const operatorOnly = { auth: { kinds: ['operator' as const] } };
const idSchema = z.string().min(1).max(64);
const timeCursor = z.object({ at: cursorInteger(), id: idSchema });

export const operatorListRoutes: FastifyPluginAsyncZod<ListRouteOptions> = async (api, options) => {
  await api.register(merchantAndTopUpRoutes, options);
  await api.register(personalDataRoutes, options);
};

const merchantAndTopUpRoutes: FastifyPluginAsyncZod<ListRouteOptions> = async (api, { reads }) => {
  api.get(
    '/v1/operator/merchants',
    {
      schema: {
        summary: 'Merchants, with their payout state and balance, by id',
        tags: ['operator'],
        querystring: pageQuery(z.object({ merchantId: idSchema })),
        response: { 200: pageSchema(operatorMerchantSchema) },
      },
      config: operatorOnly,
    },
    async (request) => {
      const { cursor, limit } = request.query;
      const merchants = await reads.listMerchants({
        limit: limit + 1,
        ...(cursor === undefined ? {} : { afterId: cursor.merchantId }),
      });
      const shown = page(merchants, limit, (merchant) => ({ merchantId: merchant.merchantId }));
      return { items: shown.items.map(operatorMerchantBody), nextCursor: shown.nextCursor };
    },
  );

  api.get(
    '/v1/operator/topups',
    {
      schema: {
        summary: 'Every top-up, with its card fee, newest first',
        description:
          'Without the user: POST `/v1/operator/personal-data-views` shows a top-up\u2019s ' +
          'email, with a reason, logged. Totals for a period are `/v1/fee-report`.',
        tags: ['operator'],
        querystring: pageQuery(timeCursor),
        response: { 200: pageSchema(operatorTopUpSchema) },
      },
      config: operatorOnly,
    },
    async (request) => {
      const { cursor, limit } = request.query;
      const topUps = await reads.listTopUps({
        limit: limit + 1,
        ...(cursor === undefined ? {} : { before: { atMs: BigInt(cursor.at), id: cursor.id } }),
      });
      const shown = page(topUps, limit, (topUp) => ({
        at: String(topUp.createdAtMs),
        id: topUp.id,
      }));
      return { items: shown.items.map(operatorTopUpBody), nextCursor: shown.nextCursor };
    },
  );

  api.get(
    '/v1/operator/topups/:topUpId',
    {
      schema: {
        summary: 'One top-up, without its user',
        tags: ['operator'],
        params: z.object({ topUpId: idSchema }),
        response: { 200: operatorTopUpSchema },
      },
      config: operatorOnly,
    },
    async (request, reply) => {
      const topUp = await reads.getTopUp(request.params.topUpId);
      if (topUp === undefined) return sendProblem(reply, 'topUpNotFound');
      return operatorTopUpBody(topUp);
    },
  );
};

const viewRequestSchema = z.object({
  recordKind: z.literal('topUp'),
  recordId: idSchema,
  field: z.literal('email'),
  reason: z
    .string()
    .trim()
    .min(viewReasonLengthMin)
    .max(viewReasonLengthMax)
    .describe('Why the operator needs the field (a dispute, a support request): kept in the log'),
});

const personalDataRoutes: FastifyPluginAsyncZod<ListRouteOptions> = async (api, { views }) => {
  api.post(
    '/v1/operator/personal-data-views',
    {
      schema: {
        summary: 'Show one personal field of a record, logging who, what, when and why',
        description:
          'The view is logged before the field is answered. Not idempotent on purpose: every ' +
          'call shows the field again, and so is logged again. A person who erased their ' +
          'account has no field left to show: `personalDataErased` (410), and nothing is logged.',
        tags: ['operator'],
        body: viewRequestSchema,
        response: {
          201: z.object({ view: personalDataViewSchema, value: z.string() }),
        },
      },
      config: { ...operatorOnly, idempotent: false },
    },
    async (request, reply) => {
      const revealed = await views.reveal({
        operator: request.principalId ?? 'operator:unknown',
        ...request.body,
      });
      if (!revealed.ok) {
        // An erased person's field is gone for good: 410, not a missing record.
        const code = revealed.code === 'recordNotFound' ? 'topUpNotFound' : revealed.code;
        return sendProblem(reply, code);
      }
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({
        view: personalDataViewBody(revealed.value.view),
        value: revealed.value.value,
      });
    },
  );

  api.get(
    '/v1/operator/personal-data-views',
    {
      schema: {
        summary: 'The log of operators\u2019 views of personal data, newest first',
        tags: ['operator'],
        querystring: pageQuery(timeCursor),
        response: { 200: pageSchema(personalDataViewSchema) },
      },
      config: operatorOnly,
    },
    async (request) => {
      const { cursor, limit } = request.query;
      const logged = await views.list({
        limit: limit + 1,
        ...(cursor === undefined ? {} : { before: { atMs: BigInt(cursor.at), id: cursor.id } }),
      });
      const shown = page(logged, limit, (view) => ({ at: String(view.viewedAtMs), id: view.id }));
      return { items: shown.items.map(personalDataViewBody), nextCursor: shown.nextCursor };
    },
  );
};
