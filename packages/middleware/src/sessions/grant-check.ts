/**
 * The platform's session grant, checked offline: its signature by the platform's receipt keys
 * (the receipt verifier's key cache and JWS rules, with `typ` `mite-session+jwt`), its claims
 * decoded by the protocol, then bound to what the merchant sells: this merchant, the echoed
 * challenge (whose HMAC the caller has checked) and its terms, and the time.
 */
import {
  clockSkewSecondsMax,
  decodeSessionGrantClaims,
  excerpt,
  type ExplainedFailure,
  type GrantCommitment,
  ok,
  sameCurrency,
  type SessionChallenge,
  type SessionGrantClaims,
  sessionGrantMediaType,
  type Success,
} from '@mite/protocol';
import type { ReceiptVerifier } from '../receipt-verifier.ts';

export type GrantRefusalCode =
  | 'grantInvalid'
  | 'unknownKey'
  | 'keysUnavailable'
  | 'wrongMerchant'
  | 'wrongResource'
  | 'wrongAmount'
  | 'wrongCurrency'
  | 'challengeMismatch'
  | 'futureDated'
  | 'sessionClosed';

export type GrantRefusal = ExplainedFailure<GrantRefusalCode>;

export interface VerifiedGrant {
  readonly claims: SessionGrantClaims;
  readonly commitment: GrantCommitment;
}

const grantDocument = { mediaType: sessionGrantMediaType, noun: 'grant' } as const;

function refuse(code: GrantRefusalCode, detail: string): GrantRefusal {
  return { ok: false, code, detail };
}

/** The grant's signature and claims. */
export async function verifyGrant(
  verifier: ReceiptVerifier,
  jws: string,
): Promise<Success<VerifiedGrant> | GrantRefusal> {
  const signed = await verifier.verifySigned(jws, grantDocument);
  if (!signed.ok) {
    return refuse(signed.code === 'receiptInvalid' ? 'grantInvalid' : signed.code, signed.detail);
  }
  const decoded = decodeSessionGrantClaims(signed.value.payload);
  if (!decoded.ok) return refuse('grantInvalid', `a signed grant with defects: ${decoded.detail}`);
  return ok(decoded.value);
}

/**
 * Whether the grant opens a session on this challenge for this merchant at `nowSeconds`: every
 * term the challenge set is the grant's, and the grant is current.
 */
export function checkGrantBinding(
  claims: SessionGrantClaims,
  challenge: SessionChallenge,
  merchantId: string,
  nowSeconds: number,
): GrantRefusal | undefined {
  const { request } = challenge;
  if (claims.merchantId !== merchantId) {
    return refuse('wrongMerchant', `the grant is for merchant ${excerpt(claims.merchantId)}`);
  }
  if (claims.challengeId !== challenge.id) {
    return refuse('challengeMismatch', 'the grant was issued for another challenge');
  }
  if (claims.resource !== request.methodDetails.resource) {
    return refuse('wrongResource', `the grant is for ${excerpt(claims.resource)}`);
  }
  if (claims.amount !== request.amount) {
    return refuse('wrongAmount', `the grant's unit price is ${claims.amount}`);
  }
  if (!sameCurrency(claims.currency, request.currency)) {
    return refuse('wrongCurrency', `the grant is in ${claims.currency}`);
  }
  if (
    claims.unitType !== request.unitType ||
    claims.minVoucherDelta !== request.methodDetails.minVoucherDelta ||
    !request.methodDetails.vouchers.includes(claims.voucherKind)
  ) {
    return refuse('grantInvalid', 'the grant does not keep the challenge’s terms');
  }
  if (claims.issuedAt > nowSeconds + clockSkewSecondsMax) {
    return refuse('futureDated', 'the grant is dated in the future');
  }
  if (claims.openUntil <= nowSeconds) return refuse('sessionClosed', 'the grant has run out');
  return undefined;
}
