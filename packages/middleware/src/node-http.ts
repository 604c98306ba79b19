/**
 * The paywall for `node:http`: `http.createServer(withPaywall(paywall, handler))`. Also the
 * response plumbing the Express adapter shares, since an Express response is a node response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PaidOutcome, Paywall, PaywallOutcome } from './core.ts';

export type NodeHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  paid: PaidOutcome | undefined,
) => void | Promise<void>;

/** Writes a paywall answer (402, 400, 503 or the price list) and ends the response. */
export function sendPaywallAnswer(
  request: IncomingMessage,
  response: ServerResponse,
  outcome: Exclude<PaywallOutcome, { kind: 'free' } | { kind: 'paid' }>,
): void {
  response.writeHead(outcome.status, outcome.headers);
  response.end(request.method === 'HEAD' ? undefined : outcome.body);
}

/**
 * Sets the paid headers and watches the response for the status the handler chose: the receipt
 * headers are taken off an error response (the protocol sends them with the resource only), and
 * `settle` hears the status as the head is written, before the client can read it and retry. A
 * response closed before any head was written delivered nothing and settles as a failure.
 */
export function trackPaidResponse(response: ServerResponse, paid: PaidOutcome): void {
  for (const [name, value] of Object.entries(paid.responseHeaders)) response.setHeader(name, value);
  const writeHead = response.writeHead;
  // Every head, implicit ones included (node writes those through writeHead), passes here.
  response.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const status = typeof args[0] === 'number' ? args[0] : this.statusCode;
    if (status >= 400) {
      for (const name of Object.keys(paid.responseHeaders)) {
        if (name.toLowerCase() !== 'cache-control') this.removeHeader(name);
      }
    }
    paid.settle(status);
    return Reflect.apply(writeHead, this, args) as ServerResponse;
  } as ServerResponse['writeHead'];
  // Only a single-use receipt has a claim to give back; a ticket's settle does nothing, and a
  // listener per request is not free on a route that answers thousands a second.
  if (!paid.singleUse) return;
  response.once('close', () => {
    if (!response.headersSent) paid.settle(500);
  });
}

function failed(response: ServerResponse, error: unknown): void {
  if (!response.headersSent) {
    response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
    response.end('Internal Server Error');
  } else {
    response.destroy(error instanceof Error ? error : undefined);
  }
}

/**
 * Wraps a request handler: unpaid priced requests get a 402, paid ones reach the handler with
 * the verified receipt (third argument) and `Payment-Receipt` already set. A handler that throws
 * or rejects answers 500, which gives a single-use receipt back.
 */
export function withPaywall(
  paywall: Paywall,
  handler: NodeHandler,
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  return async (request, response) => {
    try {
      const outcome = await paywall.handle({
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        headers: request.headers,
      });
      if (outcome.kind === 'free') return await handler(request, response, undefined);
      if (outcome.kind !== 'paid') return sendPaywallAnswer(request, response, outcome);
      trackPaidResponse(response, outcome);
      await handler(request, response, outcome);
    } catch (error) {
      failed(response, error);
    }
  };
}
