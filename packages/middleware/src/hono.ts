/**
 * The paywall as Hono middleware: `app.use(honoPaywall(paywall))` before the routes. A paid
 * request reaches its handler with the verified receipt as `c.get('miteReceipt')`, and its
 * response carries `Payment-Receipt`.
 */
import type { ReceiptClaims } from '@mite/protocol';
import type { MiddlewareHandler } from 'hono';
import type { Paywall } from './core.ts';

/** The variables this middleware sets, for `new Hono<PaywallEnv>()`. */
export interface PaywallEnv {
  Variables: { miteReceipt: ReceiptClaims | undefined };
}

export function honoPaywall(paywall: Paywall): MiddlewareHandler<PaywallEnv> {
  return async (c, next) => {
    // Hono hands over an absolute URL; the paywall prices the request target, path and query.
    const url = new URL(c.req.url);
    const outcome = await paywall.handle({
      method: c.req.method,
      url: `${url.pathname}${url.search}`,
      headers: Object.fromEntries(c.req.raw.headers),
    });
    if (outcome.kind === 'free') return next();
    if (outcome.kind !== 'paid') return c.body(outcome.body, outcome.status, outcome.headers);
    c.set('miteReceipt', outcome.receipt);
    try {
      await next();
    } catch (error) {
      outcome.settle(500);
      throw error;
    }
    // Hono's error handler has turned a throwing handler into a 500 by now.
    const { status } = c.res;
    outcome.settle(status);
    if (status >= 400) return undefined;
    for (const [name, value] of Object.entries(outcome.responseHeaders)) {
      // The handler's own caching rule wins; the paywall's only says "not shared" by default.
      if (name.toLowerCase() === 'cache-control' && c.res.headers.has(name)) continue;
      c.header(name, value);
    }
    return undefined;
  };
}
