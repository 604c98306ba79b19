/**
 * The session meter as Express middleware: `app.use(expressSessionMeter(meter))` before the
 * routes. A metered request reaches its route with the payment on `req.miteSession` (and
 * `res.locals.miteSession`); a one-off purchase, when the meter has a paywall, on `req.miteReceipt`
 * as `expressPaywall` puts it.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { SessionPayment } from './metered-payment.ts';
import { prepareResponse } from './node-http.ts';
import type { SessionMeter } from './session-meter.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** The session paying for this request, when the meter let it through. */
    miteSession?: SessionPayment;
  }
}

export function expressSessionMeter(meter: SessionMeter): RequestHandler {
  return async (request: Request, response: Response, next: NextFunction): Promise<void> => {
    const outcome = await meter.handle({
      method: request.method,
      url: request.originalUrl,
      headers: request.headers,
    });
    const payment = prepareResponse(request, response, outcome);
    if (payment === false) return;
    if (payment?.kind === 'session') {
      request.miteSession = payment;
      response.locals['miteSession'] = payment;
    } else if (payment?.kind === 'paid') {
      request.miteReceipt = payment.receipt;
      response.locals['miteReceipt'] = payment.receipt;
    }
    next();
  };
}
