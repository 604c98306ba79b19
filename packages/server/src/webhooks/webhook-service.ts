/**
 * Merchant webhooks (DESIGN section 4), by concept: endpoints and their signing secrets
 * (webhook-endpoints.ts; sealed at rest by sealed-webhook-secrets.ts), delivery of the outbox's
 * events signed per the Standard Webhooks spec with retries and exponential backoff
 * (webhook-delivery.ts), and each endpoint's attempts and replay (webhook-replay.ts). This file
 * composes them into the one service the routes, the worker and the platform use.
 */
import type { PlatformDb } from '../db/platform-db.ts';
import type { PersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import type { ConnectLookup, Resolve } from './network-guard.ts';
import {
  createWebhookDelivery,
  defaultWebhookBackoff,
  type WebhookBackoff,
  webhookMaxAttempts,
  webhookTimeoutMs,
} from './webhook-delivery.ts';
import { createWebhookEndpoints } from './webhook-endpoints.ts';
import { createWebhookReplay } from './webhook-replay.ts';
import { sealPlaintextWebhookSecrets, sealSecretsPageRowsMax } from './sealed-webhook-secrets.ts';

export {
  defaultWebhookBackoff,
  type WebhookBackoff,
  webhookBatchSizeDefault,
  webhookBatchSizeMax,
  webhookClaimMarginMs,
  type WebhookDeliveryReport,
  webhookMaxAttempts,
  webhookRetryDelayMs,
  webhookTimeoutMs,
} from './webhook-delivery.ts';
export {
  type WebhookEndpoint,
  webhookEndpointsPerMerchantMax,
  webhookUrlLengthMax,
} from './webhook-endpoints.ts';
export type { WebhookAttempt, WebhookAttemptCursor } from './webhook-replay.ts';

export interface WebhookServiceDeps {
  readonly platform: PlatformDb;
  readonly clock: () => number;
  /** Seals endpoints' signing secrets at rest, and opens them to sign (sealed-webhook-secrets.ts). */
  readonly cipher: PersonalDataCipher;
  /** How attempts are sent; the global fetch by default. */
  readonly fetch?: typeof fetch;
  readonly maxAttempts?: number;
  readonly backoff?: WebhookBackoff;
  readonly timeoutMs?: number;
  /** Jitter's source, in [0, 1). */
  readonly random?: () => number;
  /**
   * Whether endpoints may be on loopback or private networks (network-guard.ts): false unless
   * the operator says so (`MITE_WEBHOOK_ALLOW_PRIVATE_NETWORKS=1`), for tests and local demos.
   */
  readonly allowPrivateNetworks?: boolean;
  /** Name resolution for the destination check; the system resolver by default. */
  readonly resolve?: Resolve;
  /** Name resolution for connections (then checked again); the system resolver by default. */
  readonly connectLookup?: ConnectLookup;
  /** Endpoints the start-up upgrade reads per query (at most sealSecretsPageRowsMax). */
  readonly sealPageRows?: number;
}

/** Merchants' webhook endpoints and the delivery of their events. */
export function createWebhookService(deps: WebhookServiceDeps) {
  const { clock, cipher } = deps;
  const db = deps.platform.db;
  const allowPrivateNetworks = deps.allowPrivateNetworks ?? false;
  const endpoints = createWebhookEndpoints({ db, clock, cipher, allowPrivateNetworks });
  const delivery = createWebhookDelivery({
    db,
    clock,
    cipher,
    fetch: deps.fetch,
    maxAttempts: deps.maxAttempts ?? webhookMaxAttempts,
    backoff: deps.backoff ?? defaultWebhookBackoff,
    timeoutMs: deps.timeoutMs ?? webhookTimeoutMs,
    random: deps.random ?? Math.random,
    allowPrivateNetworks,
    resolve: deps.resolve,
    connectLookup: deps.connectLookup,
  });
  const replay = createWebhookReplay({ db, clock });
  const sealPageRows = Math.min(
    deps.sealPageRows ?? sealSecretsPageRowsMax,
    sealSecretsPageRowsMax,
  );
  return {
    ...endpoints,
    ...delivery,
    ...replay,
    /** Encrypts the secrets older versions stored in the clear; run at start (once, then a no-op). */
    sealPlaintextSecrets: () => sealPlaintextWebhookSecrets(db, cipher, clock(), sealPageRows),
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
