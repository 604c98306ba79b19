/**
 * The client's secret side of a session's vouchers, kept in memory and never sent: a PayWord
 * chain drawn from a random seed (its anchor is committed at open), or an Ed25519 key pair (its
 * public key is committed). A PayWord chain has a fixed length, so the client commits to more
 * units than the first deposit pays for, leaving room for top-ups.
 */
import {
  encodeBase64url,
  paywordChain,
  paywordChainLengthMax,
  paywordSeedLengthMin,
  type SessionVoucher,
  signVoucher,
  type VoucherKind,
  voucherKeyPair,
} from '@mite/protocol';
import type { CommitmentWire } from './session-platform-client.ts';

/** A PayWord chain commits to this many times the units of the first deposit (top-ups). */
export const paywordChainHeadroom = 4;

export interface VoucherSigner {
  readonly kind: VoucherKind;
  readonly commitment: CommitmentWire;
  /** The most this signer can ever prove (PayWord: the chain's units); undefined: no limit. */
  readonly limitMicros: bigint | undefined;
  voucher(channelId: string, cumulativeMicros: bigint): SessionVoucher;
}

function paywordSigner(unitPriceMicros: bigint, depositMicros: bigint): VoucherSigner {
  const units = Number(depositMicros / unitPriceMicros) * paywordChainHeadroom;
  const length = Math.max(1, Math.min(paywordChainLengthMax, units));
  const seed = crypto.getRandomValues(new Uint8Array(paywordSeedLengthMin));
  const chain = paywordChain(seed, length);
  seed.fill(0);
  return {
    kind: 'payword',
    commitment: { kind: 'payword', anchor: encodeBase64url(chain.anchor), chainLength: length },
    limitMicros: BigInt(length) * unitPriceMicros,
    voucher(channelId, cumulativeMicros) {
      if (cumulativeMicros % unitPriceMicros !== 0n) {
        throw new RangeError('a PayWord voucher pays whole units');
      }
      const word = chain.word(Number(cumulativeMicros / unitPriceMicros));
      return { channelId, cumulativeMicros, proof: { kind: 'payword', word } };
    },
  };
}

function ed25519Signer(): VoucherSigner {
  const { secretKey, publicKey } = voucherKeyPair();
  return {
    kind: 'ed25519',
    commitment: { kind: 'ed25519', key: encodeBase64url(publicKey) },
    limitMicros: undefined,
    voucher: (channelId, cumulativeMicros) => signVoucher(secretKey, channelId, cumulativeMicros),
  };
}

/**
 * The signer for a session: PayWord when the merchant takes it and the chain fits (the fast path
 * for fixed prices), else Ed25519 when it takes that; undefined when it takes neither.
 */
export function createVoucherSigner(
  offered: readonly VoucherKind[],
  unitPriceMicros: bigint,
  depositMicros: bigint,
): VoucherSigner | undefined {
  const chainFits = depositMicros / unitPriceMicros <= BigInt(paywordChainLengthMax);
  for (const kind of offered) {
    if (kind === 'payword' && chainFits) return paywordSigner(unitPriceMicros, depositMicros);
    if (kind === 'ed25519') return ed25519Signer();
  }
  return undefined;
}
