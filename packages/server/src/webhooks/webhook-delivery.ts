import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { uuidv7 } from 'uuidv7';
import type { PlatformSchema, WebhookDeliveryState } from '../db/schema.ts';
import type { PersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import {
  type ConnectLookup,
  destinationProblem,
  guardedFetch,
  PrivateDestinationError,
  type Resolve,
} from './network-guard.ts';
import { openWebhookSecret } from './sealed-webhook-secrets.ts';

/** Attempts per delivery before it is given up as failed (a replay starts it afresh). */
export const webhookMaxAttempts = 12;
/** How long a receiver has to answer an attempt. */
export const webhookTimeoutMs = 10_000;
/**
 * How long a worker's claim on a delivery outlives the attempt's timeout: another worker takes the
 * delivery over only past both, when the first worker is presumably gone.
 */
export const webhookClaimMarginMs = 50_000;
/** Deliveries one `deliverDue` call sends at most, concurrently, unless told otherwise. */
export const webhookBatchSizeDefault = 50;
/**
 * The most deliveries one `deliverDue` call may be told to send: each is a concurrent request and
 * a row held in memory, so a backlog is worked through over successive calls, never all at once.
 */
export const webhookBatchSizeMax = 500;
/** Longest error kept with an attempt. */
const errorLengthMax = 500;
const userAgent = 'Mite-Webhooks/1';
/** An attempt's error when the endpoint's sealed secret does not open (another master key?). */
const unopenedSecret = 'the signing secret of the endpoint could not be decrypted';

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
  readonly nextAttemptAtMs: bigint;
  readonly url: string;
  /** The endpoint's signing secret as stored: sealed, opened only to sign (see post). */
  readonly sealedSecret: string;
  readonly type: string;
  readonly payload: string;
  readonly createdAtMs: bigint;
}

interface AttemptOutcome {
  readonly status: number | null;
  readonly error: string | null;
  readonly durationMs: number;
}

export interface WebhookDeliveryDeps {
  readonly db: Kysely<PlatformSchema>;
  readonly clock: () => number;
  /** Opens each endpoint's signing secret when an attempt is signed. */
  readonly cipher: PersonalDataCipher;
  /** How attempts are sent; by default fetch, guarded unless private networks are allowed. */
  readonly fetch?: typeof fetch | undefined;
  readonly maxAttempts: number;
  readonly backoff: WebhookBackoff;
  readonly timeoutMs: number;
  /** Jitter's source, in [0, 1). */
  readonly random: () => number;
  readonly allowPrivateNetworks: boolean;
  readonly resolve?: Resolve | undefined;
  readonly connectLookup?: ConnectLookup | undefined;
}

/**
 * fetch, or, unless private networks are allowed, fetch through connections that check their
 * resolved address (network-guard.ts), so that DNS cannot point a connection elsewhere than the
 * check saw.
 */
function sender(deps: WebhookDeliveryDeps): typeof fetch {
  return deps.allowPrivateNetworks === true ? fetch : guardedFetch(deps.connectLookup);
}

/**
 * Delivery of the outbox's events, signed per the Standard Webhooks spec, with retries and
 * exponential backoff. At least once: a receiver deduplicates by `webhook-id`. Several workers
 * (one per server node) may run `deliverDue` at once on one database: each attempt is claimed
 * first by a compare-and-set on the delivery row, so only one of them sends it.
 */
export function createWebhookDelivery(deps: WebhookDeliveryDeps) {
  const { db, clock, cipher, maxAttempts, backoff, timeoutMs, random, allowPrivateNetworks } = deps;
  const send = deps.fetch ?? sender(deps);

  /**
   * Sends the deliveries that are due, the `limit` longest due (1 to webhookBatchSizeMax),
   * concurrently; the next call takes the rest. Each attempt is claimed before it is sent, so a
   * delivery that another worker claimed meanwhile is skipped.
   */
  async function deliverDue(limit = webhookBatchSizeDefault): Promise<WebhookDeliveryReport> {
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > webhookBatchSizeMax) {
      throw new Error(`a webhook delivery run sends 1 to ${webhookBatchSizeMax} deliveries`);
    }
    const due = await db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
      .innerJoin('webhook_events as v', 'v.id', 'd.event_id')
      .select([
        'd.event_id as eventId',
        'd.endpoint_id as endpointId',
        'd.attempts as attempts',
        'd.next_attempt_at as nextAttemptAtMs',
        'e.url as url',
        'e.secret as sealedSecret',
        'v.type as type',
        'v.payload as payload',
        'v.created_at as createdAtMs',
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
    const claimedAtMs = clock();
    const claimedUntilMs = BigInt(claimedAtMs + timeoutMs + webhookClaimMarginMs);
    const claim = await db
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: claimedUntilMs, updated_at: BigInt(claimedAtMs) })
      .where('event_id', '=', delivery.eventId)
      .where('endpoint_id', '=', delivery.endpointId)
      .where('state', '=', 'pending')
      .where('attempts', '=', delivery.attempts)
      .where('next_attempt_at', '=', delivery.nextAttemptAtMs)
      .executeTakeFirst();
    if (claim.numUpdatedRows !== 1n) return undefined;

    const outcome = await post(delivery, claimedAtMs);
    const finishedAtMs = clock();
    const attempts = delivery.attempts + 1;
    const succeeded = outcome.status !== null && outcome.status >= 200 && outcome.status < 300;
    const state: WebhookDeliveryState = succeeded
      ? 'succeeded'
      : attempts >= maxAttempts
        ? 'failed'
        : 'pending';
    const nextAttemptAtMs =
      state === 'pending'
        ? finishedAtMs + webhookRetryDelayMs(attempts, backoff, random)
        : finishedAtMs;
    await db.transaction().execute(async (tx) => {
      await tx
        .insertInto('webhook_attempts')
        .values({
          id: `wha_${uuidv7()}`,
          event_id: delivery.eventId,
          endpoint_id: delivery.endpointId,
          attempted_at: BigInt(claimedAtMs),
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
          next_attempt_at: BigInt(nextAttemptAtMs),
          last_status: outcome.status,
          last_error: outcome.error,
          updated_at: BigInt(finishedAtMs),
        })
        .where('event_id', '=', delivery.eventId)
        .where('endpoint_id', '=', delivery.endpointId)
        .where('state', '=', 'pending')
        .where('attempts', '=', delivery.attempts)
        .where('next_attempt_at', '=', claimedUntilMs)
        .execute();
    });
    return state;
  }

  /**
   * The Standard Webhooks signature of `body` for this attempt. The secret is opened here and
   * nowhere else, and kept no longer than this call: no clear secret is cached between attempts.
   */
  function signature(delivery: DueDelivery, sentAtMs: number, body: string): string | undefined {
    let secret: string;
    try {
      secret = openWebhookSecret(cipher, delivery.endpointId, delivery.sealedSecret);
    } catch {
      return undefined;
    }
    return new Webhook(secret).sign(delivery.eventId, new Date(sentAtMs), body);
  }

  /** POSTs the event, signed for this attempt's time. */
  async function post(delivery: DueDelivery, sentAtMs: number): Promise<AttemptOutcome> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const body = eventBody(delivery);
    const signed = signature(delivery, sentAtMs, body);
    if (signed === undefined) {
      // A failed attempt, not a failed run: the other deliveries go on, and this one is retried
      // (the operator may restore the master key meanwhile) and shows why in its attempts.
      return { status: null, error: unopenedSecret, durationMs: elapsed() };
    }
    const headers = {
      'content-type': 'application/json',
      'user-agent': userAgent,
      'webhook-id': delivery.eventId,
      'webhook-timestamp': String(Math.floor(sentAtMs / 1000)),
      'webhook-signature': signed,
    };
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

  return { deliverDue };
}

/** The Standard Webhooks payload: the same bytes at every attempt. */
function eventBody(delivery: DueDelivery): string {
  return JSON.stringify({
    type: delivery.type,
    timestamp: new Date(Number(delivery.createdAtMs)).toISOString(),
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
