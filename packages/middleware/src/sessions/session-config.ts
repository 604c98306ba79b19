/**
 * The session meter's options, checked once (a misconfiguration throws at creation), and what
 * every request reads.
 */
import {
  challengeLifetimeSecondsMax,
  challengeSecretLengthMin,
  idleTimeoutSecondsMax,
  idleTimeoutSecondsMin,
} from '@mite/protocol';
import type { Paywall } from '../core.ts';
import { challengeTtlSecondsDefault } from '../paywall-config.ts';
import {
  createReceiptVerifier,
  jwksRefreshIntervalMinMs,
  type ReceiptVerifier,
} from '../receipt-verifier.ts';
import {
  createMeteredRouteTable,
  type MeteredRoute,
  type MeteredRouteTable,
} from './metered-routes.ts';
import { createSessionPlatform, type SessionPlatform } from './session-platform.ts';
import { createMemorySessionStore, type SessionStore } from './session-store.ts';
import { createSessionWaiters, type SessionWaiters } from './session-waiters.ts';
import { createVoucherKeyCache, type VoucherKeyCache } from './voucher-check.ts';

/** How long a session may go unused before the merchant closes it, unless told otherwise. */
export const sessionIdleTimeoutSecondsDefault = 300;
/** How often the highest vouchers go to the platform, unless told otherwise. */
export const checkpointIntervalMsDefault = 30_000;
/** How long a stream waits for a voucher it asked for, unless told otherwise. */
export const voucherWaitMsDefault = 15_000;
/** Sessions looked at by one upkeep round, per state. */
export const upkeepBatchMax = 1_000;

export interface SessionMeterOptions {
  /** The platform's merchant id, which grants must name. */
  readonly merchantId: string;
  /** The challenge's realm, printable ASCII. */
  readonly realm: string;
  /** The platform's base URL, where clients open sessions and the merchant checkpoints. */
  readonly platformUrl: string;
  /** The HMAC key of challenge ids, at least 32 bytes (the paywall's may be shared). */
  readonly challengeSecret: Uint8Array;
  readonly previousChallengeSecrets?: readonly Uint8Array[];
  readonly routes: readonly MeteredRoute[];
  /** A merchant API key with scope `sessions:write`, for checkpoints and closes. */
  readonly apiKey: string;
  /** Where sessions are kept: in memory by default; `@mite/middleware/sqlite` keeps a file. */
  readonly store?: SessionStore;
  /** The platform's session routes (default: over HTTP at `platformUrl` with `apiKey`). */
  readonly platform?: SessionPlatform;
  /** Sells one-off access to the same routes: its challenge goes beside the session's, and
   * credentials of its intent go to it. */
  readonly paywall?: Paywall;
  /** Defaults to `${platformUrl}/v1/keys`. */
  readonly jwksUrl?: string;
  readonly jwksRefreshIntervalMinMs?: number;
  /** Milliseconds since the epoch. */
  readonly clock?: () => number;
  readonly fetch?: typeof fetch;
  readonly challengeTtlSeconds?: number;
  /** The site's public origin; as the paywall's, it prefixes every resource. */
  readonly origin?: string;
  /** Told to the client, and the merchant closes a session unused this long (default 300). */
  readonly idleTimeoutSeconds?: number;
  /** How often upkeep runs: checkpoints, idle closes, retries (default 30 s; 0: never by itself,
   * the merchant calls `upkeep()`). At most half the idle timeout. */
  readonly checkpointIntervalMs?: number;
  /** How long a stream waits for a voucher it asked for before it ends (default 15 s). */
  readonly voucherWaitMs?: number;
  /** Told of upkeep failures (the platform unreachable...), which are retried. */
  readonly onUpkeepError?: (error: unknown) => void;
}

export interface SessionConfig {
  readonly merchantId: string;
  readonly realm: string;
  readonly platformUrl: string;
  readonly secret: Uint8Array;
  readonly secrets: readonly Uint8Array[];
  readonly clock: () => number;
  readonly ttlSeconds: number;
  readonly origin: string | undefined;
  readonly routes: MeteredRouteTable;
  readonly store: SessionStore;
  readonly platform: SessionPlatform;
  readonly paywall: Paywall | undefined;
  readonly verifier: ReceiptVerifier;
  readonly keys: VoucherKeyCache;
  readonly waiters: SessionWaiters;
  readonly idleTimeoutSeconds: number;
  readonly checkpointIntervalMs: number;
  readonly voucherWaitMs: number;
  readonly onUpkeepError: (error: unknown) => void;
  readonly jwksRetryAfterSeconds: number;
}

function checkRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} is ${min} to ${max}`);
  }
}

function checkOptions(options: SessionMeterOptions, idleTimeoutSeconds: number): void {
  for (const secret of [options.challengeSecret, ...(options.previousChallengeSecrets ?? [])]) {
    if (!(secret instanceof Uint8Array) || secret.length < challengeSecretLengthMin) {
      throw new RangeError(`a challenge secret is at least ${challengeSecretLengthMin} bytes`);
    }
  }
  checkRange(
    'challengeTtlSeconds',
    options.challengeTtlSeconds ?? challengeTtlSecondsDefault,
    1,
    challengeLifetimeSecondsMax,
  );
  checkRange(
    'idleTimeoutSeconds',
    idleTimeoutSeconds,
    idleTimeoutSecondsMin,
    idleTimeoutSecondsMax,
  );
  checkRange(
    'checkpointIntervalMs',
    options.checkpointIntervalMs ?? checkpointIntervalMsDefault,
    0,
    (idleTimeoutSeconds * 1000) / 2,
  );
  checkRange('voucherWaitMs', options.voucherWaitMs ?? voucherWaitMsDefault, 0, 600_000);
  if (typeof options.apiKey !== 'string' || options.apiKey === '') {
    throw new RangeError('apiKey is the merchant API key for checkpoints and closes');
  }
}

export function createSessionConfig(options: SessionMeterOptions): SessionConfig {
  const idleTimeoutSeconds = options.idleTimeoutSeconds ?? sessionIdleTimeoutSecondsDefault;
  checkOptions(options, idleTimeoutSeconds);
  const clock = options.clock ?? Date.now;
  const fetcher = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const refreshIntervalMinMs = options.jwksRefreshIntervalMinMs ?? jwksRefreshIntervalMinMs;
  return {
    merchantId: options.merchantId,
    realm: options.realm,
    platformUrl: options.platformUrl,
    secret: options.challengeSecret,
    secrets: [options.challengeSecret, ...(options.previousChallengeSecrets ?? [])],
    clock,
    ttlSeconds: options.challengeTtlSeconds ?? challengeTtlSecondsDefault,
    origin: options.origin,
    routes: createMeteredRouteTable(options.routes, {
      merchantId: options.merchantId,
      platformUrl: options.platformUrl,
      idleTimeoutSeconds,
    }),
    store: options.store ?? createMemorySessionStore(),
    platform:
      options.platform ??
      createSessionPlatform({
        platformUrl: options.platformUrl,
        apiKey: options.apiKey,
        fetch: fetcher,
      }),
    paywall: options.paywall,
    verifier: createReceiptVerifier({
      jwksUrl: new URL(options.jwksUrl ?? `${options.platformUrl.replace(/\/+$/, '')}/v1/keys`)
        .href,
      fetch: fetcher,
      clock,
      refreshIntervalMinMs,
    }),
    keys: createVoucherKeyCache(),
    waiters: createSessionWaiters(),
    idleTimeoutSeconds,
    checkpointIntervalMs: options.checkpointIntervalMs ?? checkpointIntervalMsDefault,
    voucherWaitMs: options.voucherWaitMs ?? voucherWaitMsDefault,
    onUpkeepError: options.onUpkeepError ?? (() => undefined),
    jwksRetryAfterSeconds: Math.max(1, Math.ceil(refreshIntervalMinMs / 1000)),
  };
}
