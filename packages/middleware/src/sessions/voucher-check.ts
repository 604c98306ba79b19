/**
 * A voucher checked against its session, offline and fast: the cheap rules first (state, kind,
 * order, deposit, step), then the proof. A PayWord word is hashed forward to the last accepted
 * word, one SHA-256 per unit (node:crypto's one-shot `hash`); an Ed25519 signature is checked with
 * node:crypto's `verify` against a `KeyObject` made once per session and cached, since importing
 * the key costs as much as the check. Nothing here writes: the caller raises the accepted voucher
 * in the store, whose conditional write settles races.
 */
import { createPublicKey, hash, type KeyObject, verify } from 'node:crypto';
import {
  encodeBase64url,
  type ExplainedFailure,
  paywordWordLength,
  type SessionVoucher,
  voucherMessage,
} from '@mite/protocol';
import type { StoredSession } from './session-store.ts';

/**
 * The most units one PayWord voucher may advance past the accepted one: each costs a hash, so a
 * forged voucher far ahead would cost the merchant that many before it is refused (10,000 is about
 * 10 ms of one core).
 */
export const paywordStepsPerVoucherMax = 10_000;
/** Sessions whose Ed25519 voucher key is kept imported. */
export const voucherKeyCacheSizeMax = 10_000;

export type VoucherRefusalCode =
  | 'voucherInvalid'
  | 'voucherExceedsDeposit'
  | 'voucherDeltaTooSmall'
  | 'voucherStale'
  | 'sessionClosed';

/** `raise`: a valid voucher above the accepted one. `current`: the accepted one again. */
export type VoucherVerdict =
  | { readonly kind: 'raise'; readonly proof: Uint8Array }
  | { readonly kind: 'current' }
  | ExplainedFailure<VoucherRefusalCode>;

const current: VoucherVerdict = { kind: 'current' };

function refuse(code: VoucherRefusalCode, detail: string): VoucherVerdict {
  return { ok: false, code, detail };
}

/** Imported voucher keys by session, the oldest forgotten first. */
export interface VoucherKeyCache {
  keyOf(channelId: string, raw: Uint8Array): KeyObject | undefined;
}

export function createVoucherKeyCache(sizeMax = voucherKeyCacheSizeMax): VoucherKeyCache {
  const keys = new Map<string, { readonly raw: Uint8Array; readonly key: KeyObject }>();
  return {
    keyOf(channelId, raw) {
      const held = keys.get(channelId);
      if (held !== undefined && Buffer.compare(held.raw, raw) === 0) return held.key;
      let key: KeyObject;
      try {
        key = createPublicKey({
          key: { kty: 'OKP', crv: 'Ed25519', x: encodeBase64url(raw) },
          format: 'jwk',
        });
      } catch {
        return undefined;
      }
      keys.delete(channelId);
      if (keys.size >= sizeMax) {
        const oldest = keys.keys().next();
        if (oldest.done !== true) keys.delete(oldest.value);
      }
      keys.set(channelId, { raw, key });
      return key;
    },
  };
}

function sameBytes(left: Uint8Array, right: Uint8Array): boolean {
  return left.length === right.length && Buffer.compare(left, right) === 0;
}

/** Whether hashing `word` `steps` times gives `known`. */
function chainReaches(word: Uint8Array, steps: number, known: Uint8Array): boolean {
  if (word.length !== paywordWordLength) return false;
  let current: Uint8Array = word;
  for (let step = 0; step < steps; step += 1) current = hash('sha256', current, 'buffer');
  return sameBytes(current, known);
}

function checkPayword(
  session: StoredSession,
  voucher: SessionVoucher,
  word: Uint8Array,
): VoucherVerdict {
  const { commitment, unitPriceMicros, acceptedMicros } = session;
  if (commitment.kind !== 'payword')
    return refuse('voucherInvalid', 'the session takes signed vouchers');
  const { cumulativeMicros } = voucher;
  if (cumulativeMicros % unitPriceMicros !== 0n) {
    return refuse('voucherInvalid', 'a PayWord voucher pays whole units');
  }
  const units = cumulativeMicros / unitPriceMicros;
  if (units > BigInt(commitment.chainLength)) {
    return refuse('voucherExceedsDeposit', 'the voucher goes beyond the committed chain');
  }
  const steps = Number(units - acceptedMicros / unitPriceMicros);
  if (steps > paywordStepsPerVoucherMax) {
    return refuse(
      'voucherInvalid',
      `a PayWord voucher advances at most ${paywordStepsPerVoucherMax} units at once`,
    );
  }
  return chainReaches(word, steps, session.proof)
    ? { kind: 'raise', proof: word }
    : refuse('voucherInvalid', 'the PayWord word does not hash to the accepted one');
}

function checkSignature(
  session: StoredSession,
  voucher: SessionVoucher,
  signature: Uint8Array,
  keys: VoucherKeyCache,
): boolean {
  if (session.commitment.kind !== 'ed25519') return false;
  const key = keys.keyOf(session.channelId, session.commitment.voucherKey);
  if (key === undefined) return false;
  try {
    return verify(
      null,
      voucherMessage(voucher.channelId, voucher.cumulativeMicros),
      key,
      signature,
    );
  } catch {
    return false;
  }
}

/**
 * The accepted voucher shown again: its very proof, or (signatures) another valid one. Before any
 * voucher, a PayWord voucher of 0 is the anchor itself (a client closing at once).
 */
function checkCurrent(
  session: StoredSession,
  voucher: SessionVoucher,
  keys: VoucherKeyCache,
): VoucherVerdict {
  const { proof } = voucher;
  const bytes = proof.kind === 'payword' ? proof.word : proof.signature;
  if (sameBytes(bytes, session.proof)) return current;
  if (proof.kind === 'ed25519' && checkSignature(session, voucher, bytes, keys)) return current;
  return refuse('voucherInvalid', 'the voucher does not prove the accepted amount');
}

/**
 * The verdict on a voucher for this session at `nowSeconds` (the caller has found the session by
 * the voucher's `channelId`).
 */
export function checkVoucher(
  session: StoredSession,
  voucher: SessionVoucher,
  keys: VoucherKeyCache,
  nowSeconds: number,
): VoucherVerdict {
  if (session.state !== 'open' || nowSeconds >= session.openUntilSeconds) {
    return refuse('sessionClosed', 'the session is closed');
  }
  const { proof, cumulativeMicros } = voucher;
  if (proof.kind !== session.commitment.kind) {
    return refuse('voucherInvalid', `the session takes ${session.commitment.kind} vouchers`);
  }
  const { acceptedMicros, depositMicros, minVoucherDeltaMicros } = session;
  if (cumulativeMicros < acceptedMicros) {
    return refuse('voucherStale', `a voucher of ${acceptedMicros} was accepted already`);
  }
  if (cumulativeMicros === acceptedMicros) return checkCurrent(session, voucher, keys);
  if (cumulativeMicros > depositMicros) {
    return refuse('voucherExceedsDeposit', `the deposit is ${depositMicros}`);
  }
  if (
    cumulativeMicros - acceptedMicros < minVoucherDeltaMicros &&
    cumulativeMicros !== depositMicros
  ) {
    return refuse('voucherDeltaTooSmall', `a voucher adds at least ${minVoucherDeltaMicros}`);
  }
  if (proof.kind === 'payword') return checkPayword(session, voucher, proof.word);
  return checkSignature(session, voucher, proof.signature, keys)
    ? { kind: 'raise', proof: proof.signature }
    : refuse('voucherInvalid', 'the voucher signature does not verify');
}
