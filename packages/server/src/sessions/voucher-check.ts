/**
 * Whether a voucher may raise a session's accepted amount, judged against the session as the
 * platform holds it: the same rules the merchant's middleware applies offline (issue 16 item 2),
 * since a merchant's checkpoint, a merchant's close and a client's close all bring vouchers here.
 * Ed25519 is checked with node:crypto against a key object made once per session; PayWord with one
 * SHA-256 per unit from the last accepted word.
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import {
  decodeBase64url,
  paywordWordMatches,
  type SessionVoucher,
  voucherMessage,
} from '@mite/protocol';
import { LRUCache } from 'lru-cache';
import { fail, ok, type Result } from '../result.ts';
import type { SessionRow } from './session-records.ts';

/** Session voucher keys kept as key objects. */
export const voucherKeysCachedMax = 10_000;

export type VoucherRefusal =
  | 'sessionNotFound'
  | 'voucherInvalid'
  | 'voucherExceedsDeposit'
  | 'voucherStale'
  | 'voucherDeltaTooSmall';

/** What a voucher does to a session: nothing new (the same or an older one), or raise it. */
export type VoucherVerdict =
  | { readonly kind: 'current' }
  | { readonly kind: 'older' }
  | { readonly kind: 'raises'; readonly proof: string };

export function createVoucherCheck() {
  const keys = new LRUCache<string, KeyObject>({ max: voucherKeysCachedMax });

  function keyOf(row: SessionRow): KeyObject {
    let key = keys.get(row.id);
    if (key === undefined) {
      key = createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: row.commitment },
        format: 'jwk',
      });
      keys.set(row.id, key);
    }
    return key;
  }

  /**
   * The verdict on `voucher` for `row`. An older voucher is refused as stale unless `olderIsFine`
   * (a close with an older voucher changes nothing, and says so without failing).
   */
  function check(
    row: SessionRow,
    voucher: SessionVoucher,
    olderIsFine: boolean,
  ): Result<VoucherVerdict, VoucherRefusal> {
    if (voucher.channelId !== row.id) {
      return fail('sessionNotFound', `this voucher is for session ${voucher.channelId}`);
    }
    const accepted = BigInt(row.accepted_micros);
    const amount = voucher.cumulativeMicros;
    if (amount < accepted) {
      return olderIsFine
        ? ok({ kind: 'older' })
        : fail('voucherStale', `the accepted voucher is ${accepted}; this one names ${amount}`);
    }
    if (amount > BigInt(row.deposit_micros)) {
      return fail(
        'voucherExceedsDeposit',
        `the session holds ${row.deposit_micros}; this voucher names ${amount}`,
      );
    }
    if (!proofValid(row, voucher, accepted)) {
      return fail(
        'voucherInvalid',
        'the voucher\u2019s proof does not match the session\u2019s commitment',
      );
    }
    if (amount === accepted) return ok({ kind: 'current' });
    const delta = amount - accepted;
    const deltaMin = BigInt(row.min_voucher_delta_micros);
    if (delta < deltaMin && amount !== BigInt(row.deposit_micros)) {
      return fail(
        'voucherDeltaTooSmall',
        `vouchers step by ${deltaMin} at least; this one by ${delta}`,
      );
    }
    return ok({ kind: 'raises', proof: proofText(voucher) });
  }

  function proofValid(row: SessionRow, voucher: SessionVoucher, acceptedMicros: bigint): boolean {
    const { proof } = voucher;
    if (proof.kind !== row.voucher_kind) return false;
    if (proof.kind === 'ed25519') {
      return verify(
        null,
        voucherMessage(row.id, voucher.cumulativeMicros),
        keyOf(row),
        proof.signature,
      );
    }
    const unitMicros = BigInt(row.unit_price_micros);
    if (voucher.cumulativeMicros % unitMicros !== 0n) return false;
    const units = Number(voucher.cumulativeMicros / unitMicros);
    if (units > (row.chain_length ?? 0)) return false;
    const knownUnits = Number(acceptedMicros / unitMicros);
    const known = decodeBase64url(row.accepted_proof ?? row.commitment, 64);
    if (!known.ok) throw new Error(`bug: session ${row.id} keeps a word that does not decode`);
    if (units === knownUnits) return sameBytes(proof.word, known.value);
    return paywordWordMatches(proof.word, units, known.value, knownUnits);
  }

  return { check };
}

export type VoucherCheck = ReturnType<typeof createVoucherCheck>;

function proofText(voucher: SessionVoucher): string {
  const bytes = voucher.proof.kind === 'payword' ? voucher.proof.word : voucher.proof.signature;
  return Buffer.from(bytes).toString('base64url');
}

function sameBytes(left: Uint8Array, right: Uint8Array): boolean {
  return left.length === right.length && Buffer.compare(left, right) === 0;
}
