/**
 * The framework-free paywall: decides, for one request, whether it is free, priced and unpaid
 * (402 with a fresh challenge), paid (a verified receipt), or refused. The adapters beside this
 * file only translate requests and outcomes for node:http, Express, Fastify and Hono.
 *
 * Verification is offline and stateless but for the replay store: the challenge id is an HMAC the
 * merchant recomputes, the receipt a JWS checked against the platform's cached JWKS.
 */
import {
  type Challenge,
  challengeIdMatches,
  type Credential,
  challengeLifetimeSecondsMax,
  challengeSecretLengthMin,
  checkReceiptBinding,
  clockSkewSecondsMax,
  currency,
  encodeBase64urlJson,
  encodeX402Header,
  encodeX402PaymentResponse,
  excerpt,
  formatChallengeHeader,
  formatPaymentReceiptHeader,
  formatPriceList,
  issueChallenge,
  parseAmount,
  type PaymentRequest,
  priceListPath,
  type ProblemDetails,
  problemDetails,
  problemMediaType,
  problemTable,
  type ProtocolErrorCode,
  type ReceiptClaims,
  refused,
  type Refusal,
  requestEncodedLengthMax,
  resourceLengthMax,
  toX402PaymentRequired,
} from '@mite/protocol';
import { readCredential, wantsX402, type X402Mode } from './credential-source.ts';
import {
  createReceiptVerifier,
  jwksRefreshIntervalMinMs,
  type ReceiptVerifier,
} from './receipt-verifier.ts';
import { createMemoryReplayStore, type ReplayStore } from './replay-store.ts';
import { createRouteTable, type PricedRoute, type RouteMatch, type RouteTable } from './routes.ts';

/** How long a challenge stays payable when the options do not say. */
export const challengeTtlSecondsDefault = 300;
/**
 * How long after its challenge expires (plus clock skew) a single-use receipt may still be
 * presented: time for a client that paid at the last moment to retry. The replay store holds the
 * receipt exactly that long, after which it is refused by its times.
 */
export const singleUseRedeemGraceSeconds = 300;
/** How long clients and caches may keep the price list. */
export const priceListMaxAgeSeconds = 300;

export type PaywallHeaders = Readonly<Record<string, string>>;

export interface PaywallRequest {
  readonly method: string;
  /** The request target as received: path and query ("/articles/42?lang=fr"). */
  readonly url: string;
  /** Header names in lower case, as node:http gives them (other cases are found, more slowly). */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

export interface PaywallOptions {
  /** The platform's merchant id, which receipts must name. */
  readonly merchantId: string;
  /** The challenge's realm: a name for the site, printable ASCII. */
  readonly realm: string;
  /** The platform's base URL, where clients pay ("http://127.0.0.1:8080"). */
  readonly platformUrl: string;
  /** The HMAC key of challenge ids, at least 32 bytes; keep it secret and stable. */
  readonly challengeSecret: Uint8Array;
  /** Secrets retired in the last challenge lifetime, still accepted so that rotation is seamless. */
  readonly previousChallengeSecrets?: readonly Uint8Array[];
  /** Defaults to `${platformUrl}/v1/keys`. */
  readonly jwksUrl?: string;
  readonly jwksRefreshIntervalMinMs?: number;
  /** Milliseconds since the epoch. */
  readonly clock?: () => number;
  readonly fetch?: typeof fetch;
  readonly challengeTtlSeconds?: number;
  readonly routes?: readonly PricedRoute[];
  /**
   * The site's public origin ("https://news.example"). When set, a resource is that origin
   * followed by the request target; otherwise it is the request target alone.
   */
  readonly origin?: string;
  /** Where spent single-use receipts are remembered; in memory by default. */
  readonly replayStore?: ReplayStore;
  /** When a 402 also carries the x402 `PAYMENT-REQUIRED` header; see credential-source.ts. */
  readonly x402?: X402Mode;
}

/** Every refusal: the protocol's codes, and the platform's keys being out of reach. */
export type PaywallErrorCode = ProtocolErrorCode | 'keysUnavailable';

export interface PaidOutcome {
  readonly kind: 'paid';
  readonly receipt: ReceiptClaims;
  /** Whether the receipt was spent by this request (access period 0) or is a reusable ticket. */
  readonly singleUse: boolean;
  /** `Payment-Receipt`, `Cache-Control: private`, and `PAYMENT-RESPONSE` for x402 clients. */
  readonly responseHeaders: PaywallHeaders;
  /** Reports the handler's status; a 5xx gives a single-use receipt back for a retry. */
  settle(status: number): void;
}

export type PaywallOutcome =
  | { readonly kind: 'free' }
  | {
      readonly kind: 'priceList';
      readonly status: 200;
      readonly headers: PaywallHeaders;
      readonly body: string;
    }
  | {
      readonly kind: 'paymentRequired';
      readonly status: 402;
      readonly headers: PaywallHeaders;
      readonly body: string;
      readonly problem: ProblemDetails;
    }
  | PaidOutcome
  | {
      readonly kind: 'error';
      readonly status: 400 | 402 | 503;
      readonly code: PaywallErrorCode;
      readonly headers: PaywallHeaders;
      readonly body: string;
      readonly problem: ProblemDetails;
    };

export interface Paywall {
  handle(request: PaywallRequest): Promise<PaywallOutcome>;
}

interface Config {
  readonly merchantId: string;
  readonly realm: string;
  readonly platformUrl: string;
  /** The secret new challenges are issued under. */
  readonly secret: Uint8Array;
  /** Every secret a presented challenge may have been issued under, the current one first. */
  readonly secrets: readonly Uint8Array[];
  readonly clock: () => number;
  readonly ttlSeconds: number;
  readonly routes: RouteTable;
  readonly origin: string | undefined;
  readonly replayStore: ReplayStore;
  readonly verifier: ReceiptVerifier;
  readonly x402: X402Mode;
  readonly jwksRetryAfterSeconds: number;
}

/** What this request costs, decided before any credential is looked at. */
interface Offer {
  readonly request: PaymentRequest;
  readonly headerDescription: string | undefined;
  readonly x402: boolean;
  readonly nowSeconds: number;
}

type Verdict =
  | {
      readonly ok: true;
      readonly claims: ReceiptClaims;
      readonly challenge: Challenge;
      readonly singleUse: boolean;
      readonly deadlineSeconds: number;
    }
  | { readonly ok: false; readonly code: PaywallErrorCode; readonly detail: string };

const printableAscii = /^[\x20-\x7e]+$/;
const requestTarget = /^\/[\x21-\x7e]*$/;

function sameAmount(left: string, right: string): boolean {
  const leftMicros = parseAmount(left);
  const rightMicros = parseAmount(right);
  return leftMicros.ok && rightMicros.ok && leftMicros.value === rightMicros.value;
}

/** What is sold: the request target as received, after the origin when one is configured. */
function resourceOf(config: Config, url: string): { ok: true; value: string } | Refusal {
  if (!requestTarget.test(url)) {
    return refused('badUrl', 'a priced request target is visible ASCII from "/"');
  }
  const resource = config.origin === undefined ? url : `${config.origin}${url}`;
  if (resource.length > resourceLengthMax) {
    return refused('valueTooLong', `a priced URL is at most ${resourceLengthMax} characters`);
  }
  return { ok: true, value: resource };
}

function offerFor(
  config: Config,
  match: RouteMatch,
  request: PaywallRequest,
  nowSeconds: number,
): Offer | Refusal {
  const resource = resourceOf(config, request.url);
  if (!resource.ok) return resource;
  const { route } = match;
  const path = request.url.split('?', 1)[0] ?? request.url;
  const amount = config.routes.priceOf(match, {
    method: request.method.toUpperCase(),
    url: request.url,
    path,
    headers: request.headers,
    params: match.params,
  });
  const paymentRequest: PaymentRequest = {
    amount,
    currency,
    merchant: config.merchantId,
    resource: resource.value,
    platform: config.platformUrl,
    accessPeriodSeconds: route.accessPeriodSeconds ?? 0,
    ...(route.description === undefined ? {} : { description: route.description }),
    ...(route.category === undefined ? {} : { category: route.category }),
  };
  // Quotes and backslashes in a URL double in JSON: check before issueChallenge would throw.
  if (encodeBase64urlJson(paymentRequest).length > requestEncodedLengthMax) {
    return refused('valueTooLong', 'this URL is too long to be sold');
  }
  const ascii = route.description !== undefined && printableAscii.test(route.description);
  return {
    request: paymentRequest,
    headerDescription: ascii ? route.description : undefined,
    x402: wantsX402(config.x402, request),
    nowSeconds,
  };
}

function challengeHeaders(config: Config, offer: Offer): Record<string, string> {
  const challenge = issueChallenge({
    secret: config.secret,
    realm: config.realm,
    request: offer.request,
    expiresAtSeconds: offer.nowSeconds + config.ttlSeconds,
    ...(offer.headerDescription === undefined ? {} : { description: offer.headerDescription }),
  });
  const headers: Record<string, string> = { 'WWW-Authenticate': formatChallengeHeader(challenge) };
  if (offer.x402) {
    const required = toX402PaymentRequired(challenge, { url: offer.request.resource });
    headers['PAYMENT-REQUIRED'] = encodeX402Header(required);
  }
  return headers;
}

/** A refusal as an outcome: 402s carry a fresh challenge, 400s and 503s do not. */
function refusalOutcome(
  config: Config,
  offer: Offer | undefined,
  code: PaywallErrorCode,
  detail: string,
): PaywallOutcome {
  const problem: ProblemDetails =
    code === 'keysUnavailable'
      ? { type: 'about:blank', title: 'Service Unavailable', status: 503, detail }
      : problemDetails(code, detail);
  const status = code === 'keysUnavailable' ? 503 : problemTable[code].status;
  const headers: Record<string, string> = {
    'Content-Type': problemMediaType,
    'Cache-Control': 'no-store',
    ...(status === 402 && offer !== undefined ? challengeHeaders(config, offer) : {}),
    ...(status === 503 ? { 'Retry-After': String(config.jwksRetryAfterSeconds) } : {}),
  };
  const body = JSON.stringify(problem);
  if (code === 'paymentRequired')
    return { kind: 'paymentRequired', status: 402, headers, body, problem };
  return { kind: 'error', status, code, headers, body, problem };
}

/** The echoed challenge: issued here (HMAC), for this site, and for what this request costs now. */
function checkEcho(config: Config, challenge: Challenge, offer: Offer): Refusal | undefined {
  if (!config.secrets.some((secret) => challengeIdMatches(challenge, secret))) {
    return refused('invalidChallenge', 'the challenge was not issued here, or was altered');
  }
  const { request } = challenge;
  if (challenge.realm !== config.realm || request.platform !== config.platformUrl) {
    return refused('invalidChallenge', 'the challenge was issued for another realm or platform');
  }
  if (request.merchant !== config.merchantId) {
    return refused('wrongMerchant', `the challenge is for merchant ${excerpt(request.merchant)}`);
  }
  if (request.resource !== offer.request.resource) {
    return refused('wrongResource', `the challenge is for ${excerpt(request.resource)}`);
  }
  if (request.currency !== currency) {
    return refused('wrongCurrency', `the challenge is in ${request.currency}`);
  }
  if (!sameAmount(request.amount, offer.request.amount)) {
    return refused(
      'wrongAmount',
      `the challenge asks ${request.amount}, the price is now ${offer.request.amount}`,
    );
  }
  return undefined;
}

/**
 * The receipt against the challenge, by the protocol's `checkReceiptBinding`. A single-use
 * receipt (access period 0) is judged open until its redemption deadline, which rests on signed
 * data (the payment time) so that echoing a fresher challenge cannot extend it. A ticket (access
 * period above 0) opens its resource until `accessUntil` whichever current challenge it is shown
 * with: `challengeMismatch` comes last, so every other check has passed by then.
 */
function judge(
  config: Config,
  claims: ReceiptClaims,
  challenge: Challenge,
  nowSeconds: number,
): Verdict {
  const singleUse =
    challenge.request.accessPeriodSeconds === 0 || claims.accessUntil <= claims.issuedAt;
  const deadlineSeconds =
    Math.min(challenge.expiresAtSeconds, claims.issuedAt + config.ttlSeconds) +
    clockSkewSecondsMax +
    singleUseRedeemGraceSeconds;
  const judged = singleUse ? { ...claims, accessUntil: deadlineSeconds } : claims;
  const bound = checkReceiptBinding(judged, challenge, { nowSeconds });
  if (!bound.ok && !(bound.code === 'challengeMismatch' && !singleUse)) return bound;
  return { ok: true, claims, challenge, singleUse, deadlineSeconds };
}

async function verifyCredential(
  config: Config,
  credential: Credential,
  offer: Offer,
): Promise<Verdict> {
  const echoDefect = checkEcho(config, credential.challenge, offer);
  if (echoDefect !== undefined) return echoDefect;
  const verified = await config.verifier.verify(credential.payload.receipt);
  if (!verified.ok) return verified;
  return judge(config, verified.claims, credential.challenge, offer.nowSeconds);
}

// Merchant-scoped, so that one shared store can serve several merchants.
function replayKey(claims: ReceiptClaims): string {
  return `mite-receipt:${claims.merchantId}:${claims.paymentId}`;
}

function settlement(store: ReplayStore, key: string | undefined): (status: number) => void {
  let settled = false;
  return (status) => {
    if (settled) return;
    settled = true;
    if (key === undefined || status < 500) return;
    try {
      void Promise.resolve(store.release(key)).catch(() => undefined);
    } catch {
      // The client has its answer already; a lost release costs it only the free retry, and a
      // shared store's failures show in that store's own monitoring.
    }
  };
}

async function redeem(
  config: Config,
  offer: Offer,
  credential: Credential,
  viaX402: boolean,
): Promise<PaywallOutcome> {
  const verdict = await verifyCredential(config, credential, offer);
  if (!verdict.ok) return refusalOutcome(config, offer, verdict.code, verdict.detail);
  const { claims, challenge, singleUse } = verdict;
  const key = singleUse ? replayKey(claims) : undefined;
  if (key !== undefined && !(await config.replayStore.claim(key, verdict.deadlineSeconds * 1000))) {
    return refusalOutcome(config, offer, 'receiptReplayed', 'this single-use receipt was used');
  }
  const receipt = {
    status: 'success',
    method: 'mite',
    timestampSeconds: claims.issuedAt,
    reference: claims.paymentId,
    challengeId: claims.challengeId ?? challenge.id,
    accessUntilSeconds: claims.accessUntil,
  } as const;
  const responseHeaders: Record<string, string> = {
    'Payment-Receipt': formatPaymentReceiptHeader(receipt),
    'Cache-Control': 'private',
  };
  if (viaX402 || offer.x402) {
    responseHeaders['PAYMENT-RESPONSE'] = encodeX402PaymentResponse(receipt, {
      platform: config.platformUrl,
      payer: claims.payer,
    });
  }
  return {
    kind: 'paid',
    receipt: claims,
    singleUse,
    responseHeaders,
    settle: settlement(config.replayStore, key),
  };
}

function priceListOutcome(config: Config): PaywallOutcome {
  const body = formatPriceList({
    realm: config.realm,
    merchant: config.merchantId,
    platform: config.platformUrl,
    currency,
    routes: config.routes.list(),
  });
  const headers = {
    'Content-Type': 'application/json',
    'Cache-Control': `public, max-age=${priceListMaxAgeSeconds}`,
  };
  return { kind: 'priceList', status: 200, headers, body };
}

async function handle(config: Config, request: PaywallRequest): Promise<PaywallOutcome> {
  const nowSeconds = Math.floor(config.clock() / 1000);
  const method = request.method.toUpperCase();
  const path = request.url.split('?', 1)[0] ?? request.url;
  if ((method === 'GET' || method === 'HEAD') && path === priceListPath) {
    return priceListOutcome(config);
  }
  const match = config.routes.match(method, path);
  if (match === undefined) return { kind: 'free' };
  const offer = offerFor(config, match, request, nowSeconds);
  if ('ok' in offer) return refusalOutcome(config, undefined, offer.code, offer.detail);
  const presented = readCredential(config.x402, request);
  switch (presented.kind) {
    case 'none':
      return refusalOutcome(
        config,
        offer,
        'paymentRequired',
        `${offer.request.resource} costs ${offer.request.amount} ${currency}`,
      );
    case 'malformed':
      return refusalOutcome(config, offer, presented.code, presented.detail);
    case 'credential':
      return redeem(config, offer, presented.credential, presented.via === 'x402');
  }
}

function checkOptions(options: PaywallOptions): void {
  for (const secret of [options.challengeSecret, ...(options.previousChallengeSecrets ?? [])]) {
    if (!(secret instanceof Uint8Array) || secret.length < challengeSecretLengthMin) {
      throw new RangeError(`a challenge secret is at least ${challengeSecretLengthMin} bytes`);
    }
  }
  const ttlSeconds = options.challengeTtlSeconds ?? challengeTtlSecondsDefault;
  if (
    !Number.isSafeInteger(ttlSeconds) ||
    ttlSeconds < 1 ||
    ttlSeconds > challengeLifetimeSecondsMax
  ) {
    throw new RangeError(`challengeTtlSeconds is 1 to ${challengeLifetimeSecondsMax}`);
  }
  if (options.origin !== undefined) {
    const origin = new URL(options.origin);
    if (!['http:', 'https:'].includes(origin.protocol) || origin.origin !== options.origin) {
      throw new RangeError('origin is an http(s) origin without path or trailing slash');
    }
  }
}

function defaultJwksUrl(platformUrl: string): string {
  return `${platformUrl.replace(/\/+$/, '')}/v1/keys`;
}

/**
 * Creates a paywall. Options the wire cannot carry (a short secret, a bad price or realm, a route
 * priced twice) are configuration errors and throw here, not on the first request.
 */
export function createPaywall(options: PaywallOptions): Paywall {
  checkOptions(options);
  const clock = options.clock ?? Date.now;
  const refreshIntervalMinMs = options.jwksRefreshIntervalMinMs ?? jwksRefreshIntervalMinMs;
  const config: Config = {
    merchantId: options.merchantId,
    realm: options.realm,
    platformUrl: options.platformUrl,
    secret: options.challengeSecret,
    secrets: [options.challengeSecret, ...(options.previousChallengeSecrets ?? [])],
    clock,
    ttlSeconds: options.challengeTtlSeconds ?? challengeTtlSecondsDefault,
    routes: createRouteTable(options.routes ?? []),
    origin: options.origin,
    replayStore: options.replayStore ?? createMemoryReplayStore({ clock }),
    verifier: createReceiptVerifier({
      jwksUrl: new URL(options.jwksUrl ?? defaultJwksUrl(options.platformUrl)).href,
      fetch: options.fetch ?? globalThis.fetch,
      clock,
      refreshIntervalMinMs,
    }),
    x402: options.x402 ?? 'onRequest',
    jwksRetryAfterSeconds: Math.max(1, Math.ceil(refreshIntervalMinMs / 1000)),
  };
  // Realm, merchant id and platform URL are checked by the price list's schema.
  priceListOutcome(config);
  return { handle: (request) => handle(config, request) };
}
