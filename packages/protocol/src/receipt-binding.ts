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
 * Whether the receipt pays the price: exactly, or less (down to zero) when the platform signed
 * that the merchant's fair-price cap lowered it for this very price (`fairPriceCap`). The term is
 * in a receipt the platform signed for this merchant, and the merchant is checked before the
 * amount, so a receipt cheaper under one merchant's cap is worth nothing at another's paywall.
 */
function paysPrice(claims: ReceiptClaims, priceMicros: bigint): boolean {
  // The receipt writes decimal amounts ("0.02"), the request micro-units ("20000").
  const paid = parseAmount(claims.amount);
  if (!paid.ok) return false;
  if (claims.fairPriceCap === undefined) return paid.value === priceMicros;
  const listPrice = parseAmount(claims.fairPriceCap);
  return listPrice.ok && listPrice.value === priceMicros && paid.value <= priceMicros;
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
  if (!paysPrice(claims, requestAmountMicros(request))) {
    const price = formatAmount(requestAmountMicros(request));
    const term =
      claims.fairPriceCap === undefined ? '' : ` under a fair-price cap on ${claims.fairPriceCap}`;
    return refused(
      'wrongAmount',
      `the receipt pays ${claims.amount}${term}, the price is ${price}`,
    );
  }
  const times = checkTimes(claims, challenge, options.nowSeconds);
  if (!times.ok) return times;
  if (claims.challengeId !== undefined && claims.challengeId !== challenge.id) {
    return refused('challengeMismatch', 'the receipt answers another challenge');
  }
  return accepted(claims);
}
