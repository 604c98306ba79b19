/**
 * The session meter for `node:http`: `http.createServer(withSessionMeter(meter, handler))`, and
 * the plumbing the Express adapter shares. The handler gets the metered payment (or the paywall's
 * paid outcome) as its third argument; the response already carries `Payment-Receipt`, and its
 * status settles the payment when the response ends (a 5xx gives back what it was charged).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PaidOutcome } from '../core.ts';
import { trackPaidResponse } from '../node-http.ts';
import type { SessionPayment } from './metered-payment.ts';
import type { SessionAnswer } from './session-answers.ts';
import type { SessionMeter, SessionOutcome } from './session-meter.ts';

export type MeteredNodeHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  payment: SessionPayment | PaidOutcome | undefined,
) => void | Promise<void>;

/** Writes an answer of the meter's own (a 402, a refusal, a credential's receipt). */
export function sendSessionAnswer(
  request: IncomingMessage,
  response: ServerResponse,
  answer: SessionAnswer,
): void {
  response.writeHead(answer.status, answer.headers);
  response.end(request.method === 'HEAD' || answer.status === 204 ? undefined : answer.body);
}

/**
 * Sets a metered response's headers and settles the payment when the response ends: with its
 * status, or as failed when it closed before a head was written.
 */
export function trackSessionResponse(response: ServerResponse, payment: SessionPayment): void {
  for (const [name, value] of Object.entries(payment.responseHeaders)) {
    response.setHeader(name, value);
  }
  response.once('close', () => payment.settle(response.headersSent ? response.statusCode : 500));
}

/**
 * The outcome's plumbing: answers what the meter answers, sets up the paid and metered responses.
 * Answers the payment to hand to the handler, or `false` once the response has been sent.
 */
export function prepareResponse(
  request: IncomingMessage,
  response: ServerResponse,
  outcome: SessionOutcome,
): SessionPayment | PaidOutcome | undefined | false {
  switch (outcome.kind) {
    case 'free':
      return undefined;
    case 'answer':
      sendSessionAnswer(request, response, outcome);
      return false;
    case 'paid':
      trackPaidResponse(response, outcome);
      return outcome;
    case 'session':
      trackSessionResponse(response, outcome);
      return outcome;
  }
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
 * Wraps a request handler: unpaid metered requests get a 402, credentials delivered on HEAD and
 * closes are answered here, and metered ones reach the handler with their payment.
 */
export function withSessionMeter(
  meter: SessionMeter,
  handler: MeteredNodeHandler,
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  return async (request, response) => {
    try {
      const outcome = await meter.handle({
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        headers: request.headers,
      });
      const payment = prepareResponse(request, response, outcome);
      if (payment !== false) await handler(request, response, payment);
    } catch (error) {
      failed(response, error);
    }
  };
}
