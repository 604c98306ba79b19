/**
 * Checks a purchase's receipt in the browser, as a merchant's middleware does: a compact JWS
 * signed with EdDSA (Ed25519) by a key of the platform's published key set (`/v1/keys`), whose
 * header says it is a Mite receipt and whose payload is a receipt's claims, by the protocol
 * package's own schema. jose does the JWS rules and the signature (the browser's WebCrypto does
 * Ed25519), so that the page believes the claims because of the signature, not because the
 * platform's JSON says so.
 */
import { type ReceiptClaims, decodeReceiptClaims, receiptMediaType } from '@mite/protocol';
import { compactVerify, createLocalJWKSet, errors, type JSONWebKeySet } from 'jose';

export type ReceiptVerification =
  | { readonly ok: true; readonly claims: ReceiptClaims; readonly kid: string }
  | {
      readonly ok: false;
      readonly code: 'unknownKey' | 'badSignature' | 'malformed';
      readonly detail: string;
    };

function refused(
  code: 'unknownKey' | 'badSignature' | 'malformed',
  detail: string,
): ReceiptVerification {
  return { ok: false, code, detail };
}

/** Verifies `jws` against `keySet` (the JSON of `/v1/keys`). */
export async function verifyReceipt(jws: string, keySet: unknown): Promise<ReceiptVerification> {
  if (
    typeof keySet !== 'object' ||
    keySet === null ||
    !Array.isArray((keySet as JSONWebKeySet).keys)
  ) {
    return refused('unknownKey', 'the platform\u2019s published keys could not be read');
  }
  let verified: Awaited<ReturnType<typeof compactVerify>>;
  try {
    verified = await compactVerify(jws, createLocalJWKSet(keySet as JSONWebKeySet), {
      algorithms: ['EdDSA', 'Ed25519'],
    });
  } catch (error) {
    if (error instanceof errors.JWKSNoMatchingKey) {
      return refused('unknownKey', 'it is signed by a key the platform does not publish');
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return refused('badSignature', 'its signature does not match its contents');
    }
    return refused('malformed', 'it is not a signed receipt');
  }
  if (verified.protectedHeader.typ !== receiptMediaType) {
    return refused('malformed', 'it is signed, but it is not a Mite receipt');
  }
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(verified.payload));
  } catch {
    return refused('malformed', 'its contents are not JSON');
  }
  const claims = decodeReceiptClaims(payload);
  if (!claims.ok)
    return refused('malformed', `its claims are not a receipt\u2019s: ${claims.detail}`);
  return { ok: true, claims: claims.value, kid: verified.protectedHeader.kid ?? '' };
}
