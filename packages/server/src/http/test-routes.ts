/**
 * A small sample API for the HTTP foundation's tests: routes declared the way the features
 * declare theirs, and an authenticator over fixed tokens.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { fail, ok } from '../result.ts';
import { createHttpApp, type HttpApp, type HttpAppOptions } from './create-http-app.ts';
import { presentedCredential } from './credentials.ts';
import { defaultHttpLimits, type HttpLimits } from './limits.ts';
import { sendProblem } from './problems.ts';
import type { Authenticator, Principal } from './route-config.ts';
import { captureLog } from './testing.ts';

export const testPrincipals: Readonly<Record<string, Principal>> = {
  'user-token': { kind: 'user', id: 'u1', scopes: [] },
  // The same user logged in again.
  'user-token-2': { kind: 'user', id: 'u1', scopes: [] },
  'other-user-token': { kind: 'user', id: 'u2', scopes: [] },
  'merchant-token': { kind: 'merchant', id: 'm1', scopes: ['widgets:write'] },
  'read-only-merchant-token': { kind: 'merchant', id: 'm2', scopes: [] },
};

export const testAuthenticator: Authenticator = async (request) => {
  const credential = presentedCredential(request);
  if (credential === undefined) return ok(undefined);
  const principal = testPrincipals[credential];
  return principal === undefined ? fail('unauthenticated', 'Unknown token.') : ok(principal);
};

export const widgetBodySchema = z.object({
  name: z.string().min(2).max(40).describe('What the widget is called'),
  priceMicros: z.number().int().positive().describe('Price in micro-units'),
  tags: z.array(z.string()).max(5).optional(),
});

const widgetSchema = z.object({ id: z.string(), name: z.string(), priceMicros: z.number() });

/** Thrown by a handler to check that nothing of it reaches the client. */
export const internalSecret = 'database password is hunter2';

export const widgetRoutes: FastifyPluginAsyncZod = async (api) => {
  api.post(
    '/v1/widgets',
    {
      schema: {
        summary: 'Create a widget',
        tags: ['widgets'],
        body: widgetBodySchema,
        response: { 201: widgetSchema },
      },
      config: { auth: 'public', idempotent: false },
    },
    async (request, reply) => {
      if (request.body.name === 'explode') throw new Error(internalSecret);
      return reply.code(201).send({ id: 'w1', ...request.body });
    },
  );
  api.get(
    '/v1/widgets/:widgetId',
    {
      schema: { params: z.object({ widgetId: z.string().regex(/^w\d+$/) }) },
      config: { auth: 'public' },
    },
    async (request, reply) =>
      request.params.widgetId === 'w1'
        ? { id: 'w1', name: 'first', priceMicros: 10 }
        : sendProblem(reply, 'notFound', 'No such widget.'),
  );
  api.get('/v1/me', { config: { auth: { kinds: ['user'] } } }, async (request) => ({
    principalId: request.principalId,
  }));
  api.post(
    '/v1/merchant-widgets',
    { config: { auth: { kinds: ['merchant'], scopes: ['widgets:write'] }, idempotent: false } },
    async (request) => ({ principalId: request.principalId }),
  );
  api.get(
    '/v1/limited',
    { config: { auth: 'public', rateLimit: { max: 2, timeWindow: 60_000 } } },
    async () => ({ ok: true }),
  );
  api.get(
    '/v1/limited-mine',
    { config: { auth: { kinds: ['user'] }, rateLimit: { max: 2, timeWindow: 60_000 } } },
    async () => ({ ok: true }),
  );
};

/** An app with the sample routes, logging nowhere unless given a logger. */
export function createTestApp(
  options: Partial<HttpAppOptions> = {},
  limits: Partial<HttpLimits> = {},
): HttpApp {
  const app = createHttpApp({
    logger: captureLog('silent').logger,
    metricsRegistry: new Registry(),
    authenticator: testAuthenticator,
    ...options,
    limits: { ...defaultHttpLimits, ...limits },
  });
  void app.register(widgetRoutes);
  return app;
}

export interface TestResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  json(): Record<string, unknown>;
}

/** `fetch` with a JSON body (or a raw one) and the answer read whole. */
export async function call(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<TestResponse> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body: body ?? null });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}
