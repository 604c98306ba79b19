import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  bigintToBytes,
  blind,
  type BlindRsaPublicKey,
  bytesToBigint,
  finalize,
  modInverse,
  modPow,
  verify,
} from './blind-rsa.ts';

/** RFC 9474 Appendix A's test vectors, as JSON (see testdata/README.md). */
interface Vector {
  readonly name: string;
  readonly n: string;
  readonly e: string;
  readonly d: string;
  readonly input_msg: string;
  readonly salt: string;
  readonly inv: string;
  readonly blinded_msg: string;
  readonly blind_sig: string;
  readonly sig: string;
}

const vectors = JSON.parse(
  readFileSync(new URL('./testdata/rfc9474-test-vectors.json', import.meta.url), 'utf8'),
) as Vector[];
const vector = vectors.find((v) => v.name === 'RSABSSA-SHA384-PSS-Deterministic');

const hex = (value: string): Uint8Array =>
  Uint8Array.from(Buffer.from(value.replace(/^0x/, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const big = (value: string): bigint => BigInt(value.startsWith('0x') ? value : `0x${value}`);

/** Random bytes that replay the given ones, in order, each exactly as long as asked for. */
function replay(...chunks: Uint8Array[]) {
  return (length: number): Uint8Array => {
    const chunk = chunks.shift() ?? assert.fail('more random bytes asked for than the vector has');
    assert.equal(chunk.length, length);
    return chunk;
  };
}

describe('RSA blind signatures, the client\u2019s half (RFC 9474)', () => {
  assert.ok(vector, 'the RFC\u2019s RSABSSA-SHA384-PSS-Deterministic vector');
  const key: BlindRsaPublicKey = { n: big(vector.n), e: big(vector.e) };
  // The RFC's keys are 4096-bit.
  const lengthBytes = Math.ceil(key.n.toString(2).length / 8);

  it('blinds, finalises and verifies exactly as the RFC\u2019s test vector', () => {
    const r = modInverse(big(vector.inv), key.n) ?? assert.fail('inv is invertible');
    const blinded = blind(
      key,
      hex(vector.input_msg),
      replay(hex(vector.salt), bigintToBytes(r, lengthBytes)),
    );
    assert.ok(blinded.ok);
    assert.equal(toHex(blinded.value.blindedMessage), vector.blinded_msg);
    assert.equal(toHex(blinded.value.inverse), vector.inv.replace(/^0x/, ''));
    // The signer's raw RSA operation, done here with the vector's private exponent.
    const blindSig = modPow(bytesToBigint(blinded.value.blindedMessage), big(vector.d), key.n);
    assert.equal(toHex(bigintToBytes(blindSig, lengthBytes)), vector.blind_sig);
    const signature = finalize(
      key,
      hex(vector.input_msg),
      hex(vector.blind_sig),
      blinded.value.inverse,
    );
    assert.ok(signature.ok);
    assert.equal(toHex(signature.value), vector.sig);
    assert.equal(verify(key, hex(vector.input_msg), hex(vector.sig)), true);
  });

  it('refuses a signature of another message, a tampered one and a wrong blind signature', () => {
    const message = hex(vector.input_msg);
    const signature = hex(vector.sig);
    assert.equal(verify(key, Uint8Array.from([...message, 0]), signature), false);
    const tampered = Uint8Array.from(signature);
    tampered[100] = (tampered[100] ?? 0) ^ 1;
    assert.equal(verify(key, message, tampered), false);
    assert.equal(verify(key, message, signature.subarray(1)), false);
    assert.equal(verify(key, message, bigintToBytes(key.n, lengthBytes)), false, 'not below n');
    const wrong = Uint8Array.from(hex(vector.blind_sig));
    wrong[0] = (wrong[0] ?? 0) ^ 1;
    const r = modInverse(big(vector.inv), key.n) ?? assert.fail();
    const blinded = blind(key, message, replay(hex(vector.salt), bigintToBytes(r, lengthBytes)));
    assert.ok(blinded.ok);
    const finalized = finalize(key, message, wrong, blinded.value.inverse);
    assert.deepEqual(finalized, { ok: false, code: 'invalidSignature' });
  });

  it('refuses keys below 2048 bits', () => {
    const small = { n: (1n << 1023n) + 1n, e: 65537n };
    const blinded = blind(small, new Uint8Array(8), (length) => new Uint8Array(length).fill(7));
    assert.deepEqual(blinded, { ok: false, code: 'keyTooSmall' });
  });
});
