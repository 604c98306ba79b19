/**
 * Idempotency-Key on the routes that opt in (`config: { idempotent: true }`, mutating methods
 * only): a retry of a request gets the first response again, byte for byte, instead of running
 * twice; the same key on a different request is refused.
 *
 * - preValidation: the key must be present and valid; the request hash is taken from the body as
 *   the client sent it (canonical JSON), before the schema strips or transforms anything, so that
 *   any difference in what was sent is a different request.
 * - preHandler (after validation and auth, so that a refused request uses up no key, as Stripe
 *   does): `begin`; a replay is answered here, with `Idempotent-Replayed: true`.
 * - onSend: 2xx to 4xx responses are kept (`complete`); 5xx ones are forgotten (`abandon`) so that
 *   a retry runs again.
 *
 * A route declared `idempotent: 'inHandler'` (a purchase) takes a checked key and keeps no record
 * here: its handler makes the request idempotent in its own records (see route-config.ts).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '@mite/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {
  IdempotencyBeginInput,
  IdempotencyBeginOutcome,
  IdempotencyGuard,
} from './idempotency.ts';
import { ProblemError } from './problems.ts';
import { mutatingMethods } from './route-config.ts';

export const idempotencyKeyHeader = 'idempotency-key';
export const idempotentReplayedHeader = 'idempotent-replayed';

/** 1 to 255 visible ASCII characters: no spaces, no control characters. */
const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;

/** Response headers not kept for replay: per-connection, per-moment, or secret (cookies). */
const unreplayedHeaders: ReadonlySet<string> = new Set([
  'connection',
  'content-length',
  'date',
  'keep-alive',
  'transfer-encoding',
  'set-cookie',
  'retry-after',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  idempotentReplayedHeader,
]);

interface IdempotencyState {
  readonly principal: string;
  readonly key: string;
  readonly requestHash: string;
  /** checked: key valid; started: begun, to be completed or abandoned; settled: done. */
  phase: 'checked' | 'started' | 'settled';
}

const states = new WeakMap<FastifyRequest, IdempotencyState>();

/**
 * What a retry must match: the method, the path and the body as canonical JSON (the protocol's,
 * RFC 8785 member order), so that key order alone never makes a different request.
 */
export function requestHashOf(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method}\n${path}\n${body === undefined ? '' : canonicalJson(body)}`)
    .digest('hex');
}

function takesIdempotencyKey(request: FastifyRequest): boolean {
  const { idempotent } = request.routeOptions.config;
  const declared = idempotent === true || idempotent === 'inHandler';
  return declared && mutatingMethods.has(request.method);
}

function checkKey(request: FastifyRequest): void {
  if (!takesIdempotencyKey(request)) return;
  const key = request.headers[idempotencyKeyHeader];
  if (key === undefined) throw new ProblemError('idempotencyKeyRequired');
  // Several Idempotency-Key headers arrive joined by ", ", which the pattern refuses.
  if (typeof key !== 'string' || !idempotencyKeyPattern.test(key)) {
    throw new ProblemError('idempotencyKeyInvalid');
  }
  // The handler of an `inHandler` route keeps the request idempotent itself.
  if (request.routeOptions.config.idempotent === 'inHandler') return;
  states.set(request, {
    principal: request.principalId ?? `anonymous:${request.ip}`,
    key,
    requestHash: requestHashOf(request.method, request.url, request.body),
    phase: 'checked',
  });
}

async function begin(
  guard: IdempotencyGuard,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply | undefined> {
  const state = states.get(request);
  if (state === undefined) return undefined;
  return answerBegun(state, await guard.begin(beginInput(state, request)), reply);
}

function beginInput(state: IdempotencyState, request: FastifyRequest): IdempotencyBeginInput {
  const { principal, key, requestHash } = state;
  return { principal, key, method: request.method, path: request.url, requestHash };
}

/** Goes on with a request that holds the key; answers a replay; refuses the others. */
function answerBegun(
  state: IdempotencyState,
  outcome: IdempotencyBeginOutcome,
  reply: FastifyReply,
): FastifyReply | undefined {
  switch (outcome.outcome) {
    case 'started':
      state.phase = 'started';
      return undefined;
    case 'replay':
      state.phase = 'settled';
      reply.code(outcome.status).headers(outcome.headers);
      reply.header(idempotentReplayedHeader, 'true');
      return reply.send(outcome.body);
    case 'mismatch':
      throw new ProblemError('idempotencyKeyReused');
    case 'inProgress':
      throw new ProblemError('idempotencyRequestInProgress');
  }
}

function replayableHeaders(reply: FastifyReply): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value === undefined || unreplayedHeaders.has(name.toLowerCase())) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return headers;
}

function payloadText(payload: unknown): string | undefined {
  if (typeof payload === 'string') return payload;
  return Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined;
}

/**
 * Keeps or forgets the response of a started request. A store failure is logged, not sent: the
 * effect has happened and the client should learn its outcome; the record stays `started` until
 * the store's lease lets a retry take over, which is safer than abandoning an effect that ran.
 */
async function settle(
  guard: IdempotencyGuard,
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): Promise<void> {
  const state = states.get(request);
  if (state?.phase !== 'started') return;
  state.phase = 'settled';
  const { principal, key } = state;
  const body = payloadText(payload);
  try {
    if (reply.statusCode >= 500 || body === undefined) {
      await guard.abandon({ principal, key });
    } else {
      const headers = replayableHeaders(reply);
      await guard.complete({ principal, key, status: reply.statusCode, headers, body });
    }
  } catch (error) {
    request.log.error({ err: error }, 'idempotency store failed to settle a request');
  }
}

export function installIdempotency(app: FastifyInstance, guard: IdempotencyGuard): void {
  app.addHook('preValidation', async (request) => checkKey(request));
  app.addHook('preHandler', async (request, reply) => begin(guard, request, reply));
  app.addHook('onSend', async (request, reply, payload) => {
    await settle(guard, request, reply, payload);
    return payload;
  });
  // A started request whose response never went through onSend (a broken stream): forget it.
  app.addHook('onResponse', async (request, reply) => settle(guard, request, reply, undefined));
}
