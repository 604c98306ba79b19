/**
 * Offline verification of what the platform signs: receipts (a compact JWS, EdDSA over Ed25519,
 * `typ` `mite-receipt+jwt`, `kid` naming a key of the platform's JWKS) and, by the same code with
 * another `typ`, session grants (`mite-session+jwt`, see sessions/grant-check.ts): one key cache,
 * one signature check, one set of JWS rules for every platform document. The JWKS is fetched once and
 * cached; it is fetched again only for a key id it does not hold, and at most once per
 * `refreshIntervalMinMs`, so that a flood of receipts with invented key ids cannot make the
 * merchant hammer the platform.
 *
 * The signature is checked with node:crypto's one-shot `verify` against a `KeyObject` made once
 * per JWK (and kept across refreshes while the key is unchanged), synchronously on the calling
 * thread: WebCrypto's `subtle.verify` costs as much again in job setup as the Ed25519 check itself.
 * The JWS rules are jose's `compactVerify` with `algorithms: ['EdDSA', 'Ed25519']`, which this
 * module used before: a protected header that is a JSON object, `crit` naming only `b64` (with
 * `b64` a boolean; `false` means an unencoded payload), ASCII signing input, and no other header
 * parameter refused.
 */
import { createPublicKey, type KeyObject, verify as verifySignature } from 'node:crypto';
import {
  decodeBase64url,
  decodeReceiptClaims,
  type ExplainedFailure,
  ok,
  receiptMediaType,
  type ReceiptClaims,
  type Success,
} from '@mite/protocol';

/** The shortest time between two JWKS fetches. */
export const jwksRefreshIntervalMinMs = 60_000;
/** How long a JWKS fetch may take before it counts as failed. */
export const jwksFetchTimeoutMs = 5_000;
/** The longest JWKS response read: a handful of keys is under 1 KiB. */
export const jwksResponseLengthMax = 65_536;
/** The most keys taken from one JWKS; the platform publishes one or two. */
export const jwksKeyCountMax = 32;

/** Why a receipt was not accepted; `keysUnavailable` is the merchant's trouble, not the client's. */
export type ReceiptVerificationCode = 'receiptInvalid' | 'unknownKey' | 'keysUnavailable';

export type ReceiptRefusal = ExplainedFailure<ReceiptVerificationCode>;

/** A receipt's claims once its signature holds, or why it was not accepted. */
export type ReceiptVerification = Success<ReceiptClaims> | ReceiptRefusal;

/** A platform document's payload (JSON, not yet decoded) and the key that verified it. */
export interface KeyedPayload {
  readonly payload: unknown;
  readonly kid: string;
  readonly key: KeyObject;
}

/** What a platform document of one media type is called in refusals ("receipt", "grant"). */
export interface SignedDocumentType {
  readonly mediaType: string;
  readonly noun: string;
}

const receiptDocument: SignedDocumentType = { mediaType: receiptMediaType, noun: 'receipt' };

/** A verified receipt with the key that verified it, for caches that must forget withdrawn keys. */
export interface KeyedReceipt {
  readonly claims: ReceiptClaims;
  readonly kid: string;
  readonly key: KeyObject;
}

export interface ReceiptVerifier {
  verify(jws: string): Promise<ReceiptVerification>;
  /** `verify`, also naming the key (its id and the key object) that verified the receipt. */
  verifyKeyed(jws: string): Promise<Success<KeyedReceipt> | ReceiptRefusal>;
  /**
   * Whether the key set held now still has this very key under this id: false once a refresh
   * withdrew the key or published another one under its id.
   */
  holdsKey(kid: string, key: KeyObject): boolean;
  /**
   * Any platform document of this type: the signature checked as a receipt's, the payload parsed
   * as JSON and handed back undecoded (the caller decodes its claims). Its refusals name the
   * document by `type.noun`, with the code `receiptInvalid` for any defect.
   */
  verifySigned(
    jws: string,
    type: SignedDocumentType,
  ): Promise<Success<KeyedPayload> | ReceiptRefusal>;
}

export interface ReceiptVerifierOptions {
  readonly jwksUrl: string;
  readonly fetch: typeof fetch;
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
  readonly refreshIntervalMinMs?: number;
  /** Called after every successful refresh, once the new key set is in place. */
  readonly onKeySetReplaced?: () => void;
}

interface HeldKey {
  /** The JWK's `x`, by which a refresh tells an unchanged key from a new one under the same id. */
  readonly x: string;
  readonly key: KeyObject;
}

type KeySet = ReadonlyMap<string, HeldKey>;

type KeyLookup = Success<KeyObject> | ExplainedFailure<'unknownKey' | 'keysUnavailable'>;

function refusal(code: ReceiptVerificationCode, detail: string): ReceiptRefusal {
  return { ok: false, code, detail };
}

async function readBounded(response: Response, lengthMax: number): Promise<string | undefined> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of response.body) {
    length += chunk.byteLength;
    if (length > lengthMax) {
      await response.body.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isEd25519PublicJwk(value: unknown): value is { kid: string; x: string } {
  if (typeof value !== 'object' || value === null) return false;
  const jwk = value as Record<string, unknown>;
  return (
    jwk['kty'] === 'OKP' &&
    jwk['crv'] === 'Ed25519' &&
    typeof jwk['x'] === 'string' &&
    typeof jwk['kid'] === 'string' &&
    jwk['d'] === undefined &&
    (jwk['use'] === undefined || jwk['use'] === 'sig') &&
    (jwk['alg'] === undefined || jwk['alg'] === 'EdDSA' || jwk['alg'] === 'Ed25519')
  );
}

/**
 * The Ed25519 signing keys of a JWKS document by key id; other keys are skipped, not refused. A
 * key held already under the same id with the same `x` keeps its key object.
 */
function keysOfJwks(text: string, held: KeySet | undefined): Map<string, HeldKey> | undefined {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return undefined;
  }
  const listed = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(listed)) return undefined;
  const keys = new Map<string, HeldKey>();
  for (const jwk of listed.slice(0, jwksKeyCountMax)) {
    if (!isEd25519PublicJwk(jwk)) continue;
    const previous = held?.get(jwk.kid);
    if (previous !== undefined && previous.x === jwk.x) {
      keys.set(jwk.kid, previous);
      continue;
    }
    try {
      const key = createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x },
        format: 'jwk',
      });
      keys.set(jwk.kid, { x: jwk.x, key });
    } catch {
      // A key that does not import verifies nothing; the others still do.
    }
  }
  return keys;
}

async function fetchJwks(options: ReceiptVerifierOptions): Promise<string | undefined> {
  try {
    const response = await options.fetch(options.jwksUrl, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(jwksFetchTimeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      return undefined;
    }
    return await readBounded(response, jwksResponseLengthMax);
  } catch {
    // Network failure or timeout: the caller keeps the keys it had.
    return undefined;
  }
}

interface KeyCache {
  lookup(kid: string): Promise<KeyLookup>;
  holds(kid: string, key: KeyObject): boolean;
}

/** The JWKS cache: key lookups by id, with rate-limited refreshes shared by concurrent callers. */
function createKeyCache(options: ReceiptVerifierOptions): KeyCache {
  const intervalMs = options.refreshIntervalMinMs ?? jwksRefreshIntervalMinMs;
  let keys: KeySet | undefined;
  let lastAttemptMs: number | undefined;
  let inflight: Promise<void> | undefined;

  function refresh(): Promise<void> {
    lastAttemptMs = options.clock();
    inflight = fetchJwks(options).then((text) => {
      const fetched = text === undefined ? undefined : keysOfJwks(text, keys);
      inflight = undefined;
      // A failed refresh keeps the old keys: the platform being down must not void good receipts.
      if (fetched === undefined) return;
      keys = fetched;
      options.onKeySetReplaced?.();
    });
    return inflight;
  }

  function held(kid: string): KeyLookup | undefined {
    const entry = keys?.get(kid);
    return entry === undefined ? undefined : ok(entry.key);
  }

  return {
    async lookup(kid) {
      const cached = held(kid);
      if (cached !== undefined) return cached;
      if (inflight !== undefined) await inflight;
      else if (lastAttemptMs === undefined || options.clock() - lastAttemptMs >= intervalMs) {
        await refresh();
      }
      const found = held(kid);
      if (found !== undefined) return found;
      return keys === undefined
        ? { ok: false, code: 'keysUnavailable', detail: 'the platform keys could not be fetched' }
        : { ok: false, code: 'unknownKey', detail: 'the platform does not publish this key id' };
    },
    holds: (kid, key) => keys?.get(kid)?.key === key,
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** ASCII only: every other character takes more than one byte in UTF-8. */
function isAscii(text: string): boolean {
  return Buffer.byteLength(text, 'utf8') === text.length;
}

function signatureHolds(signingInput: Buffer, key: KeyObject, signature: Uint8Array): boolean {
  try {
    return verifySignature(null, signingInput, key, signature);
  } catch {
    return false;
  }
}

/** Base64url as the protocol spells it (strict); undefined when it is not. */
function base64urlBytes(text: string): Uint8Array | undefined {
  const decoded = decodeBase64url(text, text.length);
  return decoded.ok ? decoded.value : undefined;
}

/** A JSON text's value, or undefined when the bytes are not UTF-8 JSON. */
function parseJson(bytes: Uint8Array): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(strictUtf8.decode(bytes)) as unknown };
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

interface ReceiptHeader {
  readonly kid: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** The protected header, checked before any key is looked up (as jose's decodeProtectedHeader). */
function readHeader(segments: readonly string[], type: SignedDocumentType): ReceiptHeader | string {
  const { noun, mediaType } = type;
  const encoded = segments.length === 3 || segments.length === 5 ? segments[0] : undefined;
  const bytes = encoded === undefined || encoded === '' ? undefined : base64urlBytes(encoded);
  const json = bytes === undefined ? undefined : parseJson(bytes);
  if (json === undefined || !isPlainObject(json.value)) return `the ${noun} header is not JSON`;
  const header = json.value;
  if (header['alg'] !== 'EdDSA' && header['alg'] !== 'Ed25519') {
    return `the ${noun} is not EdDSA-signed`;
  }
  if (header['typ'] !== mediaType) return `the ${noun} type is not ${mediaType}`;
  if (typeof header['kid'] !== 'string') return `the ${noun} names no key`;
  return { kid: header['kid'], fields: header };
}

/** Whether the payload is base64url-encoded: jose's `crit` and `b64` rules; undefined if broken. */
function payloadEncoding(header: Readonly<Record<string, unknown>>): boolean | undefined {
  const crit = header['crit'];
  if (crit === undefined) return true;
  if (!Array.isArray(crit) || crit.length === 0) return undefined;
  // jose recognises one extension, b64; any other critical parameter is refused.
  if (!crit.every((name) => name === 'b64')) return undefined;
  const b64 = header['b64'];
  return typeof b64 === 'boolean' ? b64 : undefined;
}

/** The signature, then the payload as JSON: what jose's compactVerify checked. */
function checkSigned(
  segments: readonly string[],
  header: ReceiptHeader,
  key: KeyObject,
  noun: string,
): { readonly payload: unknown } | ReceiptRefusal {
  const signatureRefusal = refusal('receiptInvalid', `the ${noun} signature does not verify`);
  const b64 = payloadEncoding(header.fields);
  const [protectedHeader, payload, signature] = segments;
  if (
    b64 === undefined ||
    segments.length !== 3 ||
    protectedHeader === undefined ||
    payload === undefined ||
    signature === undefined ||
    !isAscii(payload)
  ) {
    return signatureRefusal;
  }
  const signatureBytes = base64urlBytes(signature);
  if (signatureBytes === undefined) return signatureRefusal;
  const signingInput = Buffer.from(`${protectedHeader}.${payload}`, 'latin1');
  if (!signatureHolds(signingInput, key, signatureBytes)) return signatureRefusal;
  const payloadBytes = b64 ? base64urlBytes(payload) : Buffer.from(payload, 'latin1');
  if (payloadBytes === undefined) return signatureRefusal;
  const json = parseJson(payloadBytes);
  if (json === undefined) return refusal('receiptInvalid', `the ${noun} payload is not JSON`);
  return { payload: json.value };
}

export function createReceiptVerifier(options: ReceiptVerifierOptions): ReceiptVerifier {
  const keys = createKeyCache(options);

  async function verifySigned(
    jws: string,
    type: SignedDocumentType,
  ): Promise<Success<KeyedPayload> | ReceiptRefusal> {
    if (typeof jws !== 'string')
      return refusal('receiptInvalid', `the ${type.noun} is not a string`);
    const segments = jws.split('.');
    const header = readHeader(segments, type);
    if (typeof header === 'string') return refusal('receiptInvalid', header);
    const found = await keys.lookup(header.kid);
    if (!found.ok) return found;
    const signed = checkSigned(segments, header, found.value, type.noun);
    if ('ok' in signed) return signed;
    return ok({ payload: signed.payload, kid: header.kid, key: found.value });
  }

  async function verifyKeyed(jws: string): Promise<Success<KeyedReceipt> | ReceiptRefusal> {
    const signed = await verifySigned(jws, receiptDocument);
    if (!signed.ok) return signed;
    const claims = decodeReceiptClaims(signed.value.payload);
    if (!claims.ok) {
      return refusal('receiptInvalid', `a signed receipt with defects: ${claims.detail}`);
    }
    return ok({ claims: claims.value, kid: signed.value.kid, key: signed.value.key });
  }

  return {
    async verify(jws) {
      const verified = await verifyKeyed(jws);
      return verified.ok ? ok(verified.value.claims) : verified;
    },
    verifyKeyed,
    holdsKey: keys.holds,
    verifySigned,
  };
}
