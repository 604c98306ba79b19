/**
 * The operator's review queue (operators only, like every `/v1/operator/` route): the decisions
 * the policy recorded when it stopped a purchase, top-up or token withdrawal, listed with
 * filters and read one at a time; a release, a fraud confirmation that freezes the accounts
 * involved, and the freezes, listed and lifted. Every change takes an Idempotency-Key, and a
 * decision or freeze changes once: a second review gets `decisionReviewed` (409).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { cursorInteger, page, pageQuery, pageSchema } from '../http/pagination.ts';
import { sendProblem } from '../http/problems.ts';
import { type PolicyReview, reviewNoteLengthMax } from './policy-review.ts';
import {
  decisionBody,
  decisionSchema,
  freezeBody,
  freezeSchema,
  reviewStates,
  verdicts,
} from './review-schemas.ts';

interface ReviewRouteOptions {
  readonly review: PolicyReview;
}

const operatorOnly = { auth: { kinds: ['operator' as const] } };
const idSchema = z.string().min(1).max(64);
const timeCursor = z.object({ at: cursorInteger(), id: idSchema });
const instant = z.iso.datetime({ offset: true }).transform((text) => Date.parse(text));
const noteSchema = z
  .string()
  .trim()
  .min(1)
  .max(reviewNoteLengthMax)
  .describe('Why: kept with the decision for the next operator');

const decisionFilters = z.object({
  verdict: z.enum(verdicts).optional(),
  reviewState: z.enum(reviewStates).optional(),
  rule: z.string().min(1).max(200).optional(),
  userId: idSchema.optional(),
  merchantId: idSchema.optional(),
  from: instant.optional().describe('Decisions made at or after this time (ISO 8601)'),
  to: instant.optional().describe('Decisions made before this time (ISO 8601)'),
});

export const reviewRoutes: FastifyPluginAsyncZod<ReviewRouteOptions> = async (api, options) => {
  await api.register(decisionReadRoutes, options);
  await api.register(decisionReviewRoutes, options);
  await api.register(freezeRoutes, options);
};

const decisionReadRoutes: FastifyPluginAsyncZod<ReviewRouteOptions> = async (api, { review }) => {
  api.get(
    '/v1/operator/policy-decisions',
    {
      schema: {
        summary: 'What the policy stopped, newest first, with filters',
        tags: ['operator'],
        querystring: pageQuery(timeCursor).extend(decisionFilters.shape),
        response: { 200: pageSchema(decisionSchema) },
      },
      config: operatorOnly,
    },
    async (request) => {
      const { cursor, limit, from, to, ...filters } = request.query;
      const decisions = await review.listDecisions({
        ...filters,
        fromMs: from,
        toMs: to,
        limit: limit + 1,
        ...(cursor === undefined ? {} : { before: { atMs: BigInt(cursor.at), id: cursor.id } }),
      });
      const shown = page(decisions, limit, (decision) => ({
        at: String(decision.createdAtMs),
        id: decision.id,
      }));
      return { items: shown.items.map(decisionBody), nextCursor: shown.nextCursor };
    },
  );

  api.get(
    '/v1/operator/policy-decisions/:decisionId',
    {
      schema: {
        summary: 'One decision of the policy, with its review',
        tags: ['operator'],
        params: z.object({ decisionId: idSchema }),
        response: { 200: decisionSchema },
      },
      config: operatorOnly,
    },
    async (request, reply) => {
      const decision = await review.getDecision(request.params.decisionId);
      if (decision === undefined) return sendProblem(reply, 'decisionNotFound');
      return decisionBody(decision);
    },
  );
};

const decisionReviewRoutes: FastifyPluginAsyncZod<ReviewRouteOptions> = async (api, { review }) => {
  api.post(
    '/v1/operator/policy-decisions/:decisionId/release',
    {
      schema: {
        summary: 'Release a decision: reviewed, not fraud',
        description:
          'Closes an open decision as released, with a note. The refusal it answered stands and ' +
          'no money moves; the user may simply ask again. A decision is reviewed once: ' +
          '`decisionReviewed` (409) when it was released or confirmed as fraud already.',
        tags: ['operator'],
        params: z.object({ decisionId: idSchema }),
        body: z.object({ note: noteSchema }),
        response: { 200: decisionSchema },
      },
      config: { ...operatorOnly, idempotent: true },
    },
    async (request, reply) => {
      const released = await review.release(request.params.decisionId, {
        operator: request.principalId ?? 'operator:unknown',
        note: request.body.note,
      });
      if (!released.ok) return sendProblem(reply, released.code, released.detail);
      return decisionBody(released.value);
    },
  );

  api.post(
    '/v1/operator/policy-decisions/:decisionId/fraud',
    {
      schema: {
        summary: 'Confirm a decision as fraud, freezing the accounts involved',
        description:
          'Closes an open decision as fraud and freezes the accounts chosen (at least one): the ' +
          'user who asked, and for a purchase the merchant it would have paid. A frozen user ' +
          'can neither pay, top up nor withdraw tokens; a frozen merchant is neither paid nor ' +
          'paid out, and its balance stays in place until the freeze is lifted. An account ' +
          'frozen already keeps its freeze. A decision is reviewed once: `decisionReviewed` (409).',
        tags: ['operator'],
        params: z.object({ decisionId: idSchema }),
        body: z.object({
          note: noteSchema,
          freeze: z
            .object({ user: z.boolean().default(false), merchant: z.boolean().default(false) })
            .describe('Which accounts to freeze: at least one'),
        }),
        response: {
          200: z.object({ decision: decisionSchema, freezes: z.array(freezeSchema) }),
        },
      },
      config: { ...operatorOnly, idempotent: true },
    },
    async (request, reply) => {
      const confirmed = await review.confirmFraud(
        request.params.decisionId,
        { operator: request.principalId ?? 'operator:unknown', note: request.body.note },
        request.body.freeze,
      );
      if (!confirmed.ok) return sendProblem(reply, confirmed.code, confirmed.detail);
      return {
        decision: decisionBody(confirmed.value.decision),
        freezes: confirmed.value.freezes.map(freezeBody),
      };
    },
  );
};

const freezeRoutes: FastifyPluginAsyncZod<ReviewRouteOptions> = async (api, { review }) => {
  api.get(
    '/v1/operator/account-freezes',
    {
      schema: {
        summary: 'Frozen accounts, newest freeze first',
        tags: ['operator'],
        querystring: pageQuery(timeCursor).extend({
          inForce: z
            .enum(['true', 'false'])
            .transform((text) => text === 'true')
            .optional()
            .describe('Only the freezes in force (true) or only the lifted ones (false)'),
        }),
        response: { 200: pageSchema(freezeSchema) },
      },
      config: operatorOnly,
    },
    async (request) => {
      const { cursor, limit, inForce } = request.query;
      const freezes = await review.listFreezes({
        limit: limit + 1,
        inForce,
        ...(cursor === undefined ? {} : { before: { atMs: BigInt(cursor.at), id: cursor.id } }),
      });
      const shown = page(freezes, limit, (freeze) => ({
        at: String(freeze.frozenAtMs),
        id: freeze.id,
      }));
      return { items: shown.items.map(freezeBody), nextCursor: shown.nextCursor };
    },
  );

  api.post(
    '/v1/operator/account-freezes/:freezeId/lift',
    {
      schema: {
        summary: 'Lift a freeze: the account pays, is paid and paid out again',
        description: 'A freeze is lifted once: `freezeLifted` (409) when it was lifted already.',
        tags: ['operator'],
        params: z.object({ freezeId: idSchema }),
        response: { 200: freezeSchema },
      },
      config: { ...operatorOnly, idempotent: true },
    },
    async (request, reply) => {
      const lifted = await review.liftFreeze(
        request.params.freezeId,
        request.principalId ?? 'operator:unknown',
      );
      if (!lifted.ok) return sendProblem(reply, lifted.code, lifted.detail);
      return freezeBody(lifted.value);
    },
  );
};
