/**
 * The token keys a platform publishes (`GET /v1/token-keys`), checked before any is used: each
 * key's id must be the SHA-256 of its SPKI, and the modulus and exponent used for blinding are
 * read from that SPKI, not from the list's other fields, so that the key blinded against is
 * exactly the one whose id everyone else sees (a key made for one user would have an id of its
 * own, which a client can compare with other clients' lists).
 */
import {
  type BlindRsaPublicKey,
  bytesToBigint,
  decodeBase64url,
  parseAmount,
  tokenKeyIdOf,
} from '@mite/protocol';

/** The longest SPKI read (an 8192-bit key's is about 1,100 bytes). */
const spkiBytesMax = 2_048;

export interface PublishedTokenKey {
  readonly keyId: string;
  readonly keyset: string;
  readonly denominationMicros: bigint;
  readonly publicKey: BlindRsaPublicKey;
  readonly issueFromMs: number;
  readonly issueUntilMs: number;
  readonly redeemUntilMs: number;
}

/** Reads one DER element's header at `offset`: its tag, where its content starts and ends. */
function derElement(der: Uint8Array, offset: number) {
  const tag = der[offset];
  let length = der[offset + 1] ?? 0;
  let start = offset + 2;
  if (length & 0x80) {
    const lengthBytes = length & 0x7f;
    length = 0;
    for (let index = 0; index < lengthBytes; index += 1)
      length = length * 256 + (der[start + index] ?? 0);
    start += lengthBytes;
  }
  if (tag === undefined || start + length > der.length) throw new Error('truncated DER');
  return { tag, start, end: start + length };
}

/**
 * The modulus and exponent of an RSA SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { OID, NULL },
 * BIT STRING { SEQUENCE { INTEGER n, INTEGER e } } }. Throws on anything else.
 */
export function rsaPublicKeyOfSpki(spki: Uint8Array): BlindRsaPublicKey {
  const outer = derElement(spki, 0);
  const algorithm = derElement(spki, outer.start);
  const bitString = derElement(spki, algorithm.end);
  if (outer.tag !== 0x30 || algorithm.tag !== 0x30 || bitString.tag !== 0x03) {
    throw new Error('not an RSA public key');
  }
  // The bit string's first byte counts unused bits, zero for a DER key.
  const key = derElement(spki, bitString.start + 1);
  const n = derElement(spki, key.start);
  const e = derElement(spki, n.end);
  if (key.tag !== 0x30 || n.tag !== 0x02 || e.tag !== 0x02)
    throw new Error('not an RSA public key');
  return {
    n: bytesToBigint(spki.subarray(n.start, n.end)),
    e: bytesToBigint(spki.subarray(e.start, e.end)),
  };
}

interface WireKey {
  keyId: string;
  keyset: string;
  denomination: string;
  spki: string;
  issueFrom: string;
  issueUntil: string;
  redeemUntil: string;
}

/** The platform's keys, each checked; throws if any is not what its id says. */
export async function fetchTokenKeys(
  platformUrl: URL,
  fetchImpl: typeof fetch,
): Promise<PublishedTokenKey[]> {
  const response = await fetchImpl(new URL('/v1/token-keys', platformUrl));
  if (!response.ok) throw new Error(`the platform\u2019s token keys: HTTP ${response.status}`);
  const body = (await response.json()) as { algorithm?: unknown; keys?: WireKey[] };
  if (body.algorithm !== 'RSABSSA-SHA384-PSS-Deterministic' || !Array.isArray(body.keys)) {
    throw new Error('the platform\u2019s token keys are in a form this client does not know');
  }
  return body.keys.map((key) => {
    const spki = decodeBase64url(key.spki, spkiBytesMax);
    if (!spki.ok) throw new Error(`token key ${key.keyId}: ${spki.detail}`);
    if (tokenKeyIdOf(spki.value) !== key.keyId) {
      throw new Error(`token key ${key.keyId} is not the key its id names`);
    }
    const denomination = parseAmount(key.denomination);
    if (!denomination.ok) throw new Error(`token key ${key.keyId}: ${denomination.detail}`);
    return {
      keyId: key.keyId,
      keyset: key.keyset,
      denominationMicros: denomination.value,
      publicKey: rsaPublicKeyOfSpki(spki.value),
      issueFromMs: Date.parse(key.issueFrom),
      issueUntilMs: Date.parse(key.issueUntil),
      redeemUntilMs: Date.parse(key.redeemUntil),
    };
  });
}
