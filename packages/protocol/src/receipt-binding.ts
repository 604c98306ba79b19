/**
 * Whether a receipt pays for the challenge it is presented with. Pure logic, no keys and no I/O:
 * the middleware first verifies the receipt's signature, then asks this, then checks replays.
 */
import { formatAmount, parseAmount, sameCurrency } from './amounts.ts';
import { type Challenge, clockSkewSecondsMax, requestAmountMicros } from './challenge.ts';
import { accepted, type Decoded, refused } from './problems.ts';
import { type ReceiptClaims } from './receipt-claims.ts';
import { formatTimestamp } from './timestamps.ts';

function checkTimes(
  claims: ReceiptClaims,
  challenge: Challenge,
  nowSeconds: number,
): Decoded<null> {
  if (claims.issuedAt > nowSeconds + clockSkewSecondsMax) {
    return refused('futureDated', `the receipt is issued at ${formatTimestamp(claims.issuedAt)}`);
  }
  if (claims.issuedAt >= challenge.expiresAtSeconds + clockSkewSecondsMax) {
    return refused('challengeExpired', 'the payment was made after the challenge expired');
  }
  if (nowSeconds >= claims.accessUntil) {
    return refused('accessExpired', `access ended at ${formatTimestamp(claims.accessUntil)}`);
  }
  return accepted(null);
}

/**
 * Checks, in this order, merchant, resource, currency, amount, the times (issued no later than now
 * and before the challenge expired, access still open) and last the challenge id. A caller that
 * honours access periods may therefore treat `challengeMismatch` as "paid earlier for this very
 * resource", since every other check has passed by then.
 */
export function checkReceiptBinding(
  claims: ReceiptClaims,
  challenge: Challenge,
  options: { readonly nowSeconds: number },
): Decoded<ReceiptClaims> {
  if (!Number.isFinite(options.nowSeconds)) throw new RangeError('nowSeconds must be finite');
  const { request } = challenge;
  if (claims.merchantId !== request.recipient) {
    return refused('wrongMerchant', `the receipt pays merchant ${claims.merchantId}`);
  }
  if (claims.resource !== request.methodDetails.resource) {
    return refused('wrongResource', `the receipt pays for ${claims.resource}`);
  }
  if (!sameCurrency(claims.currency, request.currency)) {
    return refused('wrongCurrency', `the receipt is in ${claims.currency}`);
  }
  // The receipt writes a decimal amount ("0.02"), the request micro-units ("20000").
  const paid = parseAmount(claims.amount);
  const price = requestAmountMicros(request);
  if (!paid.ok || paid.value !== price) {
    return refused(
      'wrongAmount',
      `the receipt pays ${claims.amount}, the price is ${formatAmount(price)}`,
    );
  }
  const times = checkTimes(claims, challenge, options.nowSeconds);
  if (!times.ok) return times;
  if (claims.challengeId !== undefined && claims.challengeId !== challenge.id) {
    return refused('challengeMismatch', 'the receipt answers another challenge');
  }
  return accepted(claims);
}
