/**
 * A presented credential, verified: the echoed challenge was issued here (its HMAC) and matches
 * what this request costs now (the echo), the receipt's signature holds under the platform's keys,
 * and the receipt is bound to the challenge at this request's time. What the credential text
 * alone proves is remembered in the verified cache (verified-cache.ts), so that a ticket shown
 * again skips the decoding, the HMAC and the signature; every check that depends on the request or
 * the time runs on every request.
 */
import type { KeyObject } from 'node:crypto';
import {
  type Challenge,
  challengeIdMatches,
  checkReceiptBinding,
  clockSkewSecondsMax,
  currency,
  excerpt,
  type ExplainedFailure,
  formatPaymentReceiptHeader,
  ok,
  type PaymentReceipt,
  type ReceiptClaims,
  refused,
  type Refusal,
  sameCurrency,
  type Success,
  type TokenPaymentWire,
} from '@mite/protocol';
import type { PaywallErrorCode, PaywallHeaders } from './core.ts';
import { type CredentialSource, decodeCredentialText } from './credential-source.ts';
import type { Eventually } from './eventually.ts';
import type { Offer } from './offer.ts';
import type { Config } from './paywall-config.ts';
import type { VerifiedCacheEntry } from './verified-cache.ts';

/**
 * How long after its challenge expires (plus clock skew) a single-use receipt may still be
 * presented: time for a client that paid at the last moment to retry. The replay store holds the
 * receipt exactly that long, after which it is refused by its times.
 */
export const singleUseRedeemGraceSeconds = 300;

/**
 * What a credential's text proves once decoded, its challenge's HMAC checked and its receipt's
 * signature verified, none of which depends on the request or the time: cached under the text.
 */
export interface VerifiedCredential extends VerifiedCacheEntry {
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

/** A credential verified for this request, or the code and detail of the refusal to answer. */
export type Verdict = Success<VerifiedCredential> | ExplainedFailure<PaywallErrorCode>;

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
  const { methodDetails } = request;
  if (challenge.realm !== config.realm || methodDetails.platform !== config.platformUrl) {
    return refused('invalidChallenge', 'the challenge was issued for another realm or platform');
  }
  if (request.recipient !== config.merchantId) {
    return refused('wrongMerchant', `the challenge is for merchant ${excerpt(request.recipient)}`);
  }
  if (methodDetails.resource !== offer.request.methodDetails.resource) {
    return refused('wrongResource', `the challenge is for ${excerpt(methodDetails.resource)}`);
  }
  if (!sameCurrency(request.currency, currency)) {
    return refused('wrongCurrency', `the challenge is in ${request.currency}`);
  }
  // Base-unit amounts are written one way per value (no leading zeros), so texts compare.
  if (request.amount !== offer.request.amount) {
    return refused(
      'wrongAmount',
      `the challenge asks ${request.amount} micro-units, the price is now ${offer.price}`,
    );
  }
  return undefined;
}

/**
 * A flat copy of a header value kept in the cache. The protocol's base64 encoders build their text
 * four characters at a time, which V8 keeps as a rope of one node per piece: held for hours, that
 * costs a few KB an entry, and every response would walk it. The values are ASCII.
 */
export function flatCopy(text: string): string {
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
  const routePeriodSeconds = offer.request.methodDetails.accessPeriodSeconds;
  const singleUse =
    routePeriodSeconds === 0 ||
    challenge.request.methodDetails.accessPeriodSeconds === 0 ||
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
    method: challenge.method,
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
  return ok(verified);
}

/**
 * A credential's text, decoded and checked in full the first time (the HMAC, then the echo
 * against this request, then the receipt's signature), from the cache afterwards: a cached
 * credential skips the decoding, the HMAC and the signature, never the echo against this request
 * (resource, merchant, currency, price), the times, or (in `redeem`) the replay store.
 */
export function verifyCredential(
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
  if (decoded.kind === 'malformed') return refused(decoded.code, decoded.detail);
  const { challenge, payload } = decoded.credential;
  const echoDefect = checkIssued(config, challenge) ?? checkEcho(config, challenge, offer);
  if (echoDefect !== undefined) return echoDefect;
  const jws =
    'receipt' in payload ? ok(payload.receipt) : await deposited(config, challenge, payload.tokens);
  if (!jws.ok) return jws;
  const receipt = await config.verifier.verifyKeyed(jws.value);
  if (!receipt.ok) return receipt;
  const { claims, kid, key } = receipt.value;
  const verified = verifiedCredential(config, offer, challenge, claims, kid, key);
  // A refresh may have withdrawn the key while this request waited: then nothing is cached.
  if (
    verified.expiresAtSeconds > nowSeconds &&
    config.verifier.holdsKey(verified.kid, verified.key)
  ) {
    config.verified.set(via, text, verified);
  }
  return judge(verified, nowSeconds);
}

/**
 * The receipt a credential's tokens earn: deposited at the platform (after their offline check),
 * whose receipt is then checked as any receipt is. A merchant that takes no tokens never issued
 * a "mite-token" challenge, so its HMAC check has refused such a credential already.
 */
async function deposited(
  config: Config,
  challenge: Challenge,
  tokens: readonly TokenPaymentWire[],
): Promise<Success<string> | ExplainedFailure<PaywallErrorCode>> {
  if (config.tokens === undefined) {
    return refused('unsupportedMethod', 'this merchant takes no tokens');
  }
  return config.tokens.deposit(tokens, challenge);
}
