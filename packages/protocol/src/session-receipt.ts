/**
 * What the merchant tells the client about a session, as the tempo session draft spells it: the
 * `Payment-Receipt` header on every metered response (and a `payment-receipt` server-sent event
 * at the end of a stream), and the `payment-need-voucher` event a stream sends when the accepted
 * vouchers are used up. Amounts are base units, as strings.
 */
import * as z from 'zod/mini';
import { headerLengthMax } from './auth-params.ts';
import { decodeBase64urlJson, encodeBase64urlJson } from './base64url.ts';
import { challengeIdLength, miteMethod } from './challenge.ts';
import { decodeWithSchema } from './fields.ts';
import { accepted, type Decoded, refused } from './problems.ts';
import { sessionIntent } from './session-challenge.ts';
import { sessionIdSchema } from './session-voucher.ts';
import { formatTimestamp, parseTimestamp } from './timestamps.ts';

/** The server-sent event asking for the next voucher. */
export const needVoucherEvent = 'payment-need-voucher';
/** The server-sent event carrying a stream's final receipt. */
export const sessionReceiptEvent = 'payment-receipt';

export interface SessionReceipt {
  readonly channelId: string;
  readonly challengeId: string;
  readonly timestampSeconds: number;
  /** The highest cumulative voucher the merchant accepted. */
  readonly acceptedCumulativeMicros: bigint;
  /** What the merchant has served in all. */
  readonly spentMicros: bigint;
  /** Units served by this response. */
  readonly units: number;
  /** The deposit not yet spent. */
  readonly remainingMicros: bigint;
  /** True once the session is closed: nothing more is served on it. */
  readonly final: boolean;
}

const integerText = z.string().check(z.maxLength(20), z.regex(/^(0|[1-9][0-9]*)$/));

const receiptWireSchema = z.strictObject({
  method: z.literal(miteMethod),
  intent: z.literal(sessionIntent),
  status: z.literal('success'),
  timestamp: z.string().check(z.maxLength(32)),
  reference: sessionIdSchema,
  channelId: sessionIdSchema,
  challengeId: z.string().check(z.length(challengeIdLength)),
  acceptedCumulative: integerText,
  spent: integerText,
  units: z.int().check(z.minimum(0)),
  remaining: integerText,
  final: z.boolean(),
});

/** The receipt as JSON (the header's base64url content, or an event's data). */
export function sessionReceiptJson(receipt: SessionReceipt): z.infer<typeof receiptWireSchema> {
  return {
    method: miteMethod,
    intent: sessionIntent,
    status: 'success',
    timestamp: formatTimestamp(receipt.timestampSeconds),
    reference: receipt.channelId,
    channelId: receipt.channelId,
    challengeId: receipt.challengeId,
    acceptedCumulative: receipt.acceptedCumulativeMicros.toString(),
    spent: receipt.spentMicros.toString(),
    units: receipt.units,
    remaining: receipt.remainingMicros.toString(),
    final: receipt.final,
  };
}

export function formatSessionReceiptHeader(receipt: SessionReceipt): string {
  return encodeBase64urlJson(sessionReceiptJson(receipt));
}

/** Reads a session receipt's JSON. */
export function decodeSessionReceipt(json: unknown): Decoded<SessionReceipt> {
  const wire = decodeWithSchema(receiptWireSchema, json, 'receipt');
  if (!wire.ok) return wire;
  const timestamp = parseTimestamp(wire.value.timestamp);
  if (!timestamp.ok) return timestamp;
  if (wire.value.reference !== wire.value.channelId) {
    return refused('badValue', 'receipt: reference must equal channelId');
  }
  return accepted({
    channelId: wire.value.channelId,
    challengeId: wire.value.challengeId,
    timestampSeconds: timestamp.value,
    acceptedCumulativeMicros: BigInt(wire.value.acceptedCumulative),
    spentMicros: BigInt(wire.value.spent),
    units: wire.value.units,
    remainingMicros: BigInt(wire.value.remaining),
    final: wire.value.final,
  });
}

/** Reads a session's `Payment-Receipt` header. */
export function parseSessionReceiptHeader(header: string): Decoded<SessionReceipt> {
  const json = decodeBase64urlJson(header.trim(), headerLengthMax);
  return json.ok ? decodeSessionReceipt(json.value) : json;
}

/** The data of a `payment-need-voucher` event. */
export interface NeedVoucher {
  readonly channelId: string;
  /** The least cumulative amount the next voucher must name. */
  readonly requiredCumulativeMicros: bigint;
  readonly acceptedCumulativeMicros: bigint;
  /** The deposit held: a required amount above it needs a top-up first. */
  readonly depositMicros: bigint;
}

const needVoucherSchema = z.strictObject({
  channelId: sessionIdSchema,
  requiredCumulative: integerText,
  acceptedCumulative: integerText,
  deposit: integerText,
});

export function formatNeedVoucher(need: NeedVoucher): string {
  return JSON.stringify({
    channelId: need.channelId,
    requiredCumulative: need.requiredCumulativeMicros.toString(),
    acceptedCumulative: need.acceptedCumulativeMicros.toString(),
    deposit: need.depositMicros.toString(),
  });
}

/** The longest `payment-need-voucher` data read: its JSON is about 150 characters. */
export const needVoucherLengthMax = 1024;

/** Reads a `payment-need-voucher` event's data (JSON text). */
export function parseNeedVoucher(data: string): Decoded<NeedVoucher> {
  if (typeof data !== 'string') return refused('wrongType', 'payment-need-voucher data is text');
  if (data.length > needVoucherLengthMax) {
    return refused('valueTooLong', `payment-need-voucher data is at most ${needVoucherLengthMax}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return refused('badJson', 'payment-need-voucher data is JSON');
  }
  const wire = decodeWithSchema(needVoucherSchema, json, 'event');
  if (!wire.ok) return wire;
  return accepted({
    channelId: wire.value.channelId,
    requiredCumulativeMicros: BigInt(wire.value.requiredCumulative),
    acceptedCumulativeMicros: BigInt(wire.value.acceptedCumulative),
    depositMicros: BigInt(wire.value.deposit),
  });
}
