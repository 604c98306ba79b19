/**
 * Money on the wire: a decimal string of the currency's major unit ("0.02"), and bigint micro-units
 * in code (20,000n). Never a float, which cannot hold 0.1. The platform, the middleware and the
 * client all read and write amounts with these functions, so whatever one side writes the other
 * reads.
 */
import { accepted, type Decoded, refused } from './problems.ts';

/** The one currency a Mite platform keeps its ledger in. */
export const currency = 'USD';
/** Decimal places of an amount: micro-units. */
export const amountScale = 6;
/** Micro-units per major unit. */
export const microsPerUnit = 1_000_000n;
/** The largest amount the wire accepts: 10^12 units, far above any micropayment. */
export const amountMicrosMax = 1_000_000_000_000n * microsPerUnit;
/** The longest amount text: 13 whole digits, a point and 6 decimals. */
export const amountTextLengthMax = 20;

// No sign, no exponent, no leading zeros, no bare point: one spelling per written value.
const decimalPattern = /^(0|[1-9][0-9]{0,12})(?:\.([0-9]{1,6}))?$/;

// Up to 12 whole digits every spelling the pattern admits is below amountMicrosMax, so an amount
// this short is valid by its spelling alone, with no bigint to make.
const belowMaxPattern = /^(?:0|[1-9][0-9]{0,11})(?:\.[0-9]{1,6})?$/;

/** Whether `parseAmount` accepts this text, without making its bigint when the text is short. */
export function isAmountText(text: string): boolean {
  if (typeof text !== 'string') return false;
  return belowMaxPattern.test(text) || parseAmount(text).ok;
}

/**
 * Whether two texts are valid amounts of equal value. Amounts on the wire are written one way per
 * value, so equal texts (the common case) are compared without parsing either into a bigint.
 */
export function sameAmountText(left: string, right: string): boolean {
  if (left === right) return isAmountText(left);
  const leftMicros = parseAmount(left);
  const rightMicros = parseAmount(right);
  return leftMicros.ok && rightMicros.ok && leftMicros.value === rightMicros.value;
}

/** Parses a non-negative decimal string ("12", "0.5", "0.000001") into micro-units. */
export function parseAmount(text: string): Decoded<bigint> {
  if (typeof text !== 'string') return refused('badAmount', 'an amount is a string');
  const match = decimalPattern.exec(text);
  if (match === null) {
    return refused(
      'badAmount',
      `an amount is a decimal string with at most ${amountScale} decimals and no sign, like "0.02"`,
    );
  }
  const whole = BigInt(match[1] ?? '0');
  const fraction = BigInt((match[2] ?? '').padEnd(amountScale, '0'));
  const micros = whole * microsPerUnit + fraction;
  if (micros > amountMicrosMax) return refused('badAmount', 'the amount is too large');
  return accepted(micros);
}

// The charge intent's `amount`: an integer count of base units (for Mite, micro-units), written
// one way per value, at most 19 digits (amountMicrosMax is 10^18).
const baseUnitsPattern = /^[1-9][0-9]{0,18}$/;

/**
 * Parses a payment request's `amount`, an integer string of micro-units above zero ("20000" for
 * 0.02 of the currency), as the charge intent writes amounts in base units.
 */
export function parseBaseUnits(text: string): Decoded<bigint> {
  if (typeof text !== 'string' || !baseUnitsPattern.test(text)) {
    return refused(
      'badAmount',
      'a request amount is an integer of micro-units above 0, like "20000" for 0.02',
    );
  }
  const micros = BigInt(text);
  if (micros > amountMicrosMax) return refused('badAmount', 'the amount is too large');
  return accepted(micros);
}

/** Writes micro-units as a request's `amount` (base units); a value out of range is a bug. */
export function formatBaseUnits(micros: bigint): string {
  if (micros <= 0n || micros > amountMicrosMax) {
    throw new RangeError(`a request amount is between 1 and ${amountMicrosMax} micro-units`);
  }
  return micros.toString();
}

/**
 * Whether two currency codes name the same currency: the charge intent writes ISO 4217 codes in
 * lower case ("usd"), Mite's receipts and ledger in upper case ("USD"), and readers take both.
 */
export function sameCurrency(left: string, right: string): boolean {
  return left === right || left.toLowerCase() === right.toLowerCase();
}

/** A currency as a payment request writes it: the ISO 4217 code in lower case ("usd"). */
export function requestCurrency(code: string): string {
  return code.toLowerCase();
}

/** Parses an amount that must be above zero, as every price and payment is. */
export function parsePositiveAmount(text: string): Decoded<bigint> {
  const parsed = parseAmount(text);
  if (parsed.ok && parsed.value === 0n) return refused('badAmount', 'the amount must be above 0');
  return parsed;
}

/**
 * Formats micro-units with at least two decimals and no trailing zeros beyond them ("0.01",
 * "0.000001", "12.50"). An amount the wire cannot carry is a bug in the caller, so it throws.
 */
export function formatAmount(micros: bigint): string {
  if (micros < 0n || micros > amountMicrosMax) {
    throw new RangeError(`an amount on the wire is between 0 and ${amountMicrosMax} micro-units`);
  }
  return formatMicros(micros);
}

/**
 * Formats an amount the platform's ledger computed rather than one a payer or merchant wrote: a
 * balance, a history entry (a debit is negative, "-1.23") or a total, which as a sum of amounts
 * may exceed `amountMicrosMax`. The same spelling as `formatAmount`, with a minus sign and no bound.
 */
export function formatLedgerAmount(micros: bigint): string {
  return micros < 0n ? `-${formatMicros(-micros)}` : formatMicros(micros);
}

function formatMicros(micros: bigint): string {
  const whole = micros / microsPerUnit;
  const fraction = (micros % microsPerUnit).toString().padStart(amountScale, '0');
  return `${whole}.${fraction.replace(/0+$/, '').padEnd(2, '0')}`;
}
