import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBase64url } from './base64url.ts';
import { paywordChain } from './payword.ts';
import {
  commitmentOf,
  decodeSessionGrantClaims,
  type SessionGrantClaims,
} from './session-grant.ts';
import { voucherKeyPair } from './session-voucher.ts';
import { codeOf, testNowSeconds, testSessionChallenge, testSessionId } from './testing.ts';

const chain = paywordChain(new Uint8Array(32).fill(1), 1_000);
const keys = voucherKeyPair();

const paywordClaims: SessionGrantClaims = {
  channelId: testSessionId,
  merchantId: 'mer_1',
  resource: 'https://radio.example/songs/1',
  challengeId: testSessionChallenge().id,
  payer: 'psn_abc',
  currency: 'USD',
  amount: '100',
  unitType: 'second',
  deposit: '100000',
  minVoucherDelta: '1000',
  voucherKind: 'payword',
  anchor: encodeBase64url(chain.anchor),
  chainLength: 1_000,
  issuedAt: testNowSeconds,
  openUntil: testNowSeconds + 3_600,
  sequence: 0,
};

const { anchor: _anchor, chainLength: _length, ...withoutChain } = paywordClaims;
const ed25519Claims: SessionGrantClaims = {
  ...withoutChain,
  voucherKind: 'ed25519',
  voucherKey: encodeBase64url(keys.publicKey),
};

describe('session grant claims', () => {
  it('decodes a PayWord grant with its anchor and chain length', () => {
    const decoded = decodeSessionGrantClaims(JSON.parse(JSON.stringify(paywordClaims)));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value.claims, paywordClaims);
    assert.deepEqual(decoded.value.commitment, {
      kind: 'payword',
      anchor: chain.anchor,
      chainLength: 1_000,
    });
  });

  it('decodes an Ed25519 grant with its voucher key', () => {
    const decoded = decodeSessionGrantClaims(ed25519Claims);
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value.commitment, { kind: 'ed25519', voucherKey: keys.publicKey });
  });

  it('names exactly the commitment of its kind', () => {
    const voucherKey = encodeBase64url(keys.publicKey);
    const mixed: readonly [string, unknown][] = [
      ['PayWord with a key too', { ...paywordClaims, voucherKey }],
      ['PayWord without its anchor', { ...paywordClaims, anchor: undefined }],
      ['PayWord without its length', { ...paywordClaims, chainLength: undefined }],
      ['Ed25519 with an anchor', { ...ed25519Claims, anchor: paywordClaims.anchor }],
      ['Ed25519 with a length', { ...ed25519Claims, chainLength: 10 }],
      ['Ed25519 without its key', { ...ed25519Claims, voucherKey: undefined }],
      ['PayWord kind, key only', { ...ed25519Claims, voucherKind: 'payword' }],
      ['Ed25519 kind, chain only', { ...paywordClaims, voucherKind: 'ed25519' }],
    ];
    for (const [name, claims] of mixed) {
      const decoded = decodeSessionGrantClaims(JSON.parse(JSON.stringify(claims)));
      assert.equal(codeOf(decoded), 'badValue', name);
    }
    assert.equal(codeOf(commitmentOf({ ...paywordClaims, voucherKey })), 'badValue');
  });

  it('refuses claims out of their ranges, and unknown claims', () => {
    const bad: readonly [string, unknown][] = [
      ['session id', { ...paywordClaims, channelId: 'ses_1' }],
      ['challenge id', { ...paywordClaims, challengeId: 'short' }],
      ['deposit 0', { ...paywordClaims, deposit: '0' }],
      ['amount decimal', { ...paywordClaims, amount: '0.01' }],
      ['lower-case currency', { ...paywordClaims, currency: 'usd' }],
      ['unit', { ...paywordClaims, unitType: 'minute' }],
      ['kind', { ...paywordClaims, voucherKind: 'hmac' }],
      ['chain 0', { ...paywordClaims, chainLength: 0 }],
      ['chain too long', { ...paywordClaims, chainLength: 100_001 }],
      ['anchor length', { ...paywordClaims, anchor: 'AAAA' }],
      ['key length', { ...ed25519Claims, voucherKey: 'AAAA' }],
      ['sequence negative', { ...paywordClaims, sequence: -1 }],
      ['sequence too high', { ...paywordClaims, sequence: 1_001 }],
      ['unknown claim', { ...paywordClaims, extra: true }],
      ['no payer', { ...paywordClaims, payer: undefined }],
    ];
    for (const [name, claims] of bad) {
      assert.equal(decodeSessionGrantClaims(JSON.parse(JSON.stringify(claims))).ok, false, name);
    }
  });
});
