/**
 * What the meter answers by itself: the 402 with a session challenge (beside the paywall's charge
 * challenge when the route also sells one-off access), refusals as RFC 9457 problems with the
 * protocol's types (402 with a fresh challenge, 410 for a session that is gone, 400, or 503 when
 * the platform's keys or the store fail the merchant), and the receipts of requests that only
 * deliver a credential (a voucher on HEAD, a close).
 */
import {
  formatAmount,
  formatSessionChallengeHeader,
  formatSessionReceiptHeader,
  issueSessionChallenge,
  type ProblemDetails,
  problemDetails,
  problemMediaType,
  type ProtocolErrorCode,
  paymentProblemTypes,
  problemTable,
  problemTypeBase,
  type SessionReceipt,
  type SessionRequest,
} from '@mite/protocol';
import type { PaywallHeaders, PaywallRequest } from '../core.ts';
import type { MeteredTerms } from './metered-routes.ts';
import type { SessionConfig } from './session-config.ts';
import type { StoredSession } from './session-store.ts';

/** Every refusal: the protocol's codes, the platform's keys out of reach, a full store. */
export type SessionErrorCode = ProtocolErrorCode | 'keysUnavailable' | 'sessionStoreFull';

export interface SessionAnswer {
  readonly kind: 'answer';
  readonly status: number;
  readonly headers: PaywallHeaders;
  readonly body: string;
  /** Set on refusals. */
  readonly code?: SessionErrorCode;
  readonly problem?: ProblemDetails;
}

/** What a metered request is offered, decided before its credential is read. */
export interface MeteredOffer {
  readonly terms: MeteredTerms;
  readonly resource: string;
  readonly request: SessionRequest;
  readonly nowSeconds: number;
  /** HEAD: a request that only delivers a credential; the handler never runs. */
  readonly head: boolean;
  /** The request itself, for the paywall's challenge beside the session's. */
  readonly original: PaywallRequest;
}

const printableAscii = /^[\x20-\x7e]+$/;

/** A fresh session challenge for the offer (the same one within one second, as a charge's). */
export function sessionChallengeHeader(
  config: SessionConfig,
  offer: MeteredOffer,
): {
  readonly id: string;
  readonly header: string;
} {
  const { description } = offer.terms.route;
  const challenge = issueSessionChallenge({
    secret: config.secret,
    realm: config.realm,
    request: offer.request,
    expiresAtSeconds: offer.nowSeconds + config.ttlSeconds,
    ...(description !== undefined && printableAscii.test(description) ? { description } : {}),
  });
  return { id: challenge.id, header: formatSessionChallengeHeader(challenge) };
}

/** The charge challenge headers of the paywall selling the same route, if it does. */
async function paywallChallenge(
  config: SessionConfig,
  offer: MeteredOffer,
): Promise<Readonly<Record<string, string>> | undefined> {
  if (config.paywall === undefined) return undefined;
  const { authorization: _credential, ...headers } = offer.original.headers;
  const outcome = await config.paywall.handle({ ...offer.original, headers });
  return outcome.kind === 'paymentRequired' ? outcome.headers : undefined;
}

/** The challenge headers of a 402: the paywall's (charge, x402) first, then the session's. */
async function challengeHeaders(
  config: SessionConfig,
  offer: MeteredOffer,
): Promise<{ readonly id: string; readonly headers: Record<string, string> }> {
  const session = sessionChallengeHeader(config, offer);
  const charge = await paywallChallenge(config, offer);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(charge ?? {})) {
    const lower = name.toLowerCase();
    if (lower === 'www-authenticate') continue;
    if (lower === 'payment-required') headers[name] = value;
  }
  const chargeHeader = charge?.['WWW-Authenticate'];
  headers['WWW-Authenticate'] =
    chargeHeader === undefined ? session.header : `${chargeHeader}, ${session.header}`;
  return { id: session.id, headers };
}

const problemHeaders = { 'Content-Type': problemMediaType, 'Cache-Control': 'no-store' };

/** An unpaid metered request: 402 and the challenges, with a problem a person can read. */
export async function paymentRequiredAnswer(
  config: SessionConfig,
  offer: MeteredOffer,
): Promise<SessionAnswer> {
  const { terms } = offer;
  const issued = await challengeHeaders(config, offer);
  const detail =
    `${offer.resource} is paid by the ${terms.route.unitType}, ` +
    `${formatAmount(terms.unitPriceMicros)} USD each, from a session opened at ${config.platformUrl}`;
  const problem = problemDetails('paymentRequired', detail, { challengeId: issued.id });
  return {
    kind: 'answer',
    status: 402,
    headers: { ...problemHeaders, ...issued.headers },
    body: JSON.stringify(problem),
    code: 'paymentRequired',
    problem,
  };
}

const badRequest = {
  type: `${problemTypeBase}bad-request`,
  ...paymentProblemTypes['bad-request'],
} as const;

/**
 * A refusal. A 402 carries fresh challenges (the draft's rule); a 410 (the session is gone) and
 * a 400 do not; the merchant's own trouble is a 503 with `Retry-After`.
 */
export async function refusalAnswer(
  config: SessionConfig,
  offer: MeteredOffer | undefined,
  code: SessionErrorCode,
  detail: string,
  extras: Readonly<Record<string, string>> = {},
): Promise<SessionAnswer> {
  if (code === 'keysUnavailable' || code === 'sessionStoreFull') {
    const problem = { type: 'about:blank', title: 'Service Unavailable', status: 503, detail };
    const headers = { ...problemHeaders, 'Retry-After': String(config.jwksRetryAfterSeconds) };
    return { kind: 'answer', status: 503, headers, body: JSON.stringify(problem), code, problem };
  }
  if (offer === undefined) {
    const problem = { ...problemDetails(code, detail), ...badRequest };
    return {
      kind: 'answer',
      status: 400,
      headers: problemHeaders,
      body: JSON.stringify(problem),
      code,
      problem,
    };
  }
  const issued =
    problemTable[code].status === 402 ? await challengeHeaders(config, offer) : undefined;
  const problem: ProblemDetails = {
    ...problemDetails(code, detail, issued === undefined ? {} : { challengeId: issued.id }),
    ...extras,
  };
  return {
    kind: 'answer',
    status: problem.status,
    headers: { ...problemHeaders, ...issued?.headers },
    body: JSON.stringify(problem),
    code,
    problem,
  };
}

/** The session's receipt: what it holds and has served, and the units of this response. */
export function receiptOf(
  session: StoredSession,
  units: number,
  nowSeconds: number,
): SessionReceipt {
  return {
    channelId: session.channelId,
    challengeId: session.challengeId,
    timestampSeconds: nowSeconds,
    acceptedCumulativeMicros: session.acceptedMicros,
    spentMicros: session.spentMicros,
    units,
    remainingMicros: session.depositMicros - session.spentMicros,
    final: session.state !== 'open',
  };
}

/** The headers a paid answer carries: its receipt, and no caching of what was paid by the unit. */
export function receiptHeaders(receipt: SessionReceipt): PaywallHeaders {
  return { 'Payment-Receipt': formatSessionReceiptHeader(receipt), 'Cache-Control': 'no-store' };
}

/** A request that delivered a credential only (a voucher on HEAD, a close): 204 and a receipt. */
export function deliveredAnswer(receipt: SessionReceipt): SessionAnswer {
  return { kind: 'answer', status: 204, headers: receiptHeaders(receipt), body: '' };
}
