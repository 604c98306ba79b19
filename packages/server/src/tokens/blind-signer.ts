/**
 * The signer's half of RFC 9474's RSA blind signatures (RSABSSA-SHA384-PSS-Deterministic): one
 * raw RSA private-key operation on the blinded message, which node:crypto does through OpenSSL
 * (`privateDecrypt` without padding is exactly RSASP1; OpenSSL blinds it against timing and uses
 * the CRT), and the RFC's check that the result verifies, so that a fault in that operation never
 * hands out a value that would reveal the key's factors. The client's half, and the verification
 * merchants do, are @mite/protocol's (blind-rsa.ts).
 */
import {
  constants,
  createPublicKey,
  type KeyObject,
  privateDecrypt,
  publicEncrypt,
  timingSafeEqual,
} from 'node:crypto';
import { type BlindRsaPublicKey, blindRsaModulusBitsMin, bytesToBigint } from '@mite/protocol';
import { fail, ok, type Result } from '../result.ts';

/** The public key's modulus and exponent, as a client and a verifier need them. */
export function blindRsaPublicKey(key: KeyObject): BlindRsaPublicKey {
  const jwk = (key.type === 'public' ? key : createPublicKey(key)).export({ format: 'jwk' });
  if (jwk.kty !== 'RSA' || jwk.n === undefined || jwk.e === undefined) {
    throw new Error('bug: a blind-signing key that is not RSA');
  }
  return {
    n: bytesToBigint(Buffer.from(jwk.n, 'base64url')),
    e: bytesToBigint(Buffer.from(jwk.e, 'base64url')),
  };
}

export function createBlindSigner(privateKey: KeyObject) {
  const publicKey = createPublicKey(privateKey);
  const { n } = blindRsaPublicKey(publicKey);
  const modulusBits = n.toString(2).length;
  if (modulusBits < blindRsaModulusBitsMin) {
    throw new Error(`a blind-signing key needs ${blindRsaModulusBitsMin} bits or more`);
  }
  const modulusBytes = Math.ceil(modulusBits / 8);

  /** RFC 9474, 4.3 BlindSign. `invalidMessage`: not the modulus's length, or not below it. */
  function blindSign(blindedMessage: Uint8Array): Result<Uint8Array, 'invalidMessage'> {
    if (blindedMessage.length !== modulusBytes || bytesToBigint(blindedMessage) >= n) {
      return fail(
        'invalidMessage',
        `A blinded message is ${modulusBytes} bytes, below the modulus.`,
      );
    }
    const message = Buffer.from(blindedMessage);
    const signature = privateDecrypt(
      { key: privateKey, padding: constants.RSA_NO_PADDING },
      message,
    );
    const check = publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, signature);
    if (check.length !== message.length || !timingSafeEqual(check, message)) {
      // Crash rather than answer: a faulty signature can leak the private key.
      throw new Error('blind signing fault: the signature does not verify; refusing to answer');
    }
    return ok(new Uint8Array(signature));
  }

  return { blindSign, modulusBytes };
}

export type BlindSigner = ReturnType<typeof createBlindSigner>;
