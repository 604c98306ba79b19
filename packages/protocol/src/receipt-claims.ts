/**
 * What the platform's signed receipt says (the payload of its compact JWS): this payer paid this
 * merchant this amount for this resource, which stays open until `accessUntil`. The signature is
 * checked by the middleware against the platform's JWKS; this only reads the payload it vouches for.
 */
import * as z from 'zod/mini';
import { parsePositiveAmount } from './amounts.ts';
import { challengeIdLength } from './challenge.ts';
import {
  amountTextSchema,
  chargedAmountTextSchema,
  currencySchema,
  decodeWithSchema,
  identifierSchema,
  resourceSchema,
  timestampSecondsSchema,
} from './fields.ts';
import { type Decoded } from './problems.ts';

/** The media type in a receipt's JWS header (`typ`). */
export const receiptMediaType = 'mite-receipt+jwt';

export interface ReceiptClaims {
  readonly paymentId: string;
  readonly merchantId: string;
  readonly resource: string;
  readonly amount: string;
  readonly currency: string;
  /** The payer as this merchant sees them: a merchant-scoped pseudonym. */
  readonly payer: string;
  /** Seconds since the epoch: when the platform took the payment. */
  readonly issuedAt: number;
  /** Seconds since the epoch: the resource stays open until then. */
  readonly accessUntil: number;
  /** The challenge the payment answered, when it answered one. */
  readonly challengeId?: string;
  /**
   * The full price, when the merchant's fair-price cap lowered what this payment charged
   * (`amount`, then less, or zero once the user reached the cap this month). The platform signs
   * it so that the merchant's middleware accepts the lower amount for a challenge of this price,
   * for this merchant only.
   */
  readonly fairPriceCap?: string;
}

/**
 * Strict: a claim this version does not know might restrict the receipt, and ignoring a
 * restriction is worse than refusing the receipt.
 */
export const receiptClaimsSchema: z.ZodMiniType<ReceiptClaims> = z
  .strictObject({
    paymentId: identifierSchema,
    merchantId: identifierSchema,
    resource: resourceSchema,
    amount: chargedAmountTextSchema,
    currency: currencySchema,
    payer: identifierSchema,
    issuedAt: timestampSecondsSchema,
    accessUntil: timestampSecondsSchema,
    challengeId: z.exactOptional(
      z
        .string()
        .check(
          z.length(challengeIdLength, `${challengeIdLength} characters of base64url`),
          z.regex(/^[A-Za-z0-9_-]+$/, 'base64url characters only'),
        ),
    ),
    fairPriceCap: z.exactOptional(amountTextSchema),
  })
  .check(
    // Only a merchant's fair-price cap makes a payment cheaper, down to nothing, and then the
    // platform signs the full price beside it.
    z.refine((claims) => claims.fairPriceCap !== undefined || isPositive(claims.amount), {
      message: 'a receipt pays a positive amount unless it names a fair-price cap',
      path: ['amount'],
      params: { protocolCode: 'badAmount' },
    }),
    z.refine((claims) => claims.accessUntil >= claims.issuedAt, {
      message: 'accessUntil is before issuedAt',
      path: ['accessUntil'],
      params: { protocolCode: 'badTimestamp' },
    }),
  );

function isPositive(amount: string): boolean {
  return parsePositiveAmount(amount).ok;
}

/** Validates a receipt's payload, as parsed from its JSON. */
export function decodeReceiptClaims(json: unknown): Decoded<ReceiptClaims> {
  return decodeWithSchema(receiptClaimsSchema, json, 'receipt');
}
