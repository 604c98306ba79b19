/**
 * Amounts as the pages take them: decimal strings of dollars with at most two decimals, checked
 * as integers of cents (never as floating-point numbers) before anything is sent.
 */

/** Top-ups the platform takes: whole cents from 1.00 to 500.00 (topup-service.ts). */
export const topUpCentsMin = 100n;
export const topUpCentsMax = 50_000n;

const amountPattern = /^(0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?$/;

/** Cents of a typed amount ("12", "12.5", "12.50"), or undefined when it is not one. */
export function centsOf(text: string): bigint | undefined {
  const trimmed = text.trim();
  if (!amountPattern.test(trimmed)) return undefined;
  const [whole = '0', fraction = ''] = trimmed.split('.');
  return BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
}

/** "12.50" for 1250 cents: the form the API takes. */
export function formatCents(cents: bigint): string {
  const whole = cents / 100n;
  const fraction = (cents % 100n).toString().padStart(2, '0');
  return `${whole}.${fraction}`;
}

/** An API amount ("12.500000", "0.02") shown to a person: "$12.50", "$0.02", "$0.0005". */
export function showAmount(amount: string): string {
  const [whole = '0', fraction = ''] = amount.split('.');
  const trimmed = fraction.replace(/0+$/, '').padEnd(2, '0');
  return `$${whole}.${trimmed}`;
}

/** Micro-units per dollar: the API's amounts have at most 6 decimals. */
const microsPerDollar = 1_000_000n;

const microAmountPattern = /^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?$/;

/**
 * Micro-units of a typed amount with up to 6 decimals ("0.005"), or undefined when it is not one
 * (a sign, letters, more decimals).
 */
export function microsOf(text: string): bigint | undefined {
  const trimmed = text.trim();
  if (!microAmountPattern.test(trimmed)) return undefined;
  const [whole = '0', fraction = ''] = trimmed.split('.');
  return BigInt(whole) * microsPerDollar + BigInt(fraction.padEnd(6, '0'));
}

/** "0.005" for 5000 micro-units, "12.50" for 12.5 dollars: the API's form, at least 2 decimals. */
export function formatMicros(micros: bigint): string {
  const whole = micros / microsPerDollar;
  const fraction = (micros % microsPerDollar).toString().padStart(6, '0').replace(/0+$/, '');
  return `${whole}.${fraction.padEnd(2, '0')}`;
}

const ledgerAmountPattern = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]{1,6}))?$/;

/**
 * Micro-units of an amount the platform computed rather than one a person wrote: a total, which
 * may be negative (refunds after the period's sales) or pass the largest single amount. Undefined
 * when the text is not one.
 */
export function ledgerMicrosOf(text: string): bigint | undefined {
  const match = ledgerAmountPattern.exec(text);
  if (match === null) return undefined;
  const micros =
    BigInt(match[2] ?? '0') * microsPerDollar + BigInt((match[3] ?? '').padEnd(6, '0'));
  return match[1] === '-' ? -micros : micros;
}

/** Micro-units shown to a person, signed: "$12.50", "−$0.0005". */
export function showMicros(micros: bigint): string {
  return micros < 0n ? `−${showAmount(formatMicros(-micros))}` : showAmount(formatMicros(micros));
}

/** A total the platform computed ("-1.5", "1234567890123.25") shown to a person. */
export function showTotal(text: string): string {
  const micros = ledgerMicrosOf(text);
  return micros === undefined ? text : showMicros(micros);
}

/** A percentage as typed ("5", "12.5", "100"): at most two decimals, up to 100. */
const percentPattern = /^(100|[1-9]?[0-9])(?:\.([0-9]{1,2}))?$/;

/** Basis points of a typed percentage ("12.5" is 1250), or undefined when it is not one. */
export function basisPointsOf(percent: string): number | undefined {
  const match = percentPattern.exec(percent.trim());
  if (match === null) return undefined;
  const points = Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
  return points <= 10_000 ? points : undefined;
}
