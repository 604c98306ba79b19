import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { paywordChain, signVoucher, voucherKeyPair } from '@mite/protocol';
import type { StoredSession } from './session-store.ts';
import {
  checkVoucher,
  createVoucherKeyCache,
  paywordStepsPerVoucherMax,
  type VoucherVerdict,
} from './voucher-check.ts';

const nowSeconds = 1_800_000_000;
const chainLength = paywordStepsPerVoucherMax + 10;
const chain = paywordChain(new Uint8Array(32).fill(6), chainLength);
const channelId = `ses_${'c'.repeat(32)}`;

function session(overrides: Partial<StoredSession> = {}): StoredSession {
  return {
    channelId,
    challengeId: 'c'.repeat(43),
    resource: '/r',
    payer: 'psn_1',
    unitPriceMicros: 10n,
    unitType: 'token',
    minVoucherDeltaMicros: 10n,
    commitment: { kind: 'payword', anchor: chain.anchor, chainLength },
    depositMicros: BigInt(chainLength) * 10n,
    sequence: 0,
    grant: 'a.b.c',
    openUntilSeconds: nowSeconds + 60,
    acceptedMicros: 0n,
    proof: chain.anchor,
    spentMicros: 0n,
    checkpointedMicros: 0n,
    state: 'open',
    closeReason: undefined,
    lastActivityMs: 0,
    ...overrides,
  };
}

const keys = createVoucherKeyCache();
const word = (units: number) => ({
  channelId,
  cumulativeMicros: BigInt(units) * 10n,
  proof: { kind: 'payword' as const, word: chain.word(units) },
});
const codeOf = (verdict: VoucherVerdict) => ('ok' in verdict ? verdict.code : verdict.kind);

describe('checkVoucher', () => {
  it('raises on the next words, and takes the accepted one again', () => {
    assert.equal(codeOf(checkVoucher(session(), word(1), keys, nowSeconds)), 'raise');
    const at = session({ acceptedMicros: 50n, proof: chain.word(5) });
    assert.equal(codeOf(checkVoucher(at, word(9), keys, nowSeconds)), 'raise');
    assert.equal(codeOf(checkVoucher(at, word(5), keys, nowSeconds)), 'current');
    assert.equal(codeOf(checkVoucher(at, word(4), keys, nowSeconds)), 'voucherStale');
    // Before any voucher, the anchor itself is the "voucher of 0" a client closes with.
    assert.equal(codeOf(checkVoucher(session(), word(0), keys, nowSeconds)), 'current');
  });

  it('bounds the hashes a voucher may cost, and refuses amounts that are not whole units', () => {
    const far = word(paywordStepsPerVoucherMax + 1);
    assert.equal(codeOf(checkVoucher(session(), far, keys, nowSeconds)), 'voucherInvalid');
    const odd = { ...word(2), cumulativeMicros: 25n };
    assert.equal(codeOf(checkVoucher(session(), odd, keys, nowSeconds)), 'voucherInvalid');
    const short = session({
      commitment: { kind: 'payword', anchor: chain.anchor, chainLength: 3 },
    });
    assert.equal(codeOf(checkVoucher(short, word(4), keys, nowSeconds)), 'voucherExceedsDeposit');
  });

  it('refuses on a closed or expired session, and the wrong kind of proof', () => {
    assert.equal(
      codeOf(checkVoucher(session({ state: 'closing' }), word(1), keys, nowSeconds)),
      'sessionClosed',
    );
    assert.equal(codeOf(checkVoucher(session(), word(1), keys, nowSeconds + 60)), 'sessionClosed');
    const signed = signVoucher(voucherKeyPair().secretKey, channelId, 10n);
    assert.equal(codeOf(checkVoucher(session(), signed, keys, nowSeconds)), 'voucherInvalid');
  });

  it('verifies Ed25519 vouchers against the session key, kept imported per session', () => {
    const pair = voucherKeyPair();
    const signedSession = session({
      commitment: { kind: 'ed25519', voucherKey: pair.publicKey },
      proof: new Uint8Array(0),
      minVoucherDeltaMicros: 1n,
    });
    const cache = createVoucherKeyCache(1);
    const voucher = signVoucher(pair.secretKey, channelId, 7n);
    assert.equal(codeOf(checkVoucher(signedSession, voucher, cache, nowSeconds)), 'raise');
    const held = cache.keyOf(channelId, pair.publicKey);
    assert.equal(cache.keyOf(channelId, pair.publicKey), held, 'imported once');
    // Another session pushes it out of a cache of one; a key that does not import is none.
    assert.ok(cache.keyOf(`ses_${'d'.repeat(32)}`, voucherKeyPair().publicKey) !== undefined);
    assert.notEqual(cache.keyOf(channelId, pair.publicKey), held);
    assert.equal(cache.keyOf(channelId, new Uint8Array(3)), undefined);
    const other = signVoucher(voucherKeyPair().secretKey, channelId, 8n);
    assert.equal(codeOf(checkVoucher(signedSession, other, cache, nowSeconds)), 'voucherInvalid');
  });
});
