/**
 * The framework-free paywall: decides, for one request, whether it is free, priced and unpaid
 * (402 with a fresh challenge), paid (a verified receipt), or refused. The adapters beside this
 * file only translate requests and outcomes for node:http, Express, Fastify and Hono.
 *
 * This file holds the public types and composes the parts, one concept a file:
 * - paywall-config.ts: the options, checked once, and what every request reads;
 * - offer.ts: what a priced request costs, and the challenge a 402 carries;
 * - verification.ts: a presented credential checked (the challenge's HMAC and echo, the
 *   receipt's signature and binding), with the verified cache (verified-cache.ts);
 * - outcome.ts: refusals, the price list, paid outcomes (a single-use receipt claimed in the
 *   replay store first);
 * - how-to-pay.ts: the 402's problem worded for people (who sells, where and how to pay);
 * - accept-payment.ts: a client's `Accept-Payment` that refuses Mite's method (a 406).
 *
 * Verification is offline and stateless but for the replay store: the challenge id is an HMAC the
 * merchant recomputes, the receipt a JWS checked against the platform's cached JWKS.
 */
import {
  type ProblemDetails,
  priceListPath,
  type ProtocolErrorCode,
  type ReceiptClaims,
} from '@mite/protocol';
import { notAcceptableOutcome, refusesMiteCharge } from './accept-payment.ts';
import { paymentRequiredOutcome } from './how-to-pay.ts';
import { readCredentialText, readPaymentHeaders, type X402Mode } from './credential-source.ts';
import type { Eventually } from './eventually.ts';
import { offerFor } from './offer.ts';
import { priceListOutcome, redeem, refusalOutcome } from './outcome.ts';
import { type Config, createConfig, type PaywallInternals } from './paywall-config.ts';
import type { ReplayStore } from './replay-store.ts';
import type { PricedRoute } from './routes.ts';

export { encodedJsonLength } from './offer.ts';
export { priceListMaxAgeSeconds } from './outcome.ts';
export { challengeTtlSecondsDefault, type PaywallInternals } from './paywall-config.ts';
export { singleUseRedeemGraceSeconds } from './verification.ts';

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
  /**
   * Take unlinkable tokens too (method "mite-token"): a 402 carries a second challenge, and a
   * credential's tokens are verified offline, then deposited at the platform with this merchant
   * API key (scope `tokens:deposit`) before the resource is served.
   */
  readonly tokens?: { readonly apiKey: string };
}

/** Every refusal: the protocol's codes, and the platform's keys being out of reach. */
export type PaywallErrorCode = ProtocolErrorCode | 'keysUnavailable' | 'depositUnavailable';

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
      /** A priced request whose `Accept-Payment` refuses Mite's method (see accept-payment.ts). */
      readonly kind: 'notAcceptable';
      readonly status: 406;
      readonly headers: PaywallHeaders;
      readonly body: string;
      readonly problem: ProblemDetails;
    }
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
  if (offer === undefined) return { kind: 'free' };
  if ('ok' in offer) return refusalOutcome(config, undefined, offer.code, offer.detail);
  const presented = readCredentialText(config.x402, payment);
  switch (presented.kind) {
    case 'none':
      if (refusesMiteCharge(request.headers)) return notAcceptableOutcome(offer);
      return paymentRequiredOutcome(config, offer, request);
    case 'malformed':
      return refusalOutcome(config, offer, presented.code, presented.detail);
    case 'text':
      return redeem(config, offer, presented.text, presented.via);
  }
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
  const config = createConfig(options, internals);
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
