/**
 * The paywall as a Fastify plugin: `await app.register(fastifyPaywall(paywall))`. Its hooks apply
 * to the whole application (the plugin skips Fastify's encapsulation, as fastify-plugin would), so
 * register it before the routes it prices. A paid request reaches its handler with the verified
 * receipt on `request.miteReceipt`.
 */
import type { ReceiptClaims } from '@mite/protocol';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { PaidOutcome, Paywall } from './core.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The platform's receipt for this request, when the paywall let it through as paid. */
    miteReceipt: ReceiptClaims | undefined;
  }
}

async function onRequest(
  paywall: Paywall,
  paidRequests: WeakMap<FastifyRequest, PaidOutcome>,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply | undefined> {
  const outcome = await paywall.handle({
    method: request.method,
    url: request.url,
    headers: request.headers,
  });
  if (outcome.kind === 'free') return undefined;
  // Fastify's rule for an async hook that answers: send, and return the reply.
  if (outcome.kind !== 'paid')
    return reply.code(outcome.status).headers(outcome.headers).send(outcome.body);
  request.miteReceipt = outcome.receipt;
  paidRequests.set(request, outcome);
  reply.headers(outcome.responseHeaders);
  // A connection closed before any head was written delivered nothing.
  reply.raw.once('close', () => {
    if (!reply.raw.headersSent) outcome.settle(500);
  });
  return undefined;
}

/**
 * `onSend` sees the final status, error handlers' included, before the head is written: the
 * receipt headers come off an error response, and `settle` hears the status.
 */
function onSend(paid: PaidOutcome | undefined, reply: FastifyReply): void {
  if (paid === undefined) return;
  if (reply.statusCode >= 400) {
    for (const name of Object.keys(paid.responseHeaders)) {
      if (name.toLowerCase() !== 'cache-control') reply.removeHeader(name);
    }
  }
  paid.settle(reply.statusCode);
}

export function fastifyPaywall(paywall: Paywall): FastifyPluginCallback {
  const paidRequests = new WeakMap<FastifyRequest, PaidOutcome>();
  const plugin: FastifyPluginCallback = (app, _options, done) => {
    app.decorateRequest('miteReceipt', undefined);
    app.addHook('onRequest', (request, reply) => onRequest(paywall, paidRequests, request, reply));
    app.addHook('onSend', async (request, reply, payload) => {
      onSend(paidRequests.get(request), reply);
      return payload;
    });
    done();
  };
  // What fastify-plugin sets: hooks registered by this plugin apply outside it too.
  return Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: '@mite/middleware',
  });
}
