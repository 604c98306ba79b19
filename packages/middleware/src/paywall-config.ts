/**
 * The paywall's configuration: the options checked once (a misconfiguration throws at creation,
 * not on the first request) and turned into what every request reads.
 */
import { challengeLifetimeSecondsMax, challengeSecretLengthMin } from '@mite/protocol';
import type { PaywallOptions } from './core.ts';
import type { X402Mode } from './credential-source.ts';
import { requestJsonBase } from './offer.ts';
import {
  createReceiptVerifier,
  jwksRefreshIntervalMinMs,
  type ReceiptVerifier,
} from './receipt-verifier.ts';
import { createMemoryReplayStore, type ReplayStore } from './replay-store.ts';
import { createTokenDepositor, type TokenDepositor } from './token-deposit.ts';
import { createRouteTable, type PricedRoute, type RouteTable } from './routes.ts';
import { createVerifiedCache, type VerifiedCache, verifiedCacheSizeMax } from './verified-cache.ts';
import type { VerifiedCredential } from './verification.ts';

/** How long a challenge stays payable when the options do not say. */
export const challengeTtlSecondsDefault = 300;

export interface Config {
  readonly merchantId: string;
  readonly realm: string;
  readonly platformUrl: string;
  /** The secret new challenges are issued under. */
  readonly secret: Uint8Array;
  /** Every secret a presented challenge may have been issued under, the current one first. */
  readonly secrets: readonly Uint8Array[];
  readonly clock: () => number;
  readonly ttlSeconds: number;
  readonly routes: RouteTable;
  readonly origin: string | undefined;
  readonly replayStore: ReplayStore;
  readonly verifier: ReceiptVerifier;
  readonly verified: VerifiedCache<VerifiedCredential>;
  /** Per route, the UTF-8 length of its payment request's JSON with an empty resource and amount. */
  readonly requestJsonBase: ReadonlyMap<PricedRoute, number>;
  readonly x402: X402Mode;
  readonly jwksRetryAfterSeconds: number;
  /** Set when the merchant takes tokens (method "mite-token"). */
  readonly tokens: TokenDepositor | undefined;
}

function checkOptions(options: PaywallOptions): void {
  for (const secret of [options.challengeSecret, ...(options.previousChallengeSecrets ?? [])]) {
    if (!(secret instanceof Uint8Array) || secret.length < challengeSecretLengthMin) {
      throw new RangeError(`a challenge secret is at least ${challengeSecretLengthMin} bytes`);
    }
  }
  const ttlSeconds = options.challengeTtlSeconds ?? challengeTtlSecondsDefault;
  if (
    !Number.isSafeInteger(ttlSeconds) ||
    ttlSeconds < 1 ||
    ttlSeconds > challengeLifetimeSecondsMax
  ) {
    throw new RangeError(`challengeTtlSeconds is 1 to ${challengeLifetimeSecondsMax}`);
  }
  if (options.origin !== undefined) {
    const origin = new URL(options.origin);
    if (!['http:', 'https:'].includes(origin.protocol) || origin.origin !== options.origin) {
      throw new RangeError('origin is an http(s) origin without path or trailing slash');
    }
  }
}

function defaultJwksUrl(platformUrl: string): string {
  return `${platformUrl.replace(/\/+$/, '')}/v1/keys`;
}

/** For this package's tests: a look at the receipt verifier (to count its calls) and the cache. */
export interface PaywallInternals {
  readonly wrapVerifier?: (verifier: ReceiptVerifier) => ReceiptVerifier;
  readonly onVerifiedCache?: (cache: { readonly size: number }) => void;
}

/** The checked options, with the route table, the receipt verifier and the caches they make. */
export function createConfig(options: PaywallOptions, internals: PaywallInternals): Config {
  checkOptions(options);
  const clock = options.clock ?? Date.now;
  const refreshIntervalMinMs = options.jwksRefreshIntervalMinMs ?? jwksRefreshIntervalMinMs;
  const verified = createVerifiedCache<VerifiedCredential>(
    options.verifiedCacheSizeMax ?? verifiedCacheSizeMax,
  );
  const baseVerifier = createReceiptVerifier({
    jwksUrl: new URL(options.jwksUrl ?? defaultJwksUrl(options.platformUrl)).href,
    fetch: options.fetch ?? globalThis.fetch,
    clock,
    refreshIntervalMinMs,
    // A refreshed key set drops the credentials verified by a key it no longer holds at once.
    onKeySetReplaced: () => verified.retain((entry) => verifier.holdsKey(entry.kid, entry.key)),
  });
  const verifier = internals.wrapVerifier?.(baseVerifier) ?? baseVerifier;
  internals.onVerifiedCache?.(verified);
  return {
    merchantId: options.merchantId,
    realm: options.realm,
    platformUrl: options.platformUrl,
    secret: options.challengeSecret,
    secrets: [options.challengeSecret, ...(options.previousChallengeSecrets ?? [])],
    clock,
    ttlSeconds: options.challengeTtlSeconds ?? challengeTtlSecondsDefault,
    routes: createRouteTable(options.routes ?? []),
    origin: options.origin,
    replayStore: options.replayStore ?? createMemoryReplayStore({ clock }),
    verifier,
    verified,
    requestJsonBase: new Map(
      (options.routes ?? []).map((route) => [
        route,
        requestJsonBase(
          { merchantId: options.merchantId, platformUrl: options.platformUrl },
          route,
        ),
      ]),
    ),
    x402: options.x402 ?? 'always',
    jwksRetryAfterSeconds: Math.max(1, Math.ceil(refreshIntervalMinMs / 1000)),
    tokens:
      options.tokens === undefined
        ? undefined
        : createTokenDepositor({
            platformUrl: options.platformUrl,
            apiKey: options.tokens.apiKey,
            fetch: options.fetch ?? globalThis.fetch,
            clock,
            refreshIntervalMinMs,
          }),
  };
}
