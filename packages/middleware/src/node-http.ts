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
 * Whether the first `count` raw field pairs name this header, compared case-insensitively as HTTP
 * compares names.
 */
function namesField(fields: readonly unknown[], count: number, name: string): boolean {
  for (let index = 0; index < 2 * count; index += 2) {
    const other = fields[index] as string;
    if (other.length === name.length && other.toLowerCase() === name.toLowerCase()) return true;
  }
  return false;
}

/**
 * Appends the paid headers this head gets to `fields` (raw name and value pairs, the handler's
 * first): all of them on a success, only `Cache-Control` on an error (the protocol sends the
 * receipt with the resource only), and never one the handler set itself. Answers whether it
 * appended any.
 */
function appendPaidFields(
  response: ServerResponse,
  paid: PaidOutcome,
  status: number,
  fields: unknown[],
): boolean {
  const handlerFieldCount = fields.length / 2;
  let appended = false;
  // for-in rather than Object.keys, here and below: no array made per head.
  for (const name in paid.responseHeaders) {
    if (status >= 400 && name.toLowerCase() !== 'cache-control') continue;
    if (response.hasHeader(name) || namesField(fields, handlerFieldCount, name)) continue;
    fields.push(name, paid.responseHeaders[name] as string);
    appended = true;
  }
  return appended;
}

/**
 * `writeHead`'s arguments with the paid headers added. They go into the field list the head is
 * written from rather than through `setHeader`: node keeps `setHeader`'s fields in a dictionary
 * object and writes them by a slower path, which a paid route would pay on every request. The list
 * is raw name and value pairs, which node writes as it writes an object's fields, without a new
 * object shape per head. Raw pairs from the handler (rare) take `setHeader` for the paid headers,
 * since node merges the handler's pairs over those.
 */
function withPaidFields(
  response: ServerResponse,
  paid: PaidOutcome,
  status: number,
  args: readonly unknown[],
): readonly unknown[] {
  const [statusCode, reason] = args;
  const hasReason = typeof reason === 'string';
  const given: unknown = hasReason ? args[2] : (args[2] ?? reason);
  const fields: unknown[] = [];
  if (
    given !== undefined &&
    given !== null &&
    (typeof given !== 'object' || Array.isArray(given))
  ) {
    appendPaidFields(response, paid, status, fields);
    for (let index = 0; index < fields.length; index += 2) {
      response.setHeader(fields[index] as string, fields[index + 1] as string);
    }
    return args;
  }
  const handlerFields = (given ?? {}) as Readonly<Record<string, unknown>>;
  // Own fields only, as node writes them.
  for (const name in handlerFields) {
    if (Object.hasOwn(handlerFields, name)) fields.push(name, handlerFields[name]);
  }
  if (!appendPaidFields(response, paid, status, fields)) return args;
  return hasReason ? [statusCode, reason, fields] : [statusCode, fields];
}

/** What a paid response's `writeHead` needs, kept on the response under symbols. */
const paidOutcomeKey = Symbol('mite.paidOutcome');
const innerWriteHeadKey = Symbol('mite.innerWriteHead');

type PaidResponse = ServerResponse & {
  [paidOutcomeKey]: PaidOutcome;
  [innerWriteHeadKey]: ServerResponse['writeHead'];
};

/**
 * A paid response's `writeHead`, one function for every response rather than a closure per
 * request. Every head, implicit ones included (node writes those through writeHead), passes here.
 */
function writePaidHead(this: PaidResponse, ...args: unknown[]): ServerResponse {
  const paid = this[paidOutcomeKey];
  const status = typeof args[0] === 'number' ? args[0] : this.statusCode;
  paid.settle(status);
  return Reflect.apply(
    this[innerWriteHeadKey],
    this,
    withPaidFields(this, paid, status, args),
  ) as ServerResponse;
}

/**
 * Watches the response for the status the handler chose and adds the paid headers to the head it
 * writes (`Payment-Receipt` on a success; a header the handler set itself wins); `settle` hears
 * the status as the head is written, before the client can read it and retry. A response closed
 * before any head was written delivered nothing and settles as a failure. The handler reads the
 * headers from `paid.responseHeaders`: they are not on the response before its head is written.
 */
export function trackPaidResponse(response: ServerResponse, paid: PaidOutcome): void {
  const tracked = response as PaidResponse;
  tracked[paidOutcomeKey] = paid;
  // Tracked twice, the response keeps one wrapper, answering for the later outcome.
  if (response.writeHead !== writePaidHead) tracked[innerWriteHeadKey] = response.writeHead;
  response.writeHead = writePaidHead as ServerResponse['writeHead'];
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
 * the verified receipt (third argument), and their head gets `Payment-Receipt`. A handler that
 * throws or rejects answers 500, which gives a single-use receipt back.
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
