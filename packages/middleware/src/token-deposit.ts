/**
 * Payment with tokens (method "mite-token", DESIGN section 7): the tokens of a credential are
 * verified offline against the platform's published token keys (RFC 9474 signatures are RSASSA-PSS
 * with SHA-384 and a 48-byte salt, which node:crypto verifies), so that a forged or short payment
 * is refused without a call; then they are deposited at the platform with the merchant's API key,
 * which spends them (of two deposits of one token exactly one wins) and answers a receipt signed
 * like a purchase's. Only the deposit can tell a spent token, so it happens before the resource
 * is served; the receipt then goes through the same checks as a receipt credential.
 *
 * The key list is fetched once and again only for a key id it does not hold, at most once per
 * `refreshIntervalMinMs`, as the receipt verifier does with the JWKS: invented key ids cannot
 * make the merchant hammer the platform.
 */
import { constants, createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import {
  type Challenge,
  decodeBase64url,
  type ExplainedFailure,
  formatAmount,
  ok,
  requestAmountMicros,
  type Success,
  type TokenPaymentWire,
} from '@mite/protocol';

/** The salt length of RSABSSA-SHA384-PSS-Deterministic signatures (RFC 9474). */
const pssSaltBytes = 48;
/** How long a key-list fetch or a deposit may take before it counts as failed. */
export const tokenCallTimeoutMs = 5_000;
/** The longest key list read: 27 denominations of two keysets are about 40 KiB. */
export const tokenKeysResponseLengthMax = 262_144;

export type TokenRefusalCode =
  'tokenInvalid' | 'tokenSpent' | 'tokenAmountMismatch' | 'depositUnavailable';

export interface TokenDepositorOptions {
  readonly platformUrl: string;
  /** A merchant API key with the `tokens:deposit` scope. */
  readonly apiKey: string;
  readonly fetch: typeof fetch;
  readonly clock: () => number;
  readonly refreshIntervalMinMs: number;
}

interface TokenKey {
  readonly denominationMicros: bigint;
  readonly key: KeyObject;
  readonly redeemUntilMs: number;
}

interface PublishedKey {
  readonly keyId: string;
  readonly denomination: string;
  readonly spki: string;
  readonly redeemUntil: string;
}

export interface TokenDepositor {
  /** Verifies the tokens offline, then deposits them: the deposit's receipt (a compact JWS). */
  deposit(
    tokens: readonly TokenPaymentWire[],
    challenge: Challenge,
  ): Promise<Success<string> | ExplainedFailure<TokenRefusalCode>>;
}

function refusal(code: TokenRefusalCode, detail: string): ExplainedFailure<TokenRefusalCode> {
  return { ok: false, code, detail };
}

/** Micro-units of a published denomination ("0.000064"). */
function microsOf(denomination: string): bigint {
  const [whole = '0', fraction = ''] = denomination.split('.');
  return BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, '0').slice(0, 6));
}

export function createTokenDepositor(options: TokenDepositorOptions): TokenDepositor {
  const base = options.platformUrl.replace(/\/+$/, '');
  let keys = new Map<string, TokenKey>();
  let fetchedAtMs = Number.NEGATIVE_INFINITY;
  let refreshing: Promise<boolean> | undefined;

  /** Fetches the key list; each key's id must be the hash of its SPKI, as the client checks. */
  async function refresh(): Promise<boolean> {
    fetchedAtMs = options.clock();
    try {
      const response = await options.fetch(`${base}/v1/token-keys`, {
        signal: AbortSignal.timeout(tokenCallTimeoutMs),
      });
      const text = await response.text();
      if (!response.ok || text.length > tokenKeysResponseLengthMax) return false;
      const listed = (JSON.parse(text) as { keys: PublishedKey[] }).keys;
      const next = new Map<string, TokenKey>();
      for (const published of listed) {
        const spki = Buffer.from(published.spki, 'base64url');
        if (createHash('sha256').update(spki).digest('base64url') !== published.keyId) continue;
        next.set(published.keyId, {
          denominationMicros: microsOf(published.denomination),
          key: createPublicKey({ key: spki, format: 'der', type: 'spki' }),
          redeemUntilMs: Date.parse(published.redeemUntil),
        });
      }
      keys = next;
      return true;
    } catch {
      return false;
    }
  }

  /** The key, fetching the list again if it is unknown and the last fetch is old enough. */
  async function keyFor(keyId: string): Promise<TokenKey | 'unknown' | 'unavailable'> {
    const held = keys.get(keyId);
    if (held !== undefined) return held;
    if (options.clock() - fetchedAtMs < options.refreshIntervalMinMs) {
      return keys.size === 0 ? 'unavailable' : 'unknown';
    }
    refreshing ??= refresh().finally(() => (refreshing = undefined));
    const fetched = await refreshing;
    if (!fetched && keys.size === 0) return 'unavailable';
    return keys.get(keyId) ?? 'unknown';
  }

  /** Every token verifies under a key that takes tokens now, and together they pay the price. */
  async function verifyOffline(
    tokens: readonly TokenPaymentWire[],
    challenge: Challenge,
  ): Promise<ExplainedFailure<TokenRefusalCode> | undefined> {
    let totalMicros = 0n;
    const seen = new Set<string>();
    for (const [index, token] of tokens.entries()) {
      const key = await keyFor(token.keyId);
      if (key === 'unavailable') {
        return refusal('depositUnavailable', 'the platform token keys could not be fetched');
      }
      const message = decodeBase64url(token.message, token.message.length);
      const signature = decodeBase64url(token.signature, token.signature.length);
      const valid =
        key !== 'unknown' &&
        key.redeemUntilMs > options.clock() &&
        message.ok &&
        signature.ok &&
        !seen.has(`${token.keyId}.${token.message}`) &&
        verify(
          'sha384',
          message.value,
          { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pssSaltBytes },
          signature.value,
        );
      if (!valid) return refusal('tokenInvalid', `token ${index} is not a valid token`);
      seen.add(`${token.keyId}.${token.message}`);
      totalMicros += key.denominationMicros;
    }
    const priceMicros = requestAmountMicros(challenge.request);
    if (totalMicros !== priceMicros) {
      return refusal(
        'tokenAmountMismatch',
        `the tokens are worth ${totalMicros} micro-units, the price is ${priceMicros}`,
      );
    }
    return undefined;
  }

  async function deposit(
    tokens: readonly TokenPaymentWire[],
    challenge: Challenge,
  ): Promise<Success<string> | ExplainedFailure<TokenRefusalCode>> {
    const refused = await verifyOffline(tokens, challenge);
    if (refused !== undefined) return refused;
    const { methodDetails } = challenge.request;
    try {
      const response = await options.fetch(`${base}/v1/tokens/deposits`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${options.apiKey}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          tokens,
          amount: formatAmount(requestAmountMicros(challenge.request)),
          resource: methodDetails.resource,
          challengeId: challenge.id,
          accessPeriodSeconds: methodDetails.accessPeriodSeconds,
        }),
        signal: AbortSignal.timeout(tokenCallTimeoutMs),
      });
      const answer = (await response.json()) as { receipt?: unknown; type?: unknown };
      if (response.status === 201 && typeof answer.receipt === 'string') return ok(answer.receipt);
      return depositRefusal(response.status, String(answer.type ?? ''));
    } catch {
      return refusal('depositUnavailable', 'the platform could not be reached to deposit');
    }
  }

  return { deposit };
}

/** The platform's refusal of a deposit, as the client is told it. */
function depositRefusal(status: number, type: string): ExplainedFailure<TokenRefusalCode> {
  if (type.endsWith('/token-spent')) return refusal('tokenSpent', 'a token was spent already');
  if (type.endsWith('/token-amount-mismatch')) {
    return refusal('tokenAmountMismatch', 'the tokens do not add up to the price');
  }
  if (type.endsWith('/invalid-token')) return refusal('tokenInvalid', 'a token is not valid');
  return refusal('depositUnavailable', `the platform refused the deposit (${status})`);
}
