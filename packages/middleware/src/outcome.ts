/**
 * What a request gets, as the adapters send it: a refusal (problem+json; a 402 with a fresh
 * challenge), the price list, or a paid outcome with its response headers. A single-use receipt
 * is claimed in the replay store before it pays, and given back when the handler fails (5xx).
 */
import {
  currency,
  encodeX402PaymentResponse,
  formatPriceList,
  type ProblemDetails,
  problemDetails,
  paymentProblemTypes,
  problemMediaType,
  problemTable,
  problemTypeBase,
  type ReceiptClaims,
} from '@mite/protocol';
import type { PaywallErrorCode, PaywallOutcome } from './core.ts';
import type { CredentialSource } from './credential-source.ts';
import { type Eventually, isPromiseLike } from './eventually.ts';
import { challengeHeaders, type Offer } from './offer.ts';
import type { Config } from './paywall-config.ts';
import type { ReplayStore } from './replay-store.ts';
import {
  flatCopy,
  type Verdict,
  type VerifiedCredential,
  verifyCredential,
} from './verification.ts';

/** How long clients and caches may keep the price list. */
export const priceListMaxAgeSeconds = 300;

/**
 * A refusal as an outcome, as the draft's status table says: a 402 carries a fresh challenge,
 * whose id the problem names (`challengeId`); a 400 (another method) and a 503 do not. A refusal
 * before there is anything to sell (a request target the wire cannot carry) is a plain 400
 * `bad-request`, since a 402 must carry a challenge.
 */
export function refusalOutcome(
  config: Config,
  offer: Offer | undefined,
  code: PaywallErrorCode,
  detail: string,
): PaywallOutcome {
  if (code === 'keysUnavailable' || code === 'depositUnavailable') {
    const problem = { type: 'about:blank', title: 'Service Unavailable', status: 503, detail };
    const headers = {
      'Content-Type': problemMediaType,
      'Cache-Control': 'no-store',
      'Retry-After': String(config.jwksRetryAfterSeconds),
    };
    return { kind: 'error', status: 503, code, headers, body: JSON.stringify(problem), problem };
  }
  const challenged = problemTable[code].status === 402 && offer !== undefined;
  // A refused credential's 402 tells x402 clients why, in the envelope's `error`.
  const x402Error = code === 'paymentRequired' ? undefined : detail;
  const issued = challenged ? challengeHeaders(config, offer, x402Error) : undefined;
  const problem: ProblemDetails =
    offer === undefined
      ? { ...problemDetails(code, detail), ...badRequest }
      : problemDetails(code, detail, issued === undefined ? {} : { challengeId: issued.id });
  const headers: Record<string, string> = {
    'Content-Type': problemMediaType,
    'Cache-Control': 'no-store',
    ...issued?.headers,
  };
  const body = JSON.stringify(problem);
  if (code === 'paymentRequired')
    return { kind: 'paymentRequired', status: 402, headers, body, problem };
  return { kind: 'error', status: problem.status as 400 | 402, code, headers, body, problem };
}

const badRequest = {
  type: `${problemTypeBase}bad-request`,
  ...paymentProblemTypes['bad-request'],
} as const;

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

export function redeem(
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
  const verified = verdict.value;
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
  if (via === 'x402' || offer.x402Client) {
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

export function priceListOutcome(config: Config): PaywallOutcome {
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
