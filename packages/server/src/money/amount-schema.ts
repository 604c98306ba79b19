/**
 * The API's amount fields as a zod schema, for Fastify's validation and the OpenAPI document. Kept
 * in the server because it is built on the full zod with descriptions for the document, where the
 * protocol package uses zod/mini; the amounts themselves are the protocol's.
 */
import { formatAmount, parseAmount } from '@mite/protocol';
import { z } from 'zod';

/**
 * Exactly the texts `parseAmount` accepts: up to 12 whole digits, or 10^12 itself (the largest
 * amount), with at most 6 decimals. The pattern states the upper bound, rather than 13 digits and
 * a check after, so that the OpenAPI document tells clients the real limit and nothing the schema
 * lets through can fail the parser.
 */
export const amountPattern =
  /^(?:(?:0|[1-9][0-9]{0,11})(?:\.[0-9]{1,6})?|1000000000000(?:\.0{1,6})?)$/;

/** An amount on the wire: a decimal string of the currency's major unit. */
export const amountSchema = z
  .string()
  .regex(amountPattern, 'a decimal string up to 1000000000000 with at most 6 decimals')
  .describe(
    'A decimal amount in the currency\u2019s major unit, e.g. "0.02": no sign, no exponent, at ' +
      'most 6 decimals, at most 1000000000000',
  );

/** Micro-units of a wire amount that already passed `amountSchema`. */
export function microsOf(amount: string): bigint {
  const parsed = parseAmount(amount);
  if (!parsed.ok) throw new Error(`bug: an amount passed its schema but not the parser: ${amount}`);
  return parsed.value;
}

/** Forwarded for the routes that import the schema and the formatter together. */
export { formatAmount };
