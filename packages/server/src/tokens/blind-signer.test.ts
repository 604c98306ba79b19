import assert from 'node:assert/strict';
import {
  constants,
  generateKeyPairSync,
  randomBytes,
  verify as nodeVerify,
  webcrypto,
} from 'node:crypto';
import { describe, it } from 'node:test';
import { RSABSSA } from '@cloudflare/blindrsa-ts';
import { blind, finalize, verifyBlindRsa } from '@mite/protocol';
import { blindRsaPublicKey, createBlindSigner } from './blind-signer.ts';

/** One 2048-bit key for the whole file: making one costs a noticeable fraction of a second. */
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signer = createBlindSigner(privateKey);
const key = blindRsaPublicKey(publicKey);
const suite = RSABSSA.SHA384.PSS.Deterministic();
const random = (length: number) => new Uint8Array(randomBytes(length));

/** The public key as WebCrypto holds it, which @cloudflare/blindrsa-ts works with. */
async function webPublicKey() {
  const jwk = publicKey.export({ format: 'jwk' });
  return webcrypto.subtle.importKey('jwk', jwk, { name: 'RSA-PSS', hash: 'SHA-384' }, true, [
    'verify',
  ]);
}

/** RSASSA-PSS with SHA-384 and a 48-byte salt, checked by OpenSSL: what a merchant's server can use. */
function opensslVerifies(message: Uint8Array, signature: Uint8Array): boolean {
  return nodeVerify(
    'sha384',
    message,
    { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 },
    signature,
  );
}

describe('blind signing with node:crypto', () => {
  it('signs what Mite\u2019s client blinded; the signature verifies with Mite, OpenSSL and @cloudflare/blindrsa-ts', async () => {
    const token = random(32);
    const blinded = blind(key, token, random);
    assert.ok(blinded.ok);
    const blindSignature = signer.blindSign(blinded.value.blindedMessage);
    assert.ok(blindSignature.ok);
    const signature = finalize(key, token, blindSignature.value, blinded.value.inverse);
    assert.ok(signature.ok);
    assert.equal(verifyBlindRsa(key, token, signature.value), true);
    assert.equal(opensslVerifies(token, signature.value), true);
    assert.equal(await suite.verify(await webPublicKey(), signature.value, token), true);
    // The signer saw only the blinded message, which is not the token's encoding.
    assert.notDeepEqual(blinded.value.blindedMessage, signature.value);
  });

  it('signs what @cloudflare/blindrsa-ts blinded, and that library finalises it', async () => {
    const web = await webPublicKey();
    const token = suite.prepare(random(32));
    const { blindedMsg, inv } = await suite.blind(web, token);
    const blindSignature = signer.blindSign(blindedMsg);
    assert.ok(blindSignature.ok);
    const signature = await suite.finalize(web, token, blindSignature.value, inv);
    assert.equal(verifyBlindRsa(key, token, signature), true);
    assert.equal(opensslVerifies(token, signature), true);
  });

  it('refuses blinded messages of the wrong length or not below the modulus', () => {
    assert.equal(signer.blindSign(new Uint8Array(255)).ok, false);
    assert.equal(signer.blindSign(new Uint8Array(256).fill(0xff)).ok, false);
  });

  it('two blindings of one token look unrelated to the signer', () => {
    const token = random(32);
    const first = blind(key, token, random);
    const second = blind(key, token, random);
    assert.ok(first.ok && second.ok);
    assert.notDeepEqual(first.value.blindedMessage, second.value.blindedMessage);
  });
});
