/**
 * RSA blind signatures, the client's and the verifier's half: RFC 9474's
 * RSABSSA-SHA384-PSS-Deterministic (SHA-384, MGF1 with SHA-384, a 48-byte salt, and the message
 * signed as it is: "deterministic" names the message preparation, not the signature, whose salt
 * is random). The signer's half, one raw RSA operation, is the platform's (node:crypto there).
 *
 * Written here, in bigint arithmetic over @noble/hashes' SHA-384, because it must run in
 * browsers and in the wallet without WebCrypto's asynchronous keys, and because the one library
 * for it (@cloudflare/blindrsa-ts) is what the tests check this against: a second, independent
 * implementation is what makes that check worth something. The steps follow RFC 9474 section 4
 * and RFC 8017's EMSA-PSS (sections 9.1.1 and 9.1.2) line by line, so that each can be read
 * against the standard; the RFC's test vectors are in the tests.
 *
 * Nothing here is constant-time: the client's blinding factor and message are its own secrets
 * only until the signature is finalised, and the verifier handles public values.
 */
import { sha256, sha384 } from '@noble/hashes/sha2.js';
import { encodeBase64url } from './base64url.ts';
import { fail, ok, type Result } from './result.ts';

/** SHA-384's output length, which RSABSSA-SHA384-PSS uses as its salt length too. */
export const blindRsaHashBytes = 48;
export const blindRsaSaltBytes = 48;
/** The smallest modulus this accepts; RFC 9474 recommends 2048 bits or more. */
export const blindRsaModulusBitsMin = 2048;

export interface BlindRsaPublicKey {
  /** The modulus. */
  readonly n: bigint;
  /** The public exponent. */
  readonly e: bigint;
}

/** Where random bytes come from; tests give fixed ones to replay the RFC's vectors. */
export type RandomBytes = (length: number) => Uint8Array;

export type BlindRsaError = 'keyTooSmall' | 'messageTooLong' | 'invalidInput' | 'invalidSignature';

export function bytesToBigint(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

/** The big-endian bytes of `value`, left-padded to `length`; throws if it does not fit. */
export function bigintToBytes(value: bigint, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let rest = value;
  for (let index = length - 1; index >= 0; index -= 1) {
    bytes[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  if (rest !== 0n) throw new Error(`bug: an integer does not fit in ${length} bytes`);
  return bytes;
}

export function bitLength(value: bigint): number {
  return value === 0n ? 0 : value.toString(2).length;
}

export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let square = base % modulus;
  let rest = exponent;
  while (rest > 0n) {
    if ((rest & 1n) === 1n) result = (result * square) % modulus;
    square = (square * square) % modulus;
    rest >>= 1n;
  }
  return result;
}

/** The inverse of `value` modulo `modulus`, or undefined when they share a factor. */
export function modInverse(value: bigint, modulus: bigint): bigint | undefined {
  let [oldR, r] = [((value % modulus) + modulus) % modulus, modulus];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const quotient = oldR / r;
    [oldR, r] = [r, oldR - quotient * r];
    [oldS, s] = [s, oldS - quotient * s];
  }
  if (oldR !== 1n) return undefined;
  return ((oldS % modulus) + modulus) % modulus;
}

function modulusBytes(key: BlindRsaPublicKey): number {
  return Math.ceil(bitLength(key.n) / 8);
}

/** MGF1 with SHA-384 (RFC 8017, B.2.1). */
function mgf1(seed: Uint8Array, length: number): Uint8Array {
  const mask = new Uint8Array(length);
  const block = new Uint8Array(seed.length + 4);
  block.set(seed);
  for (let counter = 0, offset = 0; offset < length; counter += 1) {
    new DataView(block.buffer).setUint32(seed.length, counter);
    const digest = sha384(block);
    mask.set(digest.subarray(0, Math.min(digest.length, length - offset)), offset);
    offset += digest.length;
  }
  return mask;
}

/** H = Hash(0x00 * 8 || mHash || salt), the hash both encoding and verifying compute. */
function pssHash(messageHash: Uint8Array, salt: Uint8Array): Uint8Array {
  const prefixed = new Uint8Array(8 + messageHash.length + salt.length);
  prefixed.set(messageHash, 8);
  prefixed.set(salt, 8 + messageHash.length);
  return sha384(prefixed);
}

/** EMSA-PSS-ENCODE (RFC 8017, 9.1.1) of `message` for `emBits` bits, with `salt`. */
export function emsaPssEncode(
  message: Uint8Array,
  emBits: number,
  salt: Uint8Array,
): Result<Uint8Array, 'messageTooLong'> {
  const emLength = Math.ceil(emBits / 8);
  if (emLength < blindRsaHashBytes + salt.length + 2) return fail('messageTooLong');
  const h = pssHash(sha384(message), salt);
  const db = new Uint8Array(emLength - blindRsaHashBytes - 1);
  db[db.length - salt.length - 1] = 0x01;
  db.set(salt, db.length - salt.length);
  const mask = mgf1(h, db.length);
  for (let index = 0; index < db.length; index += 1)
    db[index] = (db[index] ?? 0) ^ (mask[index] ?? 0);
  db[0] = (db[0] ?? 0) & (0xff >> (8 * emLength - emBits));
  const encoded = new Uint8Array(emLength);
  encoded.set(db);
  encoded.set(h, db.length);
  encoded[emLength - 1] = 0xbc;
  return ok(encoded);
}

/** EMSA-PSS-VERIFY (RFC 8017, 9.1.2) with this suite's salt length. */
export function emsaPssVerify(message: Uint8Array, encoded: Uint8Array, emBits: number): boolean {
  const emLength = Math.ceil(emBits / 8);
  const saltLength = blindRsaSaltBytes;
  if (encoded.length !== emLength || emLength < blindRsaHashBytes + saltLength + 2) return false;
  if (encoded[emLength - 1] !== 0xbc) return false;
  const maskedDb = encoded.subarray(0, emLength - blindRsaHashBytes - 1);
  const h = encoded.subarray(maskedDb.length, emLength - 1);
  const unusedBits = 8 * emLength - emBits;
  if (((maskedDb[0] ?? 0) & ~(0xff >> unusedBits) & 0xff) !== 0) return false;
  const mask = mgf1(h, maskedDb.length);
  const db = maskedDb.map((byte, index) => byte ^ (mask[index] ?? 0));
  db[0] = (db[0] ?? 0) & (0xff >> unusedBits);
  const separator = emLength - blindRsaHashBytes - saltLength - 2;
  for (let index = 0; index < separator; index += 1) if (db[index] !== 0) return false;
  if (db[separator] !== 0x01) return false;
  const expected = pssHash(sha384(message), db.subarray(db.length - saltLength));
  return expected.every((byte, index) => byte === h[index]);
}

/** A uniform integer in [1, n) from random bytes, by rejection (RFC 9474, 4.2, step 5). */
function randomBelow(n: bigint, random: RandomBytes): bigint {
  const length = Math.ceil(bitLength(n) / 8);
  const excessBits = BigInt(8 * length - bitLength(n));
  for (;;) {
    const candidate = bytesToBigint(random(length)) >> excessBits;
    if (candidate >= 1n && candidate < n) return candidate;
  }
}

export interface Blinded {
  /** Sent to the signer, which learns nothing of the message from it. */
  readonly blindedMessage: Uint8Array;
  /** Kept by the client to finalise the signature; secret until then. */
  readonly inverse: Uint8Array;
}

/** RFC 9474, 4.2 Blind: the message encoded with a random salt, then blinded by a random r. */
export function blind(
  key: BlindRsaPublicKey,
  message: Uint8Array,
  random: RandomBytes,
): Result<Blinded, 'keyTooSmall' | 'messageTooLong' | 'invalidInput'> {
  if (bitLength(key.n) < blindRsaModulusBitsMin) return fail('keyTooSmall');
  const encoded = emsaPssEncode(message, bitLength(key.n) - 1, random(blindRsaSaltBytes));
  if (!encoded.ok) return encoded;
  const m = bytesToBigint(encoded.value);
  // A message sharing a factor with n would reveal it; the RFC calls this an invalid input.
  if (modInverse(m, key.n) === undefined) return fail('invalidInput');
  for (;;) {
    const r = randomBelow(key.n, random);
    const inverse = modInverse(r, key.n);
    if (inverse === undefined) continue;
    const z = (m * modPow(r, key.e, key.n)) % key.n;
    const length = modulusBytes(key);
    return ok({
      blindedMessage: bigintToBytes(z, length),
      inverse: bigintToBytes(inverse, length),
    });
  }
}

/** RFC 9474, 4.4 Finalize: unblinds the signer's answer and checks it is a valid signature. */
export function finalize(
  key: BlindRsaPublicKey,
  message: Uint8Array,
  blindSignature: Uint8Array,
  inverse: Uint8Array,
): Result<Uint8Array, 'invalidSignature'> {
  const length = modulusBytes(key);
  if (blindSignature.length !== length || inverse.length !== length) {
    return fail('invalidSignature');
  }
  const s = (bytesToBigint(blindSignature) * bytesToBigint(inverse)) % key.n;
  const signature = bigintToBytes(s, length);
  return verify(key, message, signature) ? ok(signature) : fail('invalidSignature');
}

/** RSASSA-PSS-VERIFY (RFC 8017, 8.1.2) with SHA-384 and a 48-byte salt: what a merchant checks. */
export function verify(
  key: BlindRsaPublicKey,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  const length = modulusBytes(key);
  if (signature.length !== length) return false;
  const s = bytesToBigint(signature);
  if (s >= key.n) return false;
  const emBits = bitLength(key.n) - 1;
  const m = modPow(s, key.e, key.n);
  if (bitLength(m) > emBits) return false;
  return emsaPssVerify(message, bigintToBytes(m, Math.ceil(emBits / 8)), emBits);
}

/**
 * A token key's id: the base64url SHA-256 of its SubjectPublicKeyInfo (DER), as Privacy Pass
 * derives one, so that a key cannot be swapped under an id.
 */
export function tokenKeyIdOf(spkiDer: Uint8Array): string {
  return encodeBase64url(sha256(spkiDer));
}
