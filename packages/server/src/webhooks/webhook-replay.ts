import type { Kysely } from 'kysely';
import type { PlatformSchema } from '../db/schema.ts';
import { type Page, page } from '../http/pagination.ts';
import { fail, ok, type Result } from '../result.ts';
import { endpointNotFound } from './webhook-endpoints.ts';
import { ownedBy, subscribesTo } from './outbox.ts';

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
  /** The attempt's time in ms since the epoch, in decimal; named as in the API's cursor. */
  readonly attemptedAt: string;
  readonly id: string;
}

export interface WebhookReplayDeps {
  readonly db: Kysely<PlatformSchema>;
  readonly clock: () => number;
}

/** What a merchant sees of past deliveries (each endpoint's attempts), and sending one again. */
export function createWebhookReplay({ db, clock }: WebhookReplayDeps) {
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
        'a.attempted_at as attemptedAtMs',
        'a.status as status',
        'a.error as error',
        'a.duration_ms as durationMs',
      ])
      .where('a.endpoint_id', '=', endpointId);
    const { cursor } = request;
    if (cursor !== undefined) {
      const attemptedAtMs = BigInt(cursor.attemptedAt);
      query = query.where((eb) =>
        eb.or([
          eb('a.attempted_at', '<', attemptedAtMs),
          eb.and([eb('a.attempted_at', '=', attemptedAtMs), eb('a.id', '<', cursor.id)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('a.attempted_at', 'desc')
      .orderBy('a.id', 'desc')
      .limit(request.limit + 1)
      .execute();
    const attempts: WebhookAttempt[] = rows.map(({ attemptedAtMs, ...row }) => ({
      ...row,
      attemptedAtMs: Number(attemptedAtMs),
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
    const nowMs = BigInt(clock());
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
            next_attempt_at: nowMs,
            last_status: null,
            last_error: null,
            updated_at: nowMs,
          })),
        )
        .onConflict((conflict) => conflict.columns(['event_id', 'endpoint_id']).doNothing())
        .execute();
      const reset = await tx
        .updateTable('webhook_deliveries')
        .set({ state: 'pending', attempts: 0, next_attempt_at: nowMs, updated_at: nowMs })
        .where('event_id', '=', eventId)
        .where('endpoint_id', 'in', endpointIds)
        .executeTakeFirst();
      return ok({ eventId, deliveries: Number(reset.numUpdatedRows) });
    });
  }

  return { listAttempts, replay };
}
