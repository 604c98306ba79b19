/**
 * The `Payment-Receipt` response header of the draft: base64url JSON saying the payment was
 * accepted, sent with the paid resource. Mite adds the challenge answered and the end of the
 * access period, so a client knows how long the resource stays open without asking.
 */
import * as z from 'zod/mini';
import { decodeBase64urlJson, encodeBase64urlJson } from './base64url.ts';
import {
  challengeIdLength,
  miteMethod,
  type MiteMethodName,
  miteTokenMethod,
} from './challenge.ts';
import { codedRefine, decodeWithSchema, identifierSchema } from './fields.ts';
import { headerLengthMax } from './auth-params.ts';
import { accepted, type Decoded } from './problems.ts';
import { formatTimestamp, parseTimestamp } from './timestamps.ts';

/** The response header's name. */
export const paymentReceiptHeaderName = 'Payment-Receipt';

export interface PaymentReceipt {
  readonly status: 'success';
  readonly method: MiteMethodName;
  /** When the payment was made (the receipt's `issuedAt`). */
  readonly timestampSeconds: number;
  /** The platform's payment id. */
  readonly reference: string;
  readonly challengeId: string;
  readonly accessUntilSeconds: number;
}

interface PaymentReceiptWire {
  readonly status: 'success';
  readonly method: MiteMethodName;
  readonly timestamp: string;
  readonly reference: string;
  readonly challengeId: string;
  readonly accessUntil: string;
}

const timestampTextSchema = z
  .string()
  .check(
    codedRefine(
      (text: string) => parseTimestamp(text).ok,
      'badTimestamp',
      'an RFC 3339 UTC timestamp to the second',
    ),
  );

const paymentReceiptWireSchema: z.ZodMiniType<PaymentReceiptWire> = z.strictObject({
  status: z.literal('success'),
  method: z.union([z.literal(miteMethod), z.literal(miteTokenMethod)]),
  timestamp: timestampTextSchema,
  reference: identifierSchema,
  challengeId: z
    .string()
    .check(
      z.length(challengeIdLength, `${challengeIdLength} characters of base64url`),
      z.regex(/^[A-Za-z0-9_-]+$/, 'base64url characters only'),
    ),
  accessUntil: timestampTextSchema,
});

/** The header value for a receipt. */
export function formatPaymentReceiptHeader(receipt: PaymentReceipt): string {
  const wire: PaymentReceiptWire = {
    status: receipt.status,
    method: receipt.method,
    timestamp: formatTimestamp(receipt.timestampSeconds),
    reference: receipt.reference,
    challengeId: receipt.challengeId,
    accessUntil: formatTimestamp(receipt.accessUntilSeconds),
  };
  return encodeBase64urlJson(wire);
}

/** Reads a `Payment-Receipt` value. */
export function parsePaymentReceiptHeader(header: string): Decoded<PaymentReceipt> {
  const json = decodeBase64urlJson(
    typeof header === 'string' ? header.trim() : header,
    headerLengthMax,
  );
  if (!json.ok) return json.code === 'valueTooLong' ? { ...json, code: 'headerTooLong' } : json;
  const wire = decodeWithSchema(paymentReceiptWireSchema, json.value, 'receipt');
  if (!wire.ok) return wire;
  const { timestamp, accessUntil, ...rest } = wire.value;
  const timestampSeconds = parseTimestamp(timestamp);
  const accessUntilSeconds = parseTimestamp(accessUntil);
  if (!timestampSeconds.ok) return timestampSeconds;
  if (!accessUntilSeconds.ok) return accessUntilSeconds;
  return accepted({
    ...rest,
    timestampSeconds: timestampSeconds.value,
    accessUntilSeconds: accessUntilSeconds.value,
  });
}
