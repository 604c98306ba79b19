/**
 * The session grant (protocol's session-grant.ts): the platform's signed word to the merchant
 * that it holds the session's deposit, and which commitment the vouchers must match. Signed with
 * the receipt key, so the merchant verifies it with the JWKS it already caches for receipts; the
 * `typ` (`mite-session+jwt`) keeps a grant from passing for a receipt and a receipt for a grant.
 * Ed25519 signatures are deterministic, so a grant signed again from the same row is the same
 * bytes: a retry of an open or a top-up gets its grant again without storing it.
 */
import { sign } from 'node:crypto';
import { type SessionGrantClaims, sessionGrantMediaType } from '@mite/protocol';
import type { ReceiptKey } from '../receipts/receipt-keys.ts';
import type { HoldRow, SessionRow } from './session-records.ts';

export function signSessionGrant(claims: SessionGrantClaims, key: ReceiptKey): string {
  const header = Buffer.from(
    JSON.stringify({ alg: 'EdDSA', kid: key.kid, typ: sessionGrantMediaType }),
  ).toString('base64url');
  const signingInput = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = sign(null, Buffer.from(signingInput), key.privateKey);
  return `${signingInput}.${signature.toString('base64url')}`;
}

/**
 * The grant's claims for a session as it stands: its deposit is what its held holds add up to,
 * its sequence how many of them came after the first. `issuedAt` is the newest held hold's time,
 * so the same session state always gives the same grant.
 */
export function grantClaimsOf(
  row: SessionRow,
  holds: readonly HoldRow[],
  payer: string,
): SessionGrantClaims {
  const held = holds.filter((hold) => hold.state === 'held');
  const newest = held.reduce(
    (latest, hold) => (hold.created_at > latest ? hold.created_at : latest),
    row.opened_at,
  );
  const commitment =
    row.voucher_kind === 'payword'
      ? { anchor: row.commitment, chainLength: row.chain_length ?? 0 }
      : { voucherKey: row.commitment };
  return {
    channelId: row.id,
    merchantId: row.merchant_id,
    resource: row.resource,
    challengeId: row.challenge_id,
    payer,
    currency: 'USD',
    amount: row.unit_price_micros,
    unitType: row.unit_type,
    deposit: row.deposit_micros,
    minVoucherDelta: row.min_voucher_delta_micros,
    voucherKind: row.voucher_kind,
    ...commitment,
    issuedAt: Math.floor(Number(newest) / 1000),
    openUntil: Math.floor(Number(row.open_until) / 1000),
    sequence: Math.max(0, held.length - 1),
  };
}
