import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  randomBytes,
} from 'node:crypto';

const masterKeyBytes = 32;
const ivBytes = 12;
const tagBytes = 16;
const formatVersion = 'v1';
/**
 * Random bytes drawn at once, 12 at a time for each IV: one call into the CSPRNG for hundreds of
 * encryptions instead of one each (a purchase stores two sealed values, and the call, not the
 * bytes, is what costs). Each IV is still 12 fresh random bytes, used once.
 */
const ivPoolBytes = ivBytes * 512;

/**
 * Encrypts personal fields (an email, a name) with AES-256-GCM under a key derived from the
 * master key, and computes lookup tags (an HMAC of the normalised value) so a user can be found
 * by email without the email being stored in the clear. Each field is bound to its owner and
 * purpose through the additional authenticated data, so a ciphertext cannot be moved to another
 * row. Per-user data keys (crypto-shredding on erasure) build on this in the privacy work.
 */
export interface PersonalDataCipher {
  encrypt(plaintext: string, context: string): string;
  decrypt(ciphertext: string, context: string): string;
  /** A stable, keyed tag for equality lookups: same input, same tag; no way back. */
  lookupTag(value: string, purpose: string): string;
}

export function createPersonalDataCipher(masterKey: Uint8Array): PersonalDataCipher {
  if (masterKey.length !== masterKeyBytes) {
    throw new Error(`the master key must be ${masterKeyBytes} bytes`);
  }
  const encryptionKey = Buffer.from(hkdfSync('sha256', masterKey, '', 'mite personal data v1', 32));
  // A KeyObject, imported once: createHmac would import raw key bytes again on every call.
  const lookupKey = createSecretKey(
    Buffer.from(hkdfSync('sha256', masterKey, '', 'mite lookup tags v1', 32)),
  );
  const ivs = randomIvSource();
  return {
    encrypt(plaintext, context) {
      const iv = ivs();
      const cipher = createCipheriv('aes-256-gcm', encryptionKey, iv);
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const parts = [iv, body, cipher.getAuthTag()].map((part) => part.toString('base64url'));
      return [formatVersion, ...parts].join('.');
    },
    decrypt(ciphertext, context) {
      const [version, iv, body, tag] = ciphertext.split('.');
      if (
        version !== formatVersion ||
        iv === undefined ||
        body === undefined ||
        tag === undefined
      ) {
        throw new Error('corrupt personal data: unknown ciphertext format');
      }
      const decipher = createDecipheriv('aes-256-gcm', encryptionKey, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      const authTag = Buffer.from(tag, 'base64url');
      if (authTag.length !== tagBytes) throw new Error('corrupt personal data: bad tag length');
      decipher.setAuthTag(authTag);
      return Buffer.concat([
        decipher.update(Buffer.from(body, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    },
    lookupTag(value, purpose) {
      return createHmac('sha256', lookupKey).update(`${purpose}\0${value}`).digest('base64url');
    },
  };
}

/** Fresh random IVs, drawn from a pool refilled when used up (see ivPoolBytes). */
function randomIvSource(): () => Buffer {
  let pool = randomBytes(ivPoolBytes);
  let offset = 0;
  return () => {
    if (offset + ivBytes > pool.length) {
      // A new buffer, never a refill in place: IVs handed out earlier are views of the old one.
      pool = randomBytes(ivPoolBytes);
      offset = 0;
    }
    const iv = pool.subarray(offset, offset + ivBytes);
    offset += ivBytes;
    return iv;
  };
}

/** base64url of the 12-byte IV and of the 16-byte tag: 16 and 22 characters. */
const ciphertextShape = /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{22}$/;

/**
 * Whether `value` has the shape of `encrypt`'s output, to tell data written in the clear by an
 * older version from data encrypted since (an IBAN, a name or an XML file never has it).
 */
export function looksEncrypted(value: string): boolean {
  return ciphertextShape.test(value);
}

/** An email as compared: trimmed, Unicode-normalised, lower-cased. */
export function normaliseEmail(email: string): string {
  return email.trim().normalize('NFKC').toLowerCase();
}

/** For tests: a cipher under a fresh random master key. */
export function testCipher(): PersonalDataCipher {
  return createPersonalDataCipher(randomBytes(masterKeyBytes));
}
