/**
 * The platform's session grant: a compact JWS (EdDSA, `typ` `mite-session+jwt`, signed with the
 * receipt keys of the platform's JWKS) saying that the platform holds `deposit` of the payer's
 * money for session `channelId` with this merchant, at this price per unit, and which commitment
 * (a PayWord anchor or the client's voucher key) the session's vouchers must match. The merchant
 * verifies it offline, as it verifies receipts. A top-up is a new grant for the same session with
 * a larger deposit and the next `sequence`; the merchant keeps the one with the highest.
 */
import * as z from 'zod/mini';
import { decodeBase64url } from './base64url.ts';
import {
  baseUnitsSchema,
  currencySchema,
  decodeWithSchema,
  identifierSchema,
  resourceSchema,
  timestampSecondsSchema,
} from './fields.ts';
import { paywordChainLengthMax, paywordWordLength } from './payword.ts';
import { accepted, type Decoded, refused } from './problems.ts';
import { type SessionUnitType, sessionUnitTypes, type VoucherKind } from './session-challenge.ts';
import { sessionIdSchema, voucherKeyLength } from './session-voucher.ts';
import { challengeIdLength } from './challenge.ts';

/** The media type in a grant's JWS header (`typ`). */
export const sessionGrantMediaType = 'mite-session+jwt';
/** Top-ups of one session at most: each is a new grant. */
export const sessionTopUpsMax = 1_000;

export interface SessionGrantClaims {
  readonly channelId: string;
  readonly merchantId: string;
  readonly resource: string;
  /** The session challenge the session was opened for. */
  readonly challengeId: string;
  /** The payer as this merchant sees them: a merchant-scoped pseudonym. */
  readonly payer: string;
  readonly currency: string;
  /** The price of one unit, in base units. */
  readonly amount: string;
  readonly unitType: SessionUnitType;
  /** What the platform holds for the session in all, in base units: no voucher may pass it. */
  readonly deposit: string;
  readonly minVoucherDelta: string;
  readonly voucherKind: VoucherKind;
  /** PayWord: the chain's anchor (base64url) and length in units. */
  readonly anchor?: string;
  readonly chainLength?: number;
  /** Ed25519: the client's voucher public key (base64url). */
  readonly voucherKey?: string;
  /** Seconds since the epoch. */
  readonly issuedAt: number;
  /** The session is settled by then at the latest; a merchant serves nothing after it. */
  readonly openUntil: number;
  /** 0 at open, one more for each top-up. */
  readonly sequence: number;
}

const base64urlBytes = (length: number, what: string) =>
  z.string().check(z.regex(new RegExp(`^[A-Za-z0-9_-]{${Math.ceil((length * 4) / 3)}}$`), what));

const grantClaimsSchema: z.ZodMiniType<SessionGrantClaims> = z.strictObject({
  channelId: sessionIdSchema,
  merchantId: identifierSchema,
  resource: resourceSchema,
  challengeId: z.string().check(z.length(challengeIdLength)),
  payer: identifierSchema,
  currency: currencySchema,
  amount: baseUnitsSchema,
  unitType: z.enum(sessionUnitTypes),
  deposit: baseUnitsSchema,
  minVoucherDelta: baseUnitsSchema,
  voucherKind: z.enum(['payword', 'ed25519']),
  anchor: z.exactOptional(base64urlBytes(paywordWordLength, 'an anchor is 32 bytes, base64url')),
  chainLength: z.exactOptional(z.int().check(z.minimum(1), z.maximum(paywordChainLengthMax))),
  voucherKey: z.exactOptional(base64urlBytes(voucherKeyLength, 'a key is 32 bytes, base64url')),
  issuedAt: timestampSecondsSchema,
  openUntil: timestampSecondsSchema,
  sequence: z.int().check(z.minimum(0), z.maximum(sessionTopUpsMax)),
});

/** A grant's commitment, decoded: what its vouchers are checked against. */
export type GrantCommitment =
  | { readonly kind: 'payword'; readonly anchor: Uint8Array; readonly chainLength: number }
  | { readonly kind: 'ed25519'; readonly voucherKey: Uint8Array };

/** Reads a grant's claims (whose signature the caller checked) and its commitment. */
export function decodeSessionGrantClaims(
  json: unknown,
): Decoded<{ readonly claims: SessionGrantClaims; readonly commitment: GrantCommitment }> {
  const claims = decodeWithSchema(grantClaimsSchema, json, 'grant');
  if (!claims.ok) return claims;
  const commitment = commitmentOf(claims.value);
  return commitment.ok
    ? accepted({ claims: claims.value, commitment: commitment.value })
    : commitment;
}

/** The commitment a grant names, with exactly the fields of its kind. */
export function commitmentOf(claims: SessionGrantClaims): Decoded<GrantCommitment> {
  const { voucherKind, anchor, chainLength, voucherKey } = claims;
  if (voucherKind === 'payword') {
    if (anchor === undefined || chainLength === undefined || voucherKey !== undefined) {
      return refused('badValue', 'a PayWord grant names its anchor and chain length only');
    }
    const bytes = decodeBase64url(anchor, 64);
    return bytes.ok ? accepted({ kind: 'payword', anchor: bytes.value, chainLength }) : bytes;
  }
  if (voucherKey === undefined || anchor !== undefined || chainLength !== undefined) {
    return refused('badValue', 'an Ed25519 grant names its voucher key only');
  }
  const bytes = decodeBase64url(voucherKey, 64);
  return bytes.ok ? accepted({ kind: 'ed25519', voucherKey: bytes.value }) : bytes;
}
