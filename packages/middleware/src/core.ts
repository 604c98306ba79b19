/**
 * The framework-free paywall: decides, for one request, whether it is free, priced and unpaid
 * (402 with a fresh challenge), paid (a verified receipt), or refused. The adapters beside this
 * file only translate requests and outcomes for node:http, Express, Fastify and Hono.
 *
 * Verification is offline and stateless but for the replay store: the challenge id is an HMAC the
 * merchant recomputes, the receipt a JWS checked against the platform's cached JWKS. What the
 * credential text alone proves (it decodes, the HMAC holds, the signature verifies) is remembered
 * in a bounded cache (verified-cache.ts), so that a ticket shown again skips that work; every
 * check that depends on the request or the time runs on every request.
 */
import type { KeyObject } from 'node:crypto';
import {
  type Challenge,
  challengeIdMatches,
  challengeLifetimeSecondsMax,
  challengeSecretLengthMin,
  checkReceiptBinding,
  clockSkewSecondsMax,
  currency,
  encodeX402Header,
  encodeX402PaymentResponse,
  excerpt,
  formatChallengeHeader,
  formatPaymentReceiptHeader,
  formatPriceList,
  issueChallenge,
  parseAmount,
  type PaymentReceipt,
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
import {
  type CredentialSource,
  decodeCredentialText,
  type PaymentHeaders,
  readCredentialText,
  readPaymentHeaders,
  wantsX402,
  type X402Mode,
} from './credential-source.ts';
import {
  createReceiptVerifier,
  jwksRefreshIntervalMinMs,
  type ReceiptVerifier,
} from './receipt-verifier.ts';
import { createMemoryReplayStore, type ReplayStore } from './replay-store.ts';
import { createRouteTable, type PricedRoute, type RouteMatch, type RouteTable } from './routes.ts';
import {
  createVerifiedCache,
  type VerifiedCache,
  type VerifiedCacheEntry,
  verifiedCacheSizeMax,
} from './verified-cache.ts';

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
  /**
   * How many verified credentials are remembered (default `verifiedCacheSizeMax`, 10,000), so
   * that a ticket shown again skips decoding, the HMAC and the signature check; 0 turns it off.
   */
  readonly verifiedCacheSizeMax?: number;
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
  readonly verified: VerifiedCache<VerifiedCredential>;
  /** Per route, the UTF-8 length of its payment request's JSON with an empty resource and amount. */
  readonly requestJsonBase: ReadonlyMap<PricedRoute, number>;
  readonly x402: X402Mode;
  readonly jwksRetryAfterSeconds: number;
}

/**
 * What a credential's text proves once decoded, its challenge's HMAC checked and its receipt's
 * signature verified, none of which depends on the request or the time: cached under the text.
 */
interface VerifiedCredential extends VerifiedCacheEntry {
  /** Frozen: one object serves every request that shows the credential. */
  readonly claims: ReceiptClaims;
  readonly challenge: Challenge;
  /** The key that verified the receipt; the entry goes when the key set no longer holds it. */
  readonly kid: string;
  readonly key: KeyObject;
  readonly singleUse: boolean;
  /** A single-use receipt's redemption deadline (seconds), resting on signed data. */
  readonly deadlineSeconds: number;
  readonly paymentReceipt: PaymentReceipt;
  /** `Payment-Receipt` and `Cache-Control`, the same for every showing (frozen). */
  readonly responseHeaders: PaywallHeaders;
  /** With `PAYMENT-RESPONSE` as well, made the first time an x402 client needs it (frozen). */
  x402ResponseHeaders: PaywallHeaders | undefined;
}

/** What this request costs, decided before any credential is looked at. */
interface Offer {
  readonly request: PaymentRequest;
  readonly headerDescription: string | undefined;
  readonly x402: boolean;
  readonly nowSeconds: number;
}

type Verdict =
  | { readonly ok: true; readonly verified: VerifiedCredential }
  | { readonly ok: false; readonly code: PaywallErrorCode; readonly detail: string };

const printableAscii = /^[\x20-\x7e]+$/;
const requestTarget = /^\/[\x21-\x7e]*$/;

/** Whether two amounts are equal; `right` is valid (a price), so equal texts are equal amounts. */
function sameAmount(left: string, right: string): boolean {
  if (left === right) return true;
  const leftMicros = parseAmount(left);
  const rightMicros = parseAmount(right);
  return leftMicros.ok && rightMicros.ok && leftMicros.value === rightMicros.value;
}

/** The length of unpadded base64url of this many bytes. */
function base64urlLength(bytes: number): number {
  return Math.ceil((bytes * 4) / 3);
}

/**
 * `encodeBase64urlJson(value).length`, without encoding: canonical JSON is `JSON.stringify` with
 * sorted keys (see the protocol's canonical-json.ts), so it has the same UTF-8 length.
 */
export function encodedJsonLength(value: PaymentRequest): number {
  return base64urlLength(Buffer.byteLength(JSON.stringify(value), 'utf8'));
}

/** The JSON length of the route's payment requests but for their resource and amount. */
function requestJsonBase(config: Pick<Config, 'merchantId' | 'platformUrl'>, route: PricedRoute) {
  return Buffer.byteLength(JSON.stringify(paymentRequestOf(config, route, '', '')), 'utf8');
}

function paymentRequestOf(
  config: Pick<Config, 'merchantId' | 'platformUrl'>,
  route: PricedRoute,
  resource: string,
  amount: string,
): PaymentRequest {
  const request: {
    -readonly [Field in keyof PaymentRequest]: PaymentRequest[Field];
  } = {
    amount,
    currency,
    merchant: config.merchantId,
    resource,
    platform: config.platformUrl,
    accessPeriodSeconds: route.accessPeriodSeconds ?? 0,
  };
  if (route.description !== undefined) request.description = route.description;
  if (route.category !== undefined) request.category = route.category;
  return request;
}

/**
 * Whether this request is too long to go in a challenge. Every priced request asks, so the common
 * case is answered by a bound: the resource is visible ASCII (at most 2 bytes a character in JSON,
 * for `\"` and `\\`), the amount digits and a point; only a request near the limit is measured.
 */
function tooLongToSell(config: Config, route: PricedRoute, request: PaymentRequest): boolean {
  const base = config.requestJsonBase.get(route);
  if (base !== undefined) {
    const bound = base + 2 * request.resource.length + request.amount.length;
    if (base64urlLength(bound) <= requestEncodedLengthMax) return false;
  }
  return encodedJsonLength(request) > requestEncodedLengthMax;
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
  payment: PaymentHeaders,
  nowSeconds: number,
): Offer | Refusal {
  const resource = resourceOf(config, request.url);
  if (!resource.ok) return resource;
  const { route } = match;
  const amount =
    config.routes.fixedPriceOf(route) ??
    config.routes.priceOf(match, {
      method: request.method.toUpperCase(),
      url: request.url,
      path: request.url.split('?', 1)[0] ?? request.url,
      headers: request.headers,
      params: match.params,
    });
  const paymentRequest = paymentRequestOf(config, route, resource.value, amount);
  // Quotes and backslashes in a URL double in JSON: check before issueChallenge would throw.
  if (tooLongToSell(config, route, paymentRequest)) {
    return refused('valueTooLong', 'this URL is too long to be sold');
  }
  const ascii = route.description !== undefined && printableAscii.test(route.description);
  return {
    request: paymentRequest,
    headerDescription: ascii ? route.description : undefined,
    x402: wantsX402(config.x402, payment),
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

/** The echoed challenge was issued here, with these very fields (its HMAC, under any secret held). */
function checkIssued(config: Config, challenge: Challenge): Refusal | undefined {
  if (!config.secrets.some((secret) => challengeIdMatches(challenge, secret))) {
    return refused('invalidChallenge', 'the challenge was not issued here, or was altered');
  }
  return undefined;
}

/**
 * The echoed challenge, whose HMAC has been checked: for this site, and for what this request
 * costs now (resource, merchant, currency, current price). Runs on every request, cached or not.
 */
function checkEcho(config: Config, challenge: Challenge, offer: Offer): Refusal | undefined {
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
 * A flat copy of a header value kept in the cache. The protocol's base64 encoders build their text
 * four characters at a time, which V8 keeps as a rope of one node per piece: held for hours, that
 * costs a few KB an entry, and every response would walk it. The values are ASCII.
 */
function flatCopy(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

/**
 * What a verified receipt and its challenge settle once and for all. A single-use receipt (access
 * period 0) is open until its redemption deadline, which rests on signed data (the payment time)
 * so that echoing a fresher challenge cannot extend it; the cache entry lives exactly as long as
 * the receipt can be accepted: until that deadline, or a ticket's `accessUntil`, which is never
 * later than the route's own access period after the payment.
 */
function verifiedCredential(
  config: Config,
  offer: Offer,
  challenge: Challenge,
  signedClaims: ReceiptClaims,
  kid: string,
  key: KeyObject,
): VerifiedCredential {
  // What the route sells now bounds what any receipt opens: the platform signs the access period
  // the paid challenge asked for, and a client can pay a challenge it wrote itself.
  const routePeriodSeconds = offer.request.accessPeriodSeconds;
  const singleUse =
    routePeriodSeconds === 0 ||
    challenge.request.accessPeriodSeconds === 0 ||
    signedClaims.accessUntil <= signedClaims.issuedAt;
  const claims = singleUse
    ? signedClaims
    : {
        ...signedClaims,
        accessUntil: Math.min(signedClaims.accessUntil, signedClaims.issuedAt + routePeriodSeconds),
      };
  const deadlineSeconds =
    Math.min(challenge.expiresAtSeconds, claims.issuedAt + config.ttlSeconds) +
    clockSkewSecondsMax +
    singleUseRedeemGraceSeconds;
  const paymentReceipt: PaymentReceipt = Object.freeze({
    status: 'success',
    method: 'mite',
    timestampSeconds: claims.issuedAt,
    reference: claims.paymentId,
    challengeId: claims.challengeId ?? challenge.id,
    accessUntilSeconds: claims.accessUntil,
  });
  return {
    claims: Object.freeze(claims),
    challenge,
    kid,
    key,
    singleUse,
    deadlineSeconds,
    expiresAtSeconds: singleUse ? deadlineSeconds : claims.accessUntil,
    paymentReceipt,
    responseHeaders: Object.freeze({
      'Payment-Receipt': flatCopy(formatPaymentReceiptHeader(paymentReceipt)),
      'Cache-Control': 'private',
    }),
    x402ResponseHeaders: undefined,
  };
}

/**
 * The receipt against the challenge, by the protocol's `checkReceiptBinding`, at this request's
 * time: a single-use receipt judged open until its redemption deadline, a ticket until
 * `accessUntil` whichever current challenge it is shown with (`challengeMismatch` comes last, so
 * every other check has passed by then).
 */
function judge(verified: VerifiedCredential, nowSeconds: number): Verdict {
  const { claims, challenge, singleUse, deadlineSeconds } = verified;
  const judged = singleUse ? { ...claims, accessUntil: deadlineSeconds } : claims;
  const bound = checkReceiptBinding(judged, challenge, { nowSeconds });
  if (!bound.ok && !(bound.code === 'challengeMismatch' && !singleUse)) return bound;
  return { ok: true, verified };
}

/** A value now, or a promise of it: the cached paths answer without a promise of their own. */
type Eventually<Value> = Value | Promise<Value>;

function isPromiseLike<Value>(
  value: Eventually<Value> | PromiseLike<Value>,
): value is PromiseLike<Value> {
  return typeof (value as Partial<PromiseLike<Value>> | null)?.then === 'function';
}

/**
 * A credential's text, decoded and checked in full the first time (the HMAC, then the echo
 * against this request, then the receipt's signature), from the cache afterwards: a cached
 * credential skips the decoding, the HMAC and the signature, never the echo against this request
 * (resource, merchant, currency, price), the times, or (in `redeem`) the replay store.
 */
function verifyCredential(
  config: Config,
  text: string,
  via: CredentialSource,
  offer: Offer,
): Eventually<Verdict> {
  const { nowSeconds } = offer;
  const cached = config.verified.get(via, text, nowSeconds);
  if (cached !== undefined && config.verifier.holdsKey(cached.kid, cached.key)) {
    return checkEcho(config, cached.challenge, offer) ?? judge(cached, nowSeconds);
  }
  if (cached !== undefined) config.verified.delete(via, text);
  return verifyAnew(config, text, via, offer);
}

/** The full check of a credential not in the cache, which then holds it if it verified. */
async function verifyAnew(
  config: Config,
  text: string,
  via: CredentialSource,
  offer: Offer,
): Promise<Verdict> {
  const { nowSeconds } = offer;
  const decoded = decodeCredentialText(text, via);
  if (decoded.kind === 'malformed')
    return { ok: false, code: decoded.code, detail: decoded.detail };
  const { challenge, payload } = decoded.credential;
  const echoDefect = checkIssued(config, challenge) ?? checkEcho(config, challenge, offer);
  if (echoDefect !== undefined) return echoDefect;
  const receipt = await config.verifier.verifyKeyed(payload.receipt);
  if (!receipt.ok) return receipt;
  const verified = verifiedCredential(
    config,
    offer,
    challenge,
    receipt.claims,
    receipt.kid,
    receipt.key,
  );
  // A refresh may have withdrawn the key while this request waited: then nothing is cached.
  if (
    verified.expiresAtSeconds > nowSeconds &&
    config.verifier.holdsKey(verified.kid, verified.key)
  ) {
    config.verified.set(via, text, verified);
  }
  return judge(verified, nowSeconds);
}

// Merchant-scoped, so that one shared store can serve several merchants.
function replayKey(claims: ReceiptClaims): string {
  return `mite-receipt:${claims.merchantId}:${claims.paymentId}`;
}

/** A ticket's settle: nothing to give back, whatever the status. */
function settleTicket(): void {}

function settlement(store: ReplayStore, key: string | undefined): (status: number) => void {
  if (key === undefined) return settleTicket;
  let settled = false;
  return (status) => {
    if (settled) return;
    settled = true;
    if (status < 500) return;
    try {
      void Promise.resolve(store.release(key)).catch(() => undefined);
    } catch {
      // The client has its answer already; a lost release costs it only the free retry, and a
      // shared store's failures show in that store's own monitoring.
    }
  };
}

function redeem(
  config: Config,
  offer: Offer,
  text: string,
  via: CredentialSource,
): Eventually<PaywallOutcome> {
  const verdict = verifyCredential(config, text, via, offer);
  return isPromiseLike(verdict)
    ? verdict.then((settled) => spend(config, offer, via, settled))
    : spend(config, offer, via, verdict);
}

/** A verdict's outcome; a single-use receipt is claimed in the replay store first. */
function spend(
  config: Config,
  offer: Offer,
  via: CredentialSource,
  verdict: Verdict,
): Eventually<PaywallOutcome> {
  if (!verdict.ok) return refusalOutcome(config, offer, verdict.code, verdict.detail);
  const { verified } = verdict;
  if (!verified.singleUse) return paidOutcome(config, offer, via, verified, undefined);
  // Consulted on every request, cached credential or not: a single-use receipt is spent once.
  const key = replayKey(verified.claims);
  const claimed = config.replayStore.claim(key, verified.deadlineSeconds * 1000);
  const decide = (fresh: boolean): PaywallOutcome =>
    fresh
      ? paidOutcome(config, offer, via, verified, key)
      : refusalOutcome(config, offer, 'receiptReplayed', 'this single-use receipt was used');
  return isPromiseLike(claimed) ? Promise.resolve(claimed).then(decide) : decide(claimed);
}

function paidOutcome(
  config: Config,
  offer: Offer,
  via: CredentialSource,
  verified: VerifiedCredential,
  key: string | undefined,
): PaywallOutcome {
  const { claims, singleUse } = verified;
  let { responseHeaders } = verified;
  if (via === 'x402' || offer.x402) {
    verified.x402ResponseHeaders ??= Object.freeze({
      ...responseHeaders,
      'PAYMENT-RESPONSE': flatCopy(
        encodeX402PaymentResponse(verified.paymentReceipt, {
          platform: config.platformUrl,
          payer: claims.payer,
        }),
      ),
    });
    responseHeaders = verified.x402ResponseHeaders;
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

function handle(config: Config, request: PaywallRequest): Eventually<PaywallOutcome> {
  const nowSeconds = Math.floor(config.clock() / 1000);
  const method = request.method.toUpperCase();
  const path = request.url.split('?', 1)[0] ?? request.url;
  if ((method === 'GET' || method === 'HEAD') && path === priceListPath) {
    return priceListOutcome(config);
  }
  const match = config.routes.match(method, path);
  if (match === undefined) return { kind: 'free' };
  const payment = readPaymentHeaders(request.headers);
  const offer = offerFor(config, match, request, payment, nowSeconds);
  if ('ok' in offer) return refusalOutcome(config, undefined, offer.code, offer.detail);
  const presented = readCredentialText(config.x402, payment);
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
    case 'text':
      return redeem(config, offer, presented.text, presented.via);
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

/** For this package's tests: a look at the receipt verifier (to count its calls) and the cache. */
export interface PaywallInternals {
  readonly wrapVerifier?: (verifier: ReceiptVerifier) => ReceiptVerifier;
  readonly onVerifiedCache?: (cache: { readonly size: number }) => void;
}

/**
 * Creates a paywall. Options the wire cannot carry (a short secret, a bad price or realm, a route
 * priced twice) are configuration errors and throw here, not on the first request.
 */
export function createPaywall(options: PaywallOptions): Paywall {
  return createPaywallWith(options, {});
}

/** `createPaywall` with test hooks; not exported from the package. */
export function createPaywallWith(options: PaywallOptions, internals: PaywallInternals): Paywall {
  checkOptions(options);
  const clock = options.clock ?? Date.now;
  const refreshIntervalMinMs = options.jwksRefreshIntervalMinMs ?? jwksRefreshIntervalMinMs;
  const verified = createVerifiedCache<VerifiedCredential>(
    options.verifiedCacheSizeMax ?? verifiedCacheSizeMax,
  );
  const baseVerifier = createReceiptVerifier({
    jwksUrl: new URL(options.jwksUrl ?? defaultJwksUrl(options.platformUrl)).href,
    fetch: options.fetch ?? globalThis.fetch,
    clock,
    refreshIntervalMinMs,
    // A refreshed key set drops the credentials verified by a key it no longer holds at once.
    onKeySetReplaced: () => verified.retain((entry) => verifier.holdsKey(entry.kid, entry.key)),
  });
  const verifier = internals.wrapVerifier?.(baseVerifier) ?? baseVerifier;
  internals.onVerifiedCache?.(verified);
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
    verifier,
    verified,
    requestJsonBase: new Map(
      (options.routes ?? []).map((route) => [
        route,
        requestJsonBase(
          { merchantId: options.merchantId, platformUrl: options.platformUrl },
          route,
        ),
      ]),
    ),
    x402: options.x402 ?? 'onRequest',
    jwksRetryAfterSeconds: Math.max(1, Math.ceil(refreshIntervalMinMs / 1000)),
  };
  // Realm, merchant id and platform URL are checked by the price list's schema.
  priceListOutcome(config);
  return {
    handle(request) {
      // A bug or a misconfiguration (a bad price function) rejects, as it always did.
      try {
        return Promise.resolve(handle(config, request));
      } catch (error) {
        return Promise.reject(error as Error);
      }
    },
  };
}
