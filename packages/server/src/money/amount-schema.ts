import { z } from 'zod';
import { formatAmount, parseAmount } from './amounts.ts';

/** An amount on the wire: a decimal string of the currency's major unit. */
export const amountSchema = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,12})(\.[0-9]{1,6})?$/, 'a decimal string with at most 6 decimals')
  .describe('A decimal amount in the currency\u2019s major unit, e.g. "0.02"');

/** Micro-units of a wire amount that already passed `amountSchema`. */
export function microsOf(amount: string): bigint {
  const parsed = parseAmount(amount);
  if (!parsed.ok) throw new Error(`bug: an amount passed its schema but not the parser: ${amount}`);
  return parsed.micros;
}

export { formatAmount };
