/**
 * What a priced request costs, decided before any credential is looked at: the resource sold (the
 * request target, after the configured origin), the route's price now, the payment request a
 * challenge carries, and the challenge headers of a 402.
 */
import {
  accepted,
  type Decoded,
  currency,
  encodeX402Header,
  formatBaseUnits,
  formatChallengeHeader,
  issueChallenge,
  miteTokenMethod,
  requestAmountMicros,
  tokensPerCredentialMax,
  miteAmountDecimals,
  type MiteMethodDetails,
  parsePositiveAmount,
  type PaymentRequest,
  refused,
  type Refusal,
  requestCurrency,
  requestEncodedLengthMax,
  resourceLengthMax,
  toX402PaymentRequired,
} from '@mite/protocol';
import { absoluteUrl } from './absolute-url.ts';
import type { PaywallRequest } from './core.ts';
import { type PaymentHeaders, speaksX402, wantsX402 } from './credential-source.ts';
import type { Config } from './paywall-config.ts';
import type { PricedRoute, RouteMatch } from './routes.ts';

/** What this request costs, decided before any credential is looked at. */
export interface Offer {
  readonly request: PaymentRequest;
  /** The route's price now, as a decimal ("0.02"); the request carries it in micro-units. */
  readonly price: string;
  readonly headerDescription: string | undefined;
  /** Whether a 402 carries the x402 `PAYMENT-REQUIRED` header. */
  readonly x402: boolean;
  /** Whether the client speaks x402, so that a paid answer carries `PAYMENT-RESPONSE`. */
  readonly x402Client: boolean;
  /** The request's Host, from which an x402 `resource.url` is made absolute. */
  readonly host: unknown;
  readonly nowSeconds: number;
}

const printableAscii = /^[\x20-\x7e]+$/;
const requestTarget = /^\/[\x21-\x7e]*$/;

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
export function requestJsonBase(
  config: Pick<Config, 'merchantId' | 'platformUrl'>,
  route: PricedRoute,
) {
  return Buffer.byteLength(JSON.stringify(paymentRequestOf(config, route, '', '')), 'utf8');
}

/**
 * The charge request for a route (see the protocol's `chargeRequest`), built here directly so
 * that `requestJsonBase` can measure it with an empty resource and amount. `amount` is the price
 * in micro-units, as an integer string.
 */
function paymentRequestOf(
  config: Pick<Config, 'merchantId' | 'platformUrl'>,
  route: PricedRoute,
  resource: string,
  amount: string,
): PaymentRequest {
  const methodDetails: MiteMethodDetails = {
    platform: config.platformUrl,
    resource,
    accessPeriodSeconds: route.accessPeriodSeconds ?? 0,
    decimals: miteAmountDecimals,
    ...(route.category === undefined ? {} : { category: route.category }),
    ...(route.offer === undefined ? {} : { offer: route.offer }),
  };
  return {
    amount,
    currency: requestCurrency(currency),
    recipient: config.merchantId,
    ...(route.description === undefined ? {} : { description: route.description }),
    methodDetails,
  };
}

/** A canonical decimal price ("0.02") as a request's amount in micro-units ("20000"). */
function baseUnitsOf(price: string): string {
  const micros = parsePositiveAmount(price);
  if (!micros.ok) throw new RangeError(`bug: a checked price does not parse: ${price}`);
  return formatBaseUnits(micros.value);
}

/**
 * Whether this request is too long to go in a challenge. Every priced request asks, so the common
 * case is answered by a bound: the resource is visible ASCII (at most 2 bytes a character in JSON,
 * for `\"` and `\\`), the amount digits and a point; only a request near the limit is measured.
 */
function tooLongToSell(config: Config, route: PricedRoute, request: PaymentRequest): boolean {
  const base = config.requestJsonBase.get(route);
  if (base !== undefined) {
    const bound = base + 2 * request.methodDetails.resource.length + request.amount.length;
    if (base64urlLength(bound) <= requestEncodedLengthMax) return false;
  }
  return encodedJsonLength(request) > requestEncodedLengthMax;
}

/**
 * What is sold: the request target as received, after the origin when one is configured. Shared
 * with metered routes (sessions/), which sell the same resources.
 */
export function resourceOf(config: Pick<Config, 'origin'>, url: string): Decoded<string> {
  if (!requestTarget.test(url)) {
    return refused('badUrl', 'a priced request target is visible ASCII from "/"');
  }
  const resource = config.origin === undefined ? url : `${config.origin}${url}`;
  if (resource.length > resourceLengthMax) {
    return refused('valueTooLong', `a priced URL is at most ${resourceLengthMax} characters`);
  }
  return accepted(resource);
}

/** The offer for a priced request; undefined when the route's price function does not price it. */
export function offerFor(
  config: Config,
  match: RouteMatch,
  request: PaywallRequest,
  payment: PaymentHeaders,
  nowSeconds: number,
): Offer | Refusal | undefined {
  const { route } = match;
  const price =
    config.routes.fixedPriceOf(route) ??
    config.routes.priceOf(match, {
      method: request.method.toUpperCase(),
      url: request.url,
      path: request.url.split('?', 1)[0] ?? request.url,
      headers: request.headers,
      params: match.params,
    });
  // Not priced: the request passes through untouched, whatever its target looks like.
  if (price === undefined) return undefined;
  const resource = resourceOf(config, request.url);
  if (!resource.ok) return resource;
  const paymentRequest = paymentRequestOf(config, route, resource.value, baseUnitsOf(price));
  // Quotes and backslashes in a URL double in JSON: check before issueChallenge would throw.
  if (tooLongToSell(config, route, paymentRequest)) {
    return refused('valueTooLong', 'this URL is too long to be sold');
  }
  const ascii = route.description !== undefined && printableAscii.test(route.description);
  return {
    request: paymentRequest,
    price,
    headerDescription: ascii ? route.description : undefined,
    x402: wantsX402(config.x402, payment),
    x402Client: config.x402 !== 'never' && speaksX402(payment),
    host: request.headers['host'],
    nowSeconds,
  };
}

/**
 * A fresh challenge for the offer: its id, and the headers of a 402 that carry it; `x402Error`,
 * for a refused credential, is the x402 envelope's `error`. Its expiry
 * counts from the offer's whole second (`nowSeconds`), so identical requests within one second
 * get the very same challenge, HMAC id included: a client that retries, or lost the answer, pays
 * a challenge it may have paid already, which the platform answers with the original receipt.
 */
export function challengeHeaders(
  config: Config,
  offer: Offer,
  x402Error?: string,
): { readonly id: string; readonly headers: Record<string, string> } {
  const challenge = issueChallenge({
    secret: config.secret,
    realm: config.realm,
    request: offer.request,
    expiresAtSeconds: offer.nowSeconds + config.ttlSeconds,
    ...(offer.headerDescription === undefined ? {} : { description: offer.headerDescription }),
  });
  const headers: Record<string, string> = {
    'WWW-Authenticate': withTokenChallenge(config, offer, formatChallengeHeader(challenge)),
  };
  if (offer.x402) {
    const { resource } = offer.request.methodDetails;
    // x402 clients resolve nothing; a relative URL is left only when Host is unusable.
    const required = toX402PaymentRequired(challenge, {
      url: absoluteUrl(resource, offer.host) ?? resource,
      ...(x402Error === undefined ? {} : { error: x402Error }),
    });
    headers['PAYMENT-REQUIRED'] = encodeX402Header(required);
  }
  return { id: challenge.id, headers };
}

/**
 * The challenges a 402 carries: Mite's, and, where the merchant takes tokens and the price can be
 * paid in one credential's worth of them (powers of two, `tokensPerCredentialMax` at most), the
 * same charge for method "mite-token", as a second challenge of the same header (RFC 9110 lets a
 * `WWW-Authenticate` value list several).
 */
function withTokenChallenge(config: Config, offer: Offer, miteChallenge: string): string {
  if (config.tokens === undefined) return miteChallenge;
  const priceMicros = requestAmountMicros(offer.request);
  const bits = priceMicros
    .toString(2)
    .split('')
    .filter((bit) => bit === '1').length;
  if (priceMicros <= 0n || bits > tokensPerCredentialMax) return miteChallenge;
  const tokenChallenge = issueChallenge({
    secret: config.secret,
    realm: config.realm,
    request: offer.request,
    expiresAtSeconds: offer.nowSeconds + config.ttlSeconds,
    method: miteTokenMethod,
    ...(offer.headerDescription === undefined ? {} : { description: offer.headerDescription }),
  });
  return `${miteChallenge}, ${formatChallengeHeader(tokenChallenge)}`;
}
