import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { cursorInteger, pageQuery, pageSchema } from '../http/pagination.ts';
import { sendProblem } from '../http/problems.ts';
import { type Principal, requirePrincipal } from '../http/route-config.ts';
import { webhookEventTypes } from './outbox.ts';
import {
  type WebhookEndpoint,
  type WebhookService,
  webhookUrlLengthMax,
} from './webhook-service.ts';

const endpointSchema = z.object({
  id: z.string(),
  url: z.string(),
  eventTypes: z.array(z.enum(webhookEventTypes)),
  createdAt: z.string().describe('ISO 8601'),
});

const attemptSchema = z.object({
  id: z.string(),
  eventId: z.string().describe('The `webhook-id` sent'),
  eventType: z.string(),
  attemptedAt: z.string().describe('ISO 8601'),
  status: z.number().int().nullable().describe('The HTTP status answered; null if none was'),
  error: z.string().nullable().describe('Why no answer came (network error, timeout)'),
  durationMs: z.number().int(),
});

const attemptCursorSchema = z.object({
  attemptedAt: cursorInteger(),
  id: z.string().max(100),
});

const endpointParams = z.object({ endpointId: z.string().min(1).max(100) });

const newEndpointSchema = z.object({
  url: z.string().min(1).max(webhookUrlLengthMax).describe('http: or https:'),
  eventTypes: z.array(z.enum(webhookEventTypes)).min(1).max(webhookEventTypes.length),
});

const createdEndpointSchema = endpointSchema.extend({
  secret: z.string().describe('Standard Webhooks signing secret (`whsec_...`): shown only here'),
});

type WebhookRoutes = FastifyPluginAsyncZod<{ webhooks: WebhookService }>;

function endpointBody(endpoint: WebhookEndpoint): z.infer<typeof endpointSchema> {
  return {
    id: endpoint.id,
    url: endpoint.url,
    eventTypes: [...endpoint.eventTypes],
    createdAt: new Date(endpoint.createdAtMs).toISOString(),
  };
}

/**
 * Whose endpoints a caller manages: a merchant its own; an operator the platform's, which receive
 * the events that belong to no merchant (top-ups).
 */
function ownerOf(principal: Principal): string | null {
  return principal.kind === 'operator' ? null : principal.id;
}

/**
 * A merchant's webhook endpoints, their delivery attempts and the replay of its events, and the
 * same for the operator's platform events. Each sees only its own: another owner's ids are
 * answered 404, as unknown ones are.
 */
export const webhookRoutes: WebhookRoutes = async (api, options) => {
  await api.register(endpointRoutes, options);
  await api.register(deliveryRoutes, options);
};

/** The endpoints: added (with their signing secret), listed, removed. */
const endpointRoutes: WebhookRoutes = async (api, { webhooks }) => {
  api.post(
    '/v1/webhook-endpoints',
    {
      schema: {
        summary: 'Add a webhook endpoint (its signing secret is shown once)',
        tags: ['webhooks'],
        body: newEndpointSchema,
        response: { 201: createdEndpointSchema },
      },
      config: {
        auth: { kinds: ['merchant', 'operator'], scopes: ['webhooks:write'] },
        idempotent: true,
      },
    },
    async (request, reply) => {
      const created = await webhooks.createEndpoint(
        ownerOf(requirePrincipal(request, 'merchant', 'operator')),
        request.body,
      );
      if (!created.ok) return sendProblem(reply, created.code, created.detail);
      const { endpoint, secret } = created.value;
      return reply.code(201).send({ ...endpointBody(endpoint), secret });
    },
  );

  api.get(
    '/v1/webhook-endpoints',
    {
      schema: {
        summary: 'My webhook endpoints',
        tags: ['webhooks'],
        response: { 200: z.object({ items: z.array(endpointSchema) }) },
      },
      config: { auth: { kinds: ['merchant', 'operator'], scopes: ['webhooks:read'] } },
    },
    async (request) => {
      const endpoints = await webhooks.listEndpoints(
        ownerOf(requirePrincipal(request, 'merchant', 'operator')),
      );
      return { items: endpoints.map(endpointBody) };
    },
  );

  api.delete(
    '/v1/webhook-endpoints/:endpointId',
    {
      schema: {
        summary: 'Remove a webhook endpoint (its pending deliveries are dropped)',
        tags: ['webhooks'],
        params: endpointParams,
      },
      config: {
        auth: { kinds: ['merchant', 'operator'], scopes: ['webhooks:write'] },
        idempotent: false,
      },
    },
    async (request, reply) => {
      const disabled = await webhooks.disableEndpoint(
        ownerOf(requirePrincipal(request, 'merchant', 'operator')),
        request.params.endpointId,
      );
      if (!disabled.ok) return sendProblem(reply, disabled.code, disabled.detail);
      return reply.code(204).send();
    },
  );
};

/** What was delivered: each endpoint's attempts, and an event sent again. */
const deliveryRoutes: WebhookRoutes = async (api, { webhooks }) => {
  api.get(
    '/v1/webhook-endpoints/:endpointId/attempts',
    {
      schema: {
        summary: 'Delivery attempts to a webhook endpoint, newest first',
        tags: ['webhooks'],
        params: endpointParams,
        querystring: pageQuery(attemptCursorSchema),
        response: { 200: pageSchema(attemptSchema) },
      },
      config: { auth: { kinds: ['merchant', 'operator'], scopes: ['webhooks:read'] } },
    },
    async (request, reply) => {
      const { limit, cursor } = request.query;
      const listed = await webhooks.listAttempts(
        ownerOf(requirePrincipal(request, 'merchant', 'operator')),
        request.params.endpointId,
        { limit, cursor },
      );
      if (!listed.ok) return sendProblem(reply, listed.code, listed.detail);
      return {
        items: listed.value.items.map(({ attemptedAtMs, ...attempt }) => ({
          ...attempt,
          attemptedAt: new Date(attemptedAtMs).toISOString(),
        })),
        nextCursor: listed.value.nextCursor,
      };
    },
  );

  api.post(
    '/v1/webhook-events/:eventId/replay',
    {
      schema: {
        summary: 'Send an event again to my endpoints subscribed to its type',
        tags: ['webhooks'],
        params: z.object({ eventId: z.string().min(1).max(100) }),
        response: {
          202: z.object({
            eventId: z.string(),
            deliveries: z.number().int().describe('Endpoints the event is queued for'),
          }),
        },
      },
      config: {
        auth: { kinds: ['merchant', 'operator'], scopes: ['webhooks:write'] },
        idempotent: true,
      },
    },
    async (request, reply) => {
      const replayed = await webhooks.replay(
        ownerOf(requirePrincipal(request, 'merchant', 'operator')),
        request.params.eventId,
      );
      if (!replayed.ok) return sendProblem(reply, replayed.code, replayed.detail);
      return reply.code(202).send(replayed.value);
    },
  );
};
