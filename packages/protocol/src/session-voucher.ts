/**
 * A session's vouchers: the client's word that it owes the merchant `cumulativeAmount` in total
 * on session `channelId`. Cumulative amounts only grow, so the last voucher is all the merchant
 * needs to be paid, and a lost or repeated voucher costs nobody anything. Two proofs (see
 * session-challenge.ts): a PayWord word (payword.ts) when every unit costs the same, or an Ed25519
 * signature when amounts vary. Both are checked offline against the session grant's commitment
 * (the chain's anchor, or the client's voucher key), which the platform signed at open.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import * as z from 'zod/mini';
import { formatBaseUnits, parseBaseUnits } from './amounts.ts';
import { decodeBase64url, encodeBase64url } from './base64url.ts';
import { utf8Bytes } from './canonical-json.ts';
import { decodeWithSchema } from './fields.ts';
import { paywordWordLength } from './payword.ts';
import { accepted, type Decoded, refused } from './problems.ts';

/** Characters of a session id: `ses_` and a UUID's 32 hex digits. */
export const sessionIdPattern = /^ses_[0-9a-f]{32}$/;
/** Bytes of an Ed25519 public key, and of a signature. */
export const voucherKeyLength = 32;
export const voucherSignatureLength = 64;

/** How a voucher proves its amount. */
export type VoucherProof =
  | { readonly kind: 'payword'; readonly word: Uint8Array }
  | { readonly kind: 'ed25519'; readonly signature: Uint8Array };

export interface SessionVoucher {
  readonly channelId: string;
  /** Everything owed on the session so far, in micro-units. */
  readonly cumulativeMicros: bigint;
  readonly proof: VoucherProof;
}

/** A voucher as JSON: `payword` (the word) or `signature`, base64url. */
export interface SessionVoucherWire {
  readonly channelId: string;
  readonly cumulativeAmount: string;
  readonly payword?: string;
  readonly signature?: string;
}

const base64urlOf = (bytes: number) => new RegExp(`^[A-Za-z0-9_-]{${Math.ceil((bytes * 4) / 3)}}$`);

export const sessionIdSchema = z
  .string()
  .check(z.regex(sessionIdPattern, 'a session id is "ses_" and 32 lower-case hex digits'));

/** Cumulative amounts may be zero (a session closed before any unit was served). */
const cumulativeAmountSchema = z
  .string()
  .check(z.maxLength(20), z.regex(/^(0|[1-9][0-9]*)$/, 'an integer of base units'));

export const sessionVoucherWireSchema: z.ZodMiniType<SessionVoucherWire> = z.strictObject({
  channelId: sessionIdSchema,
  cumulativeAmount: cumulativeAmountSchema,
  payword: z.exactOptional(
    z.string().check(z.regex(base64urlOf(paywordWordLength), 'a word is 32 bytes, base64url')),
  ),
  signature: z.exactOptional(
    z
      .string()
      .check(z.regex(base64urlOf(voucherSignatureLength), 'a signature is 64 bytes, base64url')),
  ),
});

/** A voucher's JSON. */
export function sessionVoucherWire(voucher: SessionVoucher): SessionVoucherWire {
  const base = {
    channelId: voucher.channelId,
    cumulativeAmount: voucher.cumulativeMicros.toString(),
  };
  return voucher.proof.kind === 'payword'
    ? { ...base, payword: encodeBase64url(voucher.proof.word) }
    : { ...base, signature: encodeBase64url(voucher.proof.signature) };
}

/** Validates a voucher's JSON: one proof, canonical base64url, an amount in range. */
export function decodeSessionVoucher(json: unknown): Decoded<SessionVoucher> {
  const wire = decodeWithSchema(sessionVoucherWireSchema, json, 'voucher');
  if (!wire.ok) return wire;
  const { channelId, cumulativeAmount, payword, signature } = wire.value;
  const cumulativeMicros =
    cumulativeAmount === '0' ? accepted(0n) : parseBaseUnits(cumulativeAmount);
  if (!cumulativeMicros.ok) return cumulativeMicros;
  if ((payword === undefined) === (signature === undefined)) {
    return refused('badValue', 'a voucher carries exactly one of payword and signature');
  }
  const proofText = payword ?? signature ?? '';
  const proofLength = payword === undefined ? voucherSignatureLength : paywordWordLength;
  const bytes = decodeBase64url(proofText, Math.ceil((proofLength * 4) / 3));
  if (!bytes.ok || bytes.value.length !== proofLength) {
    return refused('badBase64', 'a voucher proof is canonical base64url of its length');
  }
  const proof: VoucherProof =
    payword === undefined
      ? { kind: 'ed25519', signature: bytes.value }
      : { kind: 'payword', word: bytes.value };
  return accepted({ channelId, cumulativeMicros: cumulativeMicros.value, proof });
}

// What an Ed25519 voucher signs: a domain tag, the session and the amount, newline-separated
// (neither can hold a newline), so that no voucher of one session verifies for another.
const voucherDomain = 'mite-session-voucher-v1';

/** The bytes an Ed25519 voucher signs. */
export function voucherMessage(channelId: string, cumulativeMicros: bigint): Uint8Array {
  return utf8Bytes(`${voucherDomain}\n${channelId}\n${cumulativeMicros.toString()}`);
}

/** A client's voucher key pair: the public key goes into the grant, the secret stays. */
export function voucherKeyPair(): {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
} {
  const secretKey = ed25519.utils.randomSecretKey();
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

/** Signs a cumulative amount (browsers and Node alike; the merchant verifies with node:crypto). */
export function signVoucher(
  secretKey: Uint8Array,
  channelId: string,
  cumulativeMicros: bigint,
): SessionVoucher {
  const signature = ed25519.sign(voucherMessage(channelId, cumulativeMicros), secretKey);
  return { channelId, cumulativeMicros, proof: { kind: 'ed25519', signature } };
}

/** Verifies an Ed25519 voucher with the portable implementation (no node:crypto). */
export function voucherSignatureValid(voucher: SessionVoucher, publicKey: Uint8Array): boolean {
  if (voucher.proof.kind !== 'ed25519') return false;
  const message = voucherMessage(voucher.channelId, voucher.cumulativeMicros);
  try {
    return ed25519.verify(voucher.proof.signature, message, publicKey);
  } catch {
    return false;
  }
}

/** A voucher's amount as base units on the wire (zero is "0"). */
export function formatCumulative(micros: bigint): string {
  return micros === 0n ? '0' : formatBaseUnits(micros);
}
