/**
 * Merchant webhooks (DESIGN section 4): endpoints, delivery of the outbox's events signed per the
 * Standard Webhooks spec, retries with exponential backoff, the attempts of each endpoint, replay.
 *
 * Delivery is at least once: a receiver deduplicates by `webhook-id`. Several workers (one per
 * server node) may run `deliverDue` at once on one database: each attempt is claimed first by a
 * compare-and-set on the delivery row, so only one of them sends it.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Webhook } from 'standardwebhooks';
import { uuidv7 } from 'uuidv7';
import type { PlatformDb } from '../db/platform-db.ts';
import type { WebhookDeliveryState } from '../db/schema.ts';
import { type Page, page } from '../http/pagination.ts';
import { fail, ok, type Result } from '../result.ts';
import {
  type ConnectLookup,
  destinationProblem,
  guardedFetch,
  literalDestinationProblem,
  PrivateDestinationError,
  type Resolve,
} from './network-guard.ts';
import { ownedBy, subscribesTo, webhookEventTypes, type WebhookEventType } from './outbox.ts';

/** Attempts per delivery before it is given up as failed (a replay starts it afresh). */
export const webhookMaxAttempts = 12;
/** How long a receiver has to answer an attempt. */
export const webhookTimeoutMs = 10_000;
/**
 * How long a worker's claim on a delivery outlives the attempt's timeout: another worker takes the
 * delivery over only past both, when the first worker is presumably gone.
 */
export const webhookClaimMarginMs = 50_000;
/** Deliveries one `deliverDue` call sends at most, concurrently. */
export const webhookBatchSizeDefault = 50;
/** Enabled endpoints one merchant may have: every event is delivered to each of them. */
export const webhookEndpointsPerMerchantMax = 16;
/** Longest endpoint URL accepted. */
export const webhookUrlLengthMax = 2048;
/** Longest error kept with an attempt. */
const errorLengthMax = 500;
/** Random bytes in a signing secret (Standard Webhooks: between 24 and 64). */
const secretBytes = 24;
const userAgent = 'Mite-Webhooks/1';

export interface WebhookBackoff {
  /** Delay before the second attempt; each later one doubles it. */
  readonly baseMs: number;
  /** The longest delay between two attempts. */
  readonly maxMs: number;
  /** Up to this fraction of a delay is taken off at random, so that retries do not bunch up. */
  readonly jitterRatio: number;
}

/** 5 s, 10 s, 20 s... up to 1 h: twelve attempts span about two and a half hours. */
export const defaultWebhookBackoff: WebhookBackoff = {
  baseMs: 5_000,
  maxMs: 60 * 60 * 1000,
  jitterRatio: 0.2,
};

/**
 * The wait before the next attempt of a delivery that failed `failedAttempts` times (1 or more):
 * `baseMs * 2^(failedAttempts - 1)`, at most `maxMs`, less a random part of `jitterRatio` of it.
 */
export function webhookRetryDelayMs(
  failedAttempts: number,
  backoff: WebhookBackoff = defaultWebhookBackoff,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(failedAttempts - 1, 0), 40);
  const delay = Math.min(backoff.baseMs * 2 ** exponent, backoff.maxMs);
  return Math.round(delay * (1 - backoff.jitterRatio * random()));
}

export interface WebhookServiceDeps {
  readonly platform: PlatformDb;
  readonly clock: () => number;
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
}

export interface WebhookEndpoint {
  readonly id: string;
  readonly url: string;
  readonly eventTypes: readonly WebhookEventType[];
  readonly createdAtMs: number;
}

export interface WebhookAttempt {
  readonly id: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly attemptedAtMs: number;
  /** The HTTP status answered; null when there was none (network error, timeout). */
  readonly status: number | null;
  readonly error: string | null;
  readonly durationMs: number;
}

/** Where a page of attempts starts: after this one (attempts are listed newest first). */
export interface WebhookAttemptCursor {
  /** The attempt's time in ms since the epoch, in decimal. */
  readonly attemptedAt: string;
  readonly id: string;
}

/** What one `deliverDue` call did. */
export interface WebhookDeliveryReport {
  /** Attempts sent (claimed by this call). */
  readonly attempted: number;
  readonly succeeded: number;
  /** Failed attempts with a retry scheduled. */
  readonly retrying: number;
  /** Failed attempts that were the last allowed: the delivery is given up. */
  readonly failed: number;
}

interface DueDelivery {
  readonly eventId: string;
  readonly endpointId: string;
  readonly attempts: number;
  readonly nextAttemptAt: bigint;
  readonly url: string;
  readonly secret: string;
  readonly type: string;
  readonly payload: string;
  readonly createdAt: bigint;
}

interface AttemptOutcome {
  readonly status: number | null;
  readonly error: string | null;
  readonly durationMs: number;
}

/**
 * fetch, or, unless private networks are allowed, fetch through connections that check their
 * resolved address (network-guard.ts), so that DNS cannot point a connection elsewhere than the
 * check saw.
 */
function sender(deps: WebhookServiceDeps): typeof fetch {
  return deps.allowPrivateNetworks === true ? fetch : guardedFetch(deps.connectLookup);
}

/** Merchants' webhook endpoints and the delivery of their events. */
export function createWebhookService(deps: WebhookServiceDeps) {
  const { platform, clock } = deps;
  const db = platform.db;
  const send = deps.fetch ?? sender(deps);
  const maxAttempts = deps.maxAttempts ?? webhookMaxAttempts;
  const backoff = deps.backoff ?? defaultWebhookBackoff;
  const timeoutMs = deps.timeoutMs ?? webhookTimeoutMs;
  const random = deps.random ?? Math.random;
  const allowPrivateNetworks = deps.allowPrivateNetworks ?? false;

  /** A new endpoint; its signing secret is returned here only. */
  async function createEndpoint(
    merchantId: string | null,
    input: { readonly url: string; readonly eventTypes: readonly WebhookEventType[] },
  ): Promise<Result<{ endpoint: WebhookEndpoint; secret: string }, 'validationFailed'>> {
    const urlProblem = endpointUrlProblem(input.url, allowPrivateNetworks);
    if (urlProblem !== undefined) return fail('validationFailed', urlProblem);
    const eventTypes = [...new Set(input.eventTypes)].sort();
    if (eventTypes.length === 0) {
      return fail('validationFailed', 'an endpoint subscribes to one event type at least');
    }
    const unknown = eventTypes.find((type) => !isWebhookEventType(type));
    if (unknown !== undefined) return fail('validationFailed', `unknown event type ${unknown}`);
    const { count } = await db
      .selectFrom('webhook_endpoints')
      .select((eb) => eb.fn.countAll().as('count'))
      .where(ownedBy(merchantId))
      .where('disabled_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (Number(count) >= webhookEndpointsPerMerchantMax) {
      return fail(
        'validationFailed',
        `a merchant has at most ${webhookEndpointsPerMerchantMax} endpoints: delete one first`,
      );
    }
    const endpoint: WebhookEndpoint = {
      id: `whe_${uuidv7()}`,
      url: input.url,
      eventTypes,
      createdAtMs: clock(),
    };
    const secret = `whsec_${randomBytes(secretBytes).toString('base64')}`;
    await db
      .insertInto('webhook_endpoints')
      .values({
        id: endpoint.id,
        merchant_id: merchantId,
        url: endpoint.url,
        secret,
        event_types: JSON.stringify(eventTypes),
        created_at: BigInt(endpoint.createdAtMs),
        disabled_at: null,
      })
      .execute();
    return ok({ endpoint, secret });
  }

  /** The merchant's enabled endpoints, oldest first. */
  async function listEndpoints(merchantId: string | null): Promise<WebhookEndpoint[]> {
    const rows = await db
      .selectFrom('webhook_endpoints')
      .select(['id', 'url', 'event_types', 'created_at'])
      .where(ownedBy(merchantId))
      .where('disabled_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      url: row.url,
      eventTypes: (JSON.parse(row.event_types) as string[]).filter(isWebhookEventType),
      createdAtMs: Number(row.created_at),
    }));
  }

  /**
   * Stops deliveries to an endpoint: it receives no new events, and its pending deliveries are
   * given up. Its attempts stay listed. Disabling it again is not an error.
   */
  async function disableEndpoint(
    merchantId: string | null,
    endpointId: string,
  ): Promise<Result<{ endpointId: string }, 'notFound'>> {
    const now = BigInt(clock());
    return db.transaction().execute(async (tx) => {
      const endpoint = await tx
        .selectFrom('webhook_endpoints')
        .select('disabled_at')
        .where('id', '=', endpointId)
        .where(ownedBy(merchantId))
        .executeTakeFirst();
      if (endpoint === undefined) return fail('notFound', endpointNotFound);
      if (endpoint.disabled_at !== null) return ok({ endpointId });
      await tx
        .updateTable('webhook_endpoints')
        .set({ disabled_at: now })
        .where('id', '=', endpointId)
        .where('disabled_at', 'is', null)
        .execute();
      await tx
        .updateTable('webhook_deliveries')
        .set({ state: 'failed', last_error: 'endpoint disabled', updated_at: now })
        .where('endpoint_id', '=', endpointId)
        .where('state', '=', 'pending')
        .execute();
      return ok({ endpointId });
    });
  }

  /**
   * Sends the deliveries that are due, at most `limit`, concurrently. Each attempt is claimed
   * before it is sent, so a delivery that another worker claimed meanwhile is skipped.
   */
  async function deliverDue(limit = webhookBatchSizeDefault): Promise<WebhookDeliveryReport> {
    const due = await db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
      .innerJoin('webhook_events as v', 'v.id', 'd.event_id')
      .select([
        'd.event_id as eventId',
        'd.endpoint_id as endpointId',
        'd.attempts as attempts',
        'd.next_attempt_at as nextAttemptAt',
        'e.url as url',
        'e.secret as secret',
        'v.type as type',
        'v.payload as payload',
        'v.created_at as createdAt',
      ])
      .where('d.state', '=', 'pending')
      .where('d.next_attempt_at', '<=', BigInt(clock()))
      .where('e.disabled_at', 'is', null)
      .orderBy('d.next_attempt_at')
      .limit(limit)
      .execute();
    const states = await Promise.all(due.map((delivery) => attempt(delivery)));
    return {
      attempted: states.filter((state) => state !== undefined).length,
      succeeded: states.filter((state) => state === 'succeeded').length,
      retrying: states.filter((state) => state === 'pending').length,
      failed: states.filter((state) => state === 'failed').length,
    };
  }

  /** Claims, sends and records one attempt; undefined when another worker had claimed it. */
  async function attempt(delivery: DueDelivery): Promise<WebhookDeliveryState | undefined> {
    const claimedAt = clock();
    const claimedUntil = BigInt(claimedAt + timeoutMs + webhookClaimMarginMs);
    const claim = await db
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: claimedUntil, updated_at: BigInt(claimedAt) })
      .where('event_id', '=', delivery.eventId)
      .where('endpoint_id', '=', delivery.endpointId)
      .where('state', '=', 'pending')
      .where('attempts', '=', delivery.attempts)
      .where('next_attempt_at', '=', delivery.nextAttemptAt)
      .executeTakeFirst();
    if (claim.numUpdatedRows !== 1n) return undefined;

    const outcome = await post(delivery, claimedAt);
    const finishedAt = clock();
    const attempts = delivery.attempts + 1;
    const succeeded = outcome.status !== null && outcome.status >= 200 && outcome.status < 300;
    const state: WebhookDeliveryState = succeeded
      ? 'succeeded'
      : attempts >= maxAttempts
        ? 'failed'
        : 'pending';
    const nextAttemptAt =
      state === 'pending'
        ? finishedAt + webhookRetryDelayMs(attempts, backoff, random)
        : finishedAt;
    await db.transaction().execute(async (tx) => {
      await tx
        .insertInto('webhook_attempts')
        .values({
          id: `wha_${uuidv7()}`,
          event_id: delivery.eventId,
          endpoint_id: delivery.endpointId,
          attempted_at: BigInt(claimedAt),
          status: outcome.status,
          error: outcome.error,
          duration_ms: outcome.durationMs,
        })
        .execute();
      // Only while the claim holds: a replay meanwhile made the delivery due again, and stays so.
      await tx
        .updateTable('webhook_deliveries')
        .set({
          state,
          attempts,
          next_attempt_at: BigInt(nextAttemptAt),
          last_status: outcome.status,
          last_error: outcome.error,
          updated_at: BigInt(finishedAt),
        })
        .where('event_id', '=', delivery.eventId)
        .where('endpoint_id', '=', delivery.endpointId)
        .where('state', '=', 'pending')
        .where('attempts', '=', delivery.attempts)
        .where('next_attempt_at', '=', claimedUntil)
        .execute();
    });
    return state;
  }

  /** POSTs the event, signed for this attempt's time. */
  async function post(delivery: DueDelivery, sentAtMs: number): Promise<AttemptOutcome> {
    const body = eventBody(delivery);
    const headers = {
      'content-type': 'application/json',
      'user-agent': userAgent,
      'webhook-id': delivery.eventId,
      'webhook-timestamp': String(Math.floor(sentAtMs / 1000)),
      'webhook-signature': new Webhook(delivery.secret).sign(
        delivery.eventId,
        new Date(sentAtMs),
        body,
      ),
    };
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    if (!allowPrivateNetworks) {
      // Checked at every attempt: where a name points can change after the endpoint was added.
      const refused = await destinationProblem(delivery.url, deps.resolve);
      if (refused !== undefined) return { status: null, error: refused, durationMs: elapsed() };
    }
    try {
      const response = await send(delivery.url, {
        method: 'POST',
        headers,
        body,
        // A redirect is a failed attempt: the signed event goes to the registered URL only.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      // The answer's body is not used: let the connection go rather than read an unknown amount.
      await response.body?.cancel().catch(() => undefined);
      return { status: response.status, error: null, durationMs: elapsed() };
    } catch (error) {
      return { status: null, error: describeFailure(error, timeoutMs), durationMs: elapsed() };
    }
  }

  /** A page of an endpoint's attempts, newest first; notFound unless the endpoint is the merchant's. */
  async function listAttempts(
    merchantId: string | null,
    endpointId: string,
    request: { readonly limit: number; readonly cursor?: WebhookAttemptCursor | undefined },
  ): Promise<Result<Page<WebhookAttempt>, 'notFound'>> {
    const endpoint = await db
      .selectFrom('webhook_endpoints')
      .select('id')
      .where('id', '=', endpointId)
      .where(ownedBy(merchantId))
      .executeTakeFirst();
    if (endpoint === undefined) return fail('notFound', endpointNotFound);
    let query = db
      .selectFrom('webhook_attempts as a')
      .innerJoin('webhook_events as v', 'v.id', 'a.event_id')
      .select([
        'a.id as id',
        'a.event_id as eventId',
        'v.type as eventType',
        'a.attempted_at as attemptedAt',
        'a.status as status',
        'a.error as error',
        'a.duration_ms as durationMs',
      ])
      .where('a.endpoint_id', '=', endpointId);
    const { cursor } = request;
    if (cursor !== undefined) {
      const at = BigInt(cursor.attemptedAt);
      query = query.where((eb) =>
        eb.or([
          eb('a.attempted_at', '<', at),
          eb.and([eb('a.attempted_at', '=', at), eb('a.id', '<', cursor.id)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('a.attempted_at', 'desc')
      .orderBy('a.id', 'desc')
      .limit(request.limit + 1)
      .execute();
    const attempts: WebhookAttempt[] = rows.map(({ attemptedAt, ...row }) => ({
      ...row,
      attemptedAtMs: Number(attemptedAt),
    }));
    return ok(
      page(attempts, request.limit, (item) => ({
        attemptedAt: String(item.attemptedAtMs),
        id: item.id,
      })),
    );
  }

  /**
   * Sends one of the merchant's events again, from now, with a fresh allowance of attempts, to
   * each of the merchant's enabled endpoints subscribed to its type (one added since included).
   */
  async function replay(
    merchantId: string | null,
    eventId: string,
  ): Promise<Result<{ eventId: string; deliveries: number }, 'notFound'>> {
    const now = BigInt(clock());
    return db.transaction().execute(async (tx) => {
      const event = await tx
        .selectFrom('webhook_events')
        .select('type')
        .where('id', '=', eventId)
        .where(ownedBy(merchantId))
        .executeTakeFirst();
      if (event === undefined) return fail('notFound', 'No such webhook event.');
      const endpoints = await tx
        .selectFrom('webhook_endpoints')
        .select(['id', 'event_types'])
        .where(ownedBy(merchantId))
        .where('disabled_at', 'is', null)
        .execute();
      const endpointIds = endpoints
        .filter((endpoint) => subscribesTo(endpoint.event_types, event.type))
        .map((endpoint) => endpoint.id);
      if (endpointIds.length === 0) return ok({ eventId, deliveries: 0 });
      await tx
        .insertInto('webhook_deliveries')
        .values(
          endpointIds.map((endpointId) => ({
            event_id: eventId,
            endpoint_id: endpointId,
            state: 'pending' as const,
            attempts: 0,
            next_attempt_at: now,
            last_status: null,
            last_error: null,
            updated_at: now,
          })),
        )
        .onConflict((conflict) => conflict.columns(['event_id', 'endpoint_id']).doNothing())
        .execute();
      const reset = await tx
        .updateTable('webhook_deliveries')
        .set({ state: 'pending', attempts: 0, next_attempt_at: now, updated_at: now })
        .where('event_id', '=', eventId)
        .where('endpoint_id', 'in', endpointIds)
        .executeTakeFirst();
      return ok({ eventId, deliveries: Number(reset.numUpdatedRows) });
    });
  }

  return { createEndpoint, listEndpoints, disableEndpoint, deliverDue, listAttempts, replay };
}

export type WebhookService = ReturnType<typeof createWebhookService>;

const endpointNotFound = 'No such webhook endpoint.';

function isWebhookEventType(type: string): type is WebhookEventType {
  return (webhookEventTypes as readonly string[]).includes(type);
}

/** Why `url` cannot be an endpoint, if it cannot. */
function endpointUrlProblem(url: string, allowPrivateNetworks: boolean): string | undefined {
  if (url.length > webhookUrlLengthMax) {
    return `an endpoint URL has at most ${webhookUrlLengthMax} characters`;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'the endpoint URL is not a valid absolute URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    return 'an endpoint URL is http: or https:';
  }
  if (parsed.username !== '' || parsed.password !== '') {
    return 'an endpoint URL carries no user name or password';
  }
  return allowPrivateNetworks ? undefined : literalDestinationProblem(parsed);
}

/** The Standard Webhooks payload: the same bytes at every attempt. */
function eventBody(delivery: DueDelivery): string {
  return JSON.stringify({
    type: delivery.type,
    timestamp: new Date(Number(delivery.createdAt)).toISOString(),
    data: JSON.parse(delivery.payload) as unknown,
  });
}

function describeFailure(error: unknown, timeoutMs: number): string {
  if (!(error instanceof Error)) return String(error).slice(0, errorLengthMax);
  if (error.name === 'TimeoutError' || error.name === 'AbortError') {
    return `no answer within ${timeoutMs} ms`;
  }
  const { cause } = error;
  // Refused by the connection's address check: say why (the message names the address only).
  if (cause instanceof PrivateDestinationError) return cause.message.slice(0, errorLengthMax);
  const code =
    typeof cause === 'object' && cause !== null && 'code' in cause ? String(cause.code) : '';
  return (code === '' ? error.message : `${error.message} (${code})`).slice(0, errorLengthMax);
}
