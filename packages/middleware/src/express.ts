/**
 * The paywall as Express middleware: `app.use(expressPaywall(paywall))` before the routes. A paid
 * request reaches the route with the verified receipt on `req.miteReceipt` and
 * `res.locals.miteReceipt`, and its response carries `Payment-Receipt`.
 */
import type { ReceiptClaims } from '@mite/protocol';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Paywall } from './core.ts';
import { sendPaywallAnswer, trackPaidResponse } from './node-http.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** The platform's receipt for this request, when the paywall let it through as paid. */
    miteReceipt?: ReceiptClaims;
  }
}

export function expressPaywall(paywall: Paywall): RequestHandler {
  // Express 5 passes a rejection of this promise to the error handlers.
  return async (request: Request, response: Response, next: NextFunction): Promise<void> => {
    // originalUrl: the target as received, whatever router this middleware is mounted under.
    const outcome = await paywall.handle({
      method: request.method,
      url: request.originalUrl,
      headers: request.headers,
    });
    switch (outcome.kind) {
      case 'free':
        return next();
      case 'paid':
        request.miteReceipt = outcome.receipt;
        response.locals['miteReceipt'] = outcome.receipt;
        trackPaidResponse(response, outcome);
        return next();
      default:
        return sendPaywallAnswer(request, response, outcome);
    }
  };
}
