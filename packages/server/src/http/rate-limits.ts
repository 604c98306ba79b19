/**
 * Rate limits on every route (DESIGN section 4), in two layers, both counted in memory on each
 * node (several nodes each allow the limit; a shared store can come with the multi-node work):
 *
 * - per client, by @fastify/rate-limit on every route: the key is a hash of the credential the
 *   request presents, else the client's IP address. A route sets its own limit with
 *   `config: { rateLimit: { max, timeWindow } }`, or none with `rateLimit: false` (which
 *   leaves the per-IP layer).
 * - per IP address, whatever the credential, on every request including unknown URLs: without
 *   it, made-up tokens would each get a fresh per-client budget.
 *
 * Both answer 429 `rateLimited` with `Retry-After` (seconds).
 */
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { credentialFingerprint, presentedCredential } from './credentials.ts';
import type { HttpLimits } from './limits.ts';
import { ProblemError } from './problems.ts';

/**
 * Clients each limiter remembers (an LRU): large enough that a flood of new clients does not
 * evict, and so reset, the counts of the clients being limited.
 */
export const rateLimitClientsTrackedMax = 50_000;

function clientKey(request: FastifyRequest): string {
  const credential = presentedCredential(request);
  return credential === undefined
    ? `ip:${normalizeIP(request.ip)}`
    : `credential:${credentialFingerprint(credential)}`;
}

function ipKey(request: FastifyRequest): string {
  return `ip:${normalizeIP(request.ip)}`;
}

function rateLimitedError(retryAfterSeconds: number): ProblemError {
  return new ProblemError('rateLimited', `Retry in ${retryAfterSeconds} s.`);
}

type RequestLimiter = ReturnType<FastifyInstance['createRateLimit']>;

/** Registers both layers; routes must be registered after, in `app.register(...)` plugins. */
export function installRateLimits(app: FastifyInstance, limits: HttpLimits): void {
  void app.register(rateLimit, {
    global: true,
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
  // createRateLimit exists once the plugin has loaded, which is before the first request.
  let ipLimiter: RequestLimiter | undefined;
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    ipLimiter ??= app.createRateLimit({
      keyGenerator: ipKey,
      max: limits.rateLimitPerIpMax,
      timeWindow: limits.rateLimitWindowMs,
    });
    const state = await ipLimiter(request);
    if (state.isAllowed || !state.isExceeded) return;
    reply.header('retry-after', String(state.ttlInSeconds));
    request.log.info({ limit: 'ip' }, 'rate limited');
    throw rateLimitedError(state.ttlInSeconds);
  });
}
