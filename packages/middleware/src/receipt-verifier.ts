/**
 * Offline verification of the platform's receipts: a compact JWS, EdDSA over Ed25519, `typ`
 * `mite-receipt+jwt`, `kid` naming a key of the platform's JWKS. The JWKS is fetched once and
 * cached; it is fetched again only for a key id it does not hold, and at most once per
 * `refreshIntervalMinMs`, so that a flood of receipts with invented key ids cannot make the
 * merchant hammer the platform.
 */
import { decodeReceiptClaims, receiptMediaType, type ReceiptClaims } from '@mite/protocol';
import { compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose';

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

export type ReceiptVerification =
  | { readonly ok: true; readonly claims: ReceiptClaims }
  | { readonly ok: false; readonly code: ReceiptVerificationCode; readonly detail: string };

export interface ReceiptVerifier {
  verify(jws: string): Promise<ReceiptVerification>;
}

export interface ReceiptVerifierOptions {
  readonly jwksUrl: string;
  readonly fetch: typeof fetch;
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
  readonly refreshIntervalMinMs?: number;
}

type VerificationKey = Awaited<ReturnType<typeof importJWK>>;
type KeyLookup =
  | { readonly ok: true; readonly key: VerificationKey }
  | {
      readonly ok: false;
      readonly code: 'unknownKey' | 'keysUnavailable';
      readonly detail: string;
    };

function refusal(code: ReceiptVerificationCode, detail: string): ReceiptVerification {
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

function isEd25519PublicJwk(value: unknown): value is JWK & { kid: string; x: string } {
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

/** The Ed25519 signing keys of a JWKS document by key id; other keys are skipped, not refused. */
async function keysOfJwks(text: string): Promise<Map<string, VerificationKey> | undefined> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return undefined;
  }
  const listed = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(listed)) return undefined;
  const keys = new Map<string, VerificationKey>();
  for (const jwk of listed.slice(0, jwksKeyCountMax)) {
    if (!isEd25519PublicJwk(jwk)) continue;
    try {
      keys.set(jwk.kid, await importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }, 'EdDSA'));
    } catch {
      // A key that does not import verifies nothing; the others still do.
    }
  }
  return keys;
}

async function fetchKeys(
  options: ReceiptVerifierOptions,
): Promise<Map<string, VerificationKey> | undefined> {
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
    const text = await readBounded(response, jwksResponseLengthMax);
    return text === undefined ? undefined : await keysOfJwks(text);
  } catch {
    // Network failure or timeout: the caller keeps the keys it had.
    return undefined;
  }
}

/** The JWKS cache: key lookups by id, with rate-limited refreshes shared by concurrent callers. */
function createKeyCache(options: ReceiptVerifierOptions): (kid: string) => Promise<KeyLookup> {
  const intervalMs = options.refreshIntervalMinMs ?? jwksRefreshIntervalMinMs;
  let keys: Map<string, VerificationKey> | undefined;
  let lastAttemptMs: number | undefined;
  let inflight: Promise<void> | undefined;

  function refresh(): Promise<void> {
    lastAttemptMs = options.clock();
    inflight = fetchKeys(options).then((fetched) => {
      // A failed refresh keeps the old keys: the platform being down must not void good receipts.
      if (fetched !== undefined) keys = fetched;
      inflight = undefined;
    });
    return inflight;
  }

  function lookup(kid: string): KeyLookup | undefined {
    const key = keys?.get(kid);
    return key === undefined ? undefined : { ok: true, key };
  }

  return async (kid) => {
    const cached = lookup(kid);
    if (cached !== undefined) return cached;
    if (inflight !== undefined) await inflight;
    else if (lastAttemptMs === undefined || options.clock() - lastAttemptMs >= intervalMs) {
      await refresh();
    }
    const found = lookup(kid);
    if (found !== undefined) return found;
    return keys === undefined
      ? { ok: false, code: 'keysUnavailable', detail: 'the platform keys could not be fetched' }
      : { ok: false, code: 'unknownKey', detail: 'the platform does not publish this key id' };
  };
}

function readHeader(jws: string): { kid: string } | string {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    return 'the receipt header is not JSON';
  }
  if (header.alg !== 'EdDSA' && header.alg !== 'Ed25519') return 'the receipt is not EdDSA-signed';
  if (header.typ !== receiptMediaType) return `the receipt type is not ${receiptMediaType}`;
  if (typeof header.kid !== 'string') return 'the receipt names no key';
  return { kid: header.kid };
}

export function createReceiptVerifier(options: ReceiptVerifierOptions): ReceiptVerifier {
  const keyFor = createKeyCache(options);
  return {
    async verify(jws) {
      const header = readHeader(jws);
      if (typeof header === 'string') return refusal('receiptInvalid', header);
      const key = await keyFor(header.kid);
      if (!key.ok) return key;
      let payload: Uint8Array;
      try {
        ({ payload } = await compactVerify(jws, key.key, { algorithms: ['EdDSA', 'Ed25519'] }));
      } catch {
        return refusal('receiptInvalid', 'the receipt signature does not verify');
      }
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
      } catch {
        return refusal('receiptInvalid', 'the receipt payload is not JSON');
      }
      const claims = decodeReceiptClaims(json);
      return claims.ok
        ? { ok: true, claims: claims.value }
        : refusal('receiptInvalid', `a signed receipt with defects: ${claims.detail}`);
    },
  };
}
