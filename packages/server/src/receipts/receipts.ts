import { compactVerify, CompactSign, importJWK, type JWK } from 'jose';
import type { ReceiptClaims } from '@mite/protocol';
import type { ReceiptKey } from './receipt-keys.ts';

/** The media type of a receipt's JWS payload. */
export const receiptType = 'mite-receipt+jwt';

/**
 * What a receipt says (the protocol's claims): the platform received this payment for this
 * merchant's resource. The payer appears only as a merchant-scoped pseudonym.
 */
export type { ReceiptClaims } from '@mite/protocol';

/** Signs a receipt as a compact JWS (EdDSA), which any JOSE library can verify. */
export async function signReceipt(claims: ReceiptClaims, key: ReceiptKey): Promise<string> {
  const payload = new TextEncoder().encode(JSON.stringify(claims));
  return new CompactSign(payload)
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: receiptType })
    .sign(key.privateKey);
}

export type ReceiptCheck =
  | { readonly ok: true; readonly claims: ReceiptClaims }
  | { readonly ok: false; readonly reason: 'malformed' | 'unknownKey' | 'badSignature' };

/** Verifies a receipt against a JWKS: offline, as the merchant middleware will. */
export async function verifyReceipt(receipt: string, jwks: { keys: JWK[] }): Promise<ReceiptCheck> {
  const [encodedHeader] = receipt.split('.');
  let kid: unknown;
  try {
    kid = JSON.parse(Buffer.from(encodedHeader ?? '', 'base64url').toString('utf8')).kid;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const jwk = jwks.keys.find((candidate) => candidate.kid === kid);
  if (jwk === undefined) return { ok: false, reason: 'unknownKey' };
  try {
    const { payload, protectedHeader } = await compactVerify(
      receipt,
      await importJWK(jwk, 'EdDSA'),
    );
    if (protectedHeader.typ !== receiptType) return { ok: false, reason: 'malformed' };
    return { ok: true, claims: JSON.parse(new TextDecoder().decode(payload)) as ReceiptClaims };
  } catch {
    return { ok: false, reason: 'badSignature' };
  }
}
