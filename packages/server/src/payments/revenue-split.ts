/** Basis points in a whole: shares and fees are in hundredths of a percent. */
export const basisPointsWhole = 10_000;

export interface SplitShare<K> {
  readonly key: K;
  /** This party's part of what remains after the platform fee, in basis points. */
  readonly shareBasisPoints: number;
}

export interface SplitLeg<K> {
  readonly key: K;
  readonly amountMicros: bigint;
}

export interface Split<K> {
  readonly platformFeeMicros: bigint;
  readonly legs: readonly SplitLeg<K>[];
}

/**
 * Splits a payment exactly: nothing is lost or created by rounding.
 *
 * 1. The platform fee is `amount * feeBasisPoints / 10000`, rounded half up to a micro-unit.
 * 2. The rest is shared by largest remainders (Hamilton's method): each party gets the floor of
 *    its exact share, and the micro-units left over go one each to the parties with the largest
 *    fractional parts; equal fractions go to the party listed first.
 *
 * So the legs plus the fee always add up to the amount, and no party is ever more than one
 * micro-unit from its exact share.
 */
export function splitPayment<K>(
  amountMicros: bigint,
  feeBasisPoints: number,
  shares: readonly SplitShare<K>[],
): Split<K> {
  assertShares(feeBasisPoints, shares);
  const whole = BigInt(basisPointsWhole);
  const platformFeeMicros = (amountMicros * BigInt(feeBasisPoints) + whole / 2n) / whole;
  const parts = apportion(
    amountMicros - platformFeeMicros,
    shares.map((share) => BigInt(share.shareBasisPoints)),
  );
  const legs = shares.map((share, index) => ({ key: share.key, amountMicros: parts[index] ?? 0n }));
  return { platformFeeMicros, legs };
}

function assertShares(feeBasisPoints: number, shares: readonly SplitShare<unknown>[]): void {
  const inRange = (value: number) =>
    Number.isInteger(value) && value >= 0 && value <= basisPointsWhole;
  if (!inRange(feeBasisPoints)) throw new Error('bug: a fee outside 0..10000 basis points');
  const total = shares.reduce((sum, share) => sum + share.shareBasisPoints, 0);
  if (
    shares.length === 0 ||
    !shares.every((s) => inRange(s.shareBasisPoints)) ||
    total !== basisPointsWhole
  ) {
    throw new Error('bug: revenue shares must be whole basis points adding up to 10000');
  }
}

/**
 * Divides `amount` in proportion to `weights` by largest remainders: each part is the floor of
 * its exact share, and what is left goes one micro-unit at a time to the largest fractional
 * parts, equal fractions to the earlier weight. The parts add up to `amount` exactly.
 */
export function apportion(amount: bigint, weights: readonly bigint[]): bigint[] {
  const total = weights.reduce((sum, weight) => sum + weight, 0n);
  if (total <= 0n || weights.some((weight) => weight < 0n)) {
    throw new Error('bug: apportioning by weights that are negative or add up to nothing');
  }
  const exact = weights.map((weight, index) => {
    const scaled = amount * weight;
    return { index, floor: scaled / total, fraction: scaled % total };
  });
  let leftover = amount - exact.reduce((sum, part) => sum + part.floor, 0n);
  const parts = exact.map((part) => part.floor);
  const byFraction = [...exact].sort((a, b) =>
    a.fraction === b.fraction ? a.index - b.index : a.fraction > b.fraction ? -1 : 1,
  );
  for (const part of byFraction) {
    if (leftover === 0n) break;
    parts[part.index] = (parts[part.index] ?? 0n) + 1n;
    leftover -= 1n;
  }
  return parts;
}
