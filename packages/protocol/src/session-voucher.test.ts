import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { encodeBase64url } from './base64url.ts';
import { paywordChain } from './payword.ts';
import {
  decodeSessionVoucher,
  formatCumulative,
  type SessionVoucher,
  sessionVoucherWire,
  signVoucher,
  voucherKeyPair,
  voucherMessage,
  voucherSignatureValid,
} from './session-voucher.ts';
import { codeOf, testSessionId } from './testing.ts';

const otherSessionId = `ses_${'f'.repeat(32)}`;
const chain = paywordChain(new Uint8Array(32).fill(5), 10);
const wordVoucher: SessionVoucher = {
  channelId: testSessionId,
  cumulativeMicros: 300n,
  proof: { kind: 'payword', word: chain.word(3) },
};

describe('voucher wire', () => {
  it('round-trips both proofs', () => {
    const keys = voucherKeyPair();
    const signed = signVoucher(keys.secretKey, testSessionId, 12_345n);
    for (const voucher of [wordVoucher, signed]) {
      const wire = sessionVoucherWire(voucher);
      assert.equal(wire.channelId, testSessionId);
      const decoded = decodeSessionVoucher(JSON.parse(JSON.stringify(wire)));
      assert.ok(decoded.ok);
      assert.deepEqual(decoded.value, voucher);
    }
    assert.deepEqual(sessionVoucherWire(wordVoucher), {
      channelId: testSessionId,
      cumulativeAmount: '300',
      payword: encodeBase64url(chain.word(3)),
    });
  });

  it('takes a zero amount: a session closed before any unit', () => {
    const wire = { ...sessionVoucherWire(wordVoucher), cumulativeAmount: '0' };
    const decoded = decodeSessionVoucher(wire);
    assert.ok(decoded.ok);
    assert.equal(decoded.value.cumulativeMicros, 0n);
    assert.equal(formatCumulative(0n), '0');
    assert.equal(formatCumulative(1_500n), '1500');
  });

  it('carries exactly one proof', () => {
    const wire = sessionVoucherWire(wordVoucher);
    const signature = encodeBase64url(new Uint8Array(64).fill(1));
    assert.equal(codeOf(decodeSessionVoucher({ ...wire, signature })), 'badValue');
    const { payword: _word, ...none } = wire;
    assert.equal(codeOf(decodeSessionVoucher(none)), 'badValue');
  });

  it('refuses bad amounts, ids, base64 and unknown fields', () => {
    const wire = sessionVoucherWire(wordVoucher);
    const bad: readonly [string, unknown, string][] = [
      ['leading zero', { ...wire, cumulativeAmount: '0300' }, ''],
      ['negative', { ...wire, cumulativeAmount: '-300' }, ''],
      ['decimal', { ...wire, cumulativeAmount: '3.00' }, ''],
      ['number', { ...wire, cumulativeAmount: 300 }, 'wrongType'],
      ['too large', { ...wire, cumulativeAmount: '9'.repeat(20) }, 'badAmount'],
      ['session id', { ...wire, channelId: 'ses_XYZ' }, ''],
      ['upper-case id', { ...wire, channelId: testSessionId.toUpperCase() }, ''],
      ['short word', { ...wire, payword: wire.payword?.slice(1) }, ''],
      ['padded word', { ...wire, payword: `${wire.payword ?? ''}=` }, ''],
      ['base64 not url', { ...wire, payword: `+${wire.payword?.slice(1) ?? ''}` }, ''],
      // 43 characters carry 258 bits: the last two must be zero (one spelling per word).
      ['stray bits', { ...wire, payword: `${wire.payword?.slice(0, 42) ?? ''}B` }, ''],
      ['short signature', { ...wire, payword: undefined, signature: 'AAAA' }, ''],
      ['extra field', { ...wire, payer: 'psn_1' }, 'unknownField'],
      ['not an object', 'voucher', 'wrongType'],
    ];
    for (const [name, json, code] of bad) {
      const decoded = decodeSessionVoucher(JSON.parse(JSON.stringify(json)));
      assert.equal(decoded.ok, false, name);
      if (code !== '') assert.equal(codeOf(decoded), code, name);
    }
    // A canonical last character still decodes.
    const lastZero = chain.word(3);
    lastZero[31] = 0;
    assert.ok(decodeSessionVoucher({ ...wire, payword: encodeBase64url(lastZero) }).ok);
  });
});

describe('Ed25519 vouchers', () => {
  const keys = voucherKeyPair();

  it('signs the session and the amount under a domain tag', () => {
    assert.equal(
      new TextDecoder().decode(voucherMessage(testSessionId, 42n)),
      `mite-session-voucher-v1\n${testSessionId}\n42`,
    );
    const voucher = signVoucher(keys.secretKey, testSessionId, 42n);
    assert.equal(voucher.proof.kind, 'ed25519');
    assert.ok(voucherSignatureValid(voucher, keys.publicKey));
  });

  it('verifies under node:crypto as the merchant does', () => {
    const voucher = signVoucher(keys.secretKey, testSessionId, 7_000n);
    if (voucher.proof.kind !== 'ed25519') throw new Error('unreachable');
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: encodeBase64url(keys.publicKey) },
      format: 'jwk',
    });
    assert.ok(verify(null, voucherMessage(testSessionId, 7_000n), key, voucher.proof.signature));
    assert.equal(
      verify(null, voucherMessage(testSessionId, 7_001n), key, voucher.proof.signature),
      false,
    );
  });

  it('fails for another session, another amount, another key, or a PayWord proof', () => {
    const voucher = signVoucher(keys.secretKey, testSessionId, 500n);
    assert.equal(
      voucherSignatureValid({ ...voucher, channelId: otherSessionId }, keys.publicKey),
      false,
    );
    assert.equal(
      voucherSignatureValid({ ...voucher, cumulativeMicros: 501n }, keys.publicKey),
      false,
    );
    assert.equal(voucherSignatureValid(voucher, voucherKeyPair().publicKey), false);
    assert.equal(voucherSignatureValid(wordVoucher, keys.publicKey), false);
    // A key of the wrong length is a refusal, not a throw.
    assert.equal(voucherSignatureValid(voucher, keys.publicKey.slice(1)), false);
  });

  it('draws a fresh key pair each time', () => {
    assert.notDeepEqual(voucherKeyPair().publicKey, voucherKeyPair().publicKey);
    assert.equal(keys.publicKey.length, 32);
  });
});
