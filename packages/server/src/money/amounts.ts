/**
 * Money is bigint micro-units in code and a decimal string of the currency's major unit on the
 * wire ("0.02" is 20,000 micro-units). Never a float: a float cannot hold 0.1, and every parse
 * here is exact or refused.
 */

/** Micro-units per major unit: six decimal places. */
export const microsPerUnit = 1_000_000n;
const fractionDigitsMax = 6;
/** The largest amount the wire accepts: 10^12 units, far above any micropayment, inside u128. */
export const amountMicrosMax = 1_000_000_000_000n * microsPerUnit;
const decimalPattern = /^(0|[1-9][0-9]{0,12})(?:\.([0-9]{1,6}))?$/;

export type AmountParse = { ok: true; micros: bigint } | { ok: false; reason: string };

/** Parses a non-negative decimal string ("12", "0.5", "0.000001") into micro-units. */
export function parseAmount(text: string): AmountParse {
  const match = decimalPattern.exec(text);
  if (match === null) {
    return {
      ok: false,
      reason: `an amount is a decimal string with at most ${fractionDigitsMax} decimals, like "0.02"`,
    };
  }
  const whole = BigInt(match[1] ?? '0');
  const fraction = BigInt((match[2] ?? '').padEnd(fractionDigitsMax, '0'));
  const micros = whole * microsPerUnit + fraction;
  if (micros > amountMicrosMax) return { ok: false, reason: 'the amount is too large' };
  return { ok: true, micros };
}

/** Formats micro-units with at least two decimals and no trailing zeros beyond them. */
export function formatAmount(micros: bigint): string {
  if (micros < 0n) return `-${formatAmount(-micros)}`;
  const whole = micros / microsPerUnit;
  const fraction = (micros % microsPerUnit).toString().padStart(fractionDigitsMax, '0');
  const trimmed = fraction.replace(/0+$/, '').padEnd(2, '0');
  return `${whole}.${trimmed}`;
}
