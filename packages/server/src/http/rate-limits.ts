/**
 * Rate limits on every route (DESIGN section 4), counted in memory on each node (several nodes
 * each allow the limit; a shared store can come with the multi-node work):
 *
 * - per client, by @fastify/rate-limit on every route, once the caller is authenticated: the key
 *   is the principal (a user, a merchant, an admin key) on routes that require a credential, else
 *   the client's IP address. Keyed by principal rather than by the token presented, so that
 *   logging in again, or holding several sessions, does not renew a user's budget. A route sets
 *   its own limit with `config: { rateLimit: { max, timeWindow } }`, or none with
 *   `rateLimit: false` (which leaves the per-IP layers).
 * - a route's own limit is also counted per IP address, whatever the principal, so that many
 *   accounts behind one address share it.
 * - per IP address, whatever the credential, on every request including unknown URLs: without
 *   it, made-up tokens, refused before the per-client layer, would cost nothing.
 *
 * The IP address is the socket's, or behind a reverse proxy the one the proxy reports, as far as
 * the app's `trustProxy` setting trusts it. All answer 429 `rateLimited` with `Retry-After`.
 */
import rateLimit, { normalizeIP, type RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { HttpLimits } from './limits.ts';
import { ProblemError } from './problems.ts';

/**
 * Clients each limiter remembers (an LRU): large enough that a flood of new clients does not
 * evict, and so reset, the counts of the clients being limited.
 */
export const rateLimitClientsTrackedMax = 50_000;

function clientKey(request: FastifyRequest): string {
  const { principalId } = request;
  return principalId === undefined ? ipKey(request) : `principal:${principalId}`;
}

function ipKey(request: FastifyRequest): string {
  return `ip:${normalizeIP(request.ip)}`;
}

function rateLimitedError(retryAfterSeconds: number): ProblemError {
  return new ProblemError('rateLimited', `Retry in ${retryAfterSeconds} s.`);
}

type RequestLimiter = ReturnType<FastifyInstance['createRateLimit']>;

/** A hook counting requests per IP address with `options`, made once the plugin has loaded. */
function ipLimitHook(app: FastifyInstance, options: RateLimitOptions, limit: string) {
  let limiter: RequestLimiter | undefined;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    // createRateLimit exists once the plugin has loaded, which is before the first request.
    limiter ??= app.createRateLimit({ ...options, keyGenerator: ipKey });
    const state = await limiter(request);
    if (state.isAllowed || !state.isExceeded) return;
    reply.header('retry-after', String(state.ttlInSeconds));
    request.log.info({ limit }, 'rate limited');
    throw rateLimitedError(state.ttlInSeconds);
  };
}

/** Adds the per-IP count of a route's own limit to the route, first among its onRequest hooks. */
function addRouteIpLimit(app: FastifyInstance, route: RouteOptions): void {
  const routeLimit: unknown = route.config?.rateLimit;
  if (typeof routeLimit !== 'object' || routeLimit === null) return;
  const { max, timeWindow } = routeLimit as RateLimitOptions;
  const hook = ipLimitHook(
    app,
    {
      ...(max === undefined ? {} : { max }),
      ...(timeWindow === undefined ? {} : { timeWindow }),
      cache: rateLimitClientsTrackedMax,
    },
    'route ip',
  );
  const existing = route.onRequest;
  route.onRequest = [hook, ...(existing === undefined ? [] : [existing].flat())];
}

/** Registers the layers; routes must be registered after, in `app.register(...)` plugins. */
export function installRateLimits(app: FastifyInstance, limits: HttpLimits): void {
  void app.register(rateLimit, {
    global: true,
    // After the route rules' preParsing hook has authenticated the caller, before the body.
    hook: 'preParsing',
    max: limits.rateLimitPerClientMax,
    timeWindow: limits.rateLimitWindowMs,
    cache: rateLimitClientsTrackedMax,
    keyGenerator: clientKey,
    errorResponseBuilder: (request, context) => {
      const ttlMs = (context as { ttl?: number }).ttl ?? limits.rateLimitWindowMs;
      request.log.info({ limit: 'client' }, 'rate limited');
      return rateLimitedError(Math.ceil(ttlMs / 1000));
    },
  });
  app.addHook('onRoute', (route) => addRouteIpLimit(app, route));
  app.addHook(
    'onRequest',
    ipLimitHook(app, { max: limits.rateLimitPerIpMax, timeWindow: limits.rateLimitWindowMs }, 'ip'),
  );
}
