/**
 * The operator console's API under `/v1/operator/` (operators only): the ledger's health and
 * its verification runs, what is pending, the webhook backlog, a payout batch's progress. Lists are in
 * operator-list-routes.ts; payout batches and the fee report have routes of their own
 * (payouts/payout-routes.ts, funding/topup-routes.ts).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { currency } from '@mite/protocol';
import { z } from 'zod';
import { cursorInteger, page, pageQuery, pageSchema } from '../http/pagination.ts';
import { sendProblem } from '../http/problems.ts';
import type { LedgerVerifications } from './ledger-verifications.ts';
import {
  payoutProgressBody,
  payoutProgressSchema,
  pendingBody,
  pendingSchema,
  verificationBody,
  verificationSchema,
  webhookBacklogBody,
  webhookBacklogSchema,
} from './operator-schemas.ts';
import type { OperatorReads } from './operator-reads.ts';
import type { PersonalDataViews } from './personal-data-views.ts';
import { operatorListRoutes } from './operator-list-routes.ts';

export interface OperatorRouteOptions {
  readonly verifications: LedgerVerifications;
  readonly reads: OperatorReads;
  readonly views: PersonalDataViews;
}

const operatorOnly = { auth: { kinds: ['operator' as const] } };

export const operatorRoutes: FastifyPluginAsyncZod<OperatorRouteOptions> = async (api, options) => {
  await api.register(ledgerHealthRoutes, options);
  await api.register(verificationRoutes, options);
  await api.register(operatorListRoutes, options);
};

const ledgerHealthRoutes: FastifyPluginAsyncZod<OperatorRouteOptions> = async (
  api,
  { verifications, reads },
) => {
  api.get(
    '/v1/operator/ledger-health',
    {
      schema: {
        summary: 'The ledger\u2019s last verification, and what is pending',
        description:
          'The last finished run of the ledger\u2019s verify() (with the balances per kind of ' +
          'account it read), any run under way, and the payments, refunds and top-ups still ' +
          'pending: how many, how much, and since when. Reading this starts nothing: POST ' +
          '`/v1/operator/ledger-verifications` to verify again.',
        tags: ['operator'],
        response: {
          200: z.object({
            lastVerification: verificationSchema.nullable(),
            runningVerification: verificationSchema.nullable(),
            pending: z.object({
              payments: pendingSchema,
              refunds: pendingSchema,
              topUps: pendingSchema,
            }),
            currency: z.string(),
          }),
        },
      },
      config: operatorOnly,
    },
    async () => {
      const [latest, finished, pending] = await Promise.all([
        verifications.latest(),
        verifications.lastFinished(),
        reads.pendingSummary(),
      ]);
      return {
        lastVerification: finished === undefined ? null : verificationBody(finished),
        runningVerification: latest?.state === 'running' ? verificationBody(latest) : null,
        pending: {
          payments: pendingBody(pending.payments),
          refunds: pendingBody(pending.refunds),
          topUps: pendingBody(pending.topUps),
        },
        currency,
      };
    },
  );

  api.get(
    '/v1/operator/webhook-backlog',
    {
      schema: {
        summary: 'Webhook deliveries waiting, and the endpoints that keep failing',
        tags: ['operator'],
        response: { 200: webhookBacklogSchema },
      },
      config: operatorOnly,
    },
    async () => webhookBacklogBody(await reads.webhookBacklog()),
  );

  api.get(
    '/v1/operator/payout-batches/:batchId/progress',
    {
      schema: {
        summary: 'How far a payout batch has come: its payouts by state',
        description:
          'Counts and totals of the batch’s payouts paid, pending and failed, without ' +
          'their bank details (which `/v1/payout-batches/{batchId}` lists).',
        tags: ['operator'],
        params: z.object({ batchId: z.string().min(1).max(64) }),
        response: { 200: payoutProgressSchema },
      },
      config: operatorOnly,
    },
    async (request, reply) => {
      const progress = await reads.payoutProgress(request.params.batchId);
      if (progress === undefined) return sendProblem(reply, 'notFound', 'No such payout batch.');
      return payoutProgressBody(progress);
    },
  );
};

const verificationCursor = z.object({ at: cursorInteger(), id: z.string().max(64) });

const verificationRoutes: FastifyPluginAsyncZod<OperatorRouteOptions> = async (
  api,
  { verifications },
) => {
  api.post(
    '/v1/operator/ledger-verifications',
    {
      schema: {
        summary: 'Verify the ledger again, in the background',
        description:
          'Starts a run of the ledger\u2019s verify() and answers at once (202) with it; poll ' +
          'its URL until it is `done`. Verifying reads every account and transfer, so at most ' +
          'one run exists at a time on all nodes: while one runs, or within a minute of the ' +
          'last start, the answer is that run (200, `started: false`) and nothing new starts.',
        tags: ['operator'],
        response: {
          202: z.object({ started: z.literal(true), verification: verificationSchema }),
          200: z.object({ started: z.literal(false), verification: verificationSchema }),
        },
      },
      config: { ...operatorOnly, idempotent: true },
    },
    async (request, reply) => {
      const run = await verifications.start(request.principalId ?? 'operator:unknown');
      const verification = verificationBody(run.verification);
      if (run.started) return reply.code(202).send({ started: true, verification });
      return reply.code(200).send({ started: false, verification });
    },
  );

  api.get(
    '/v1/operator/ledger-verifications',
    {
      schema: {
        summary: 'The ledger\u2019s verification runs, newest first',
        tags: ['operator'],
        querystring: pageQuery(verificationCursor),
        response: { 200: pageSchema(verificationSchema) },
      },
      config: operatorOnly,
    },
    async (request) => {
      const { cursor, limit } = request.query;
      const runs = await verifications.list({
        limit: limit + 1,
        ...(cursor === undefined
          ? {}
          : { before: { startedAtMs: BigInt(cursor.at), id: cursor.id } }),
      });
      const shown = page(runs, limit, (run) => ({ at: String(run.startedAtMs), id: run.id }));
      return { items: shown.items.map(verificationBody), nextCursor: shown.nextCursor };
    },
  );

  api.get(
    '/v1/operator/ledger-verifications/:verificationId',
    {
      schema: {
        summary: 'One verification run',
        tags: ['operator'],
        params: z.object({ verificationId: z.string().max(64) }),
        response: { 200: verificationSchema },
      },
      config: operatorOnly,
    },
    async (request, reply) => {
      const run = await verifications.byId(request.params.verificationId);
      if (run === undefined) return sendProblem(reply, 'notFound', 'No such verification.');
      return verificationBody(run);
    },
  );
};
