/**
 * The webhook outbox (DESIGN section 4): an event is written in the same database transaction as
 * the change it announces, with one pending delivery per endpoint that wants it, so that the event
 * exists if and only if the change was committed. Workers send the deliveries later (see
 * webhook-service.ts); nothing is sent from inside the transaction.
 *
 *   await db.transaction().execute(async (tx) => {
 *     await tx.updateTable('topups').set({ state: 'succeeded', ... }).where(...).execute();
 *     await enqueueWebhookEvent(tx, { merchantId, type: 'topup.succeeded', payload, nowMs });
 *   });
 */
import { type RawBuilder, sql, type Transaction } from 'kysely';
import { uuidv7 } from 'uuidv7';
import { preparedQuery } from '../db/prepared-query.ts';
import type { PlatformSchema } from '../db/schema.ts';

/** Every event a merchant can subscribe to; a closed list. */
export const webhookEventTypes = [
  'topup.succeeded',
  'topup.failed',
  'payment.succeeded',
  'session.settled',
  'refund.succeeded',
  'payout.paid',
  'bank_account.updated',
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

/** An event's `data`: a JSON object. */
export type WebhookPayload = Readonly<Record<string, unknown>>;

export interface NewWebhookEvent {
  /** Whose endpoints receive it: a merchant's, or the operator's (null) for platform events. */
  readonly merchantId: string | null;
  readonly type: WebhookEventType;
  readonly payload: WebhookPayload;
  /** Milliseconds since the epoch: the event's time, and when its first attempt is due. */
  readonly nowMs: number;
}

/**
 * Records an event and a pending delivery to each enabled endpoint of the merchant subscribed to
 * its type, in `tx`: the transaction of the change the event announces. Returns the event's id
 * (its `webhook-id`).
 */
export async function enqueueWebhookEvent(
  tx: Transaction<PlatformSchema>,
  event: NewWebhookEvent,
): Promise<string> {
  // The type says so, but a Kysely passes for a Transaction at runtime: an event written outside
  // the transaction of its change could announce a change that is then rolled back.
  if (!tx.isTransaction) {
    throw new Error('enqueueWebhookEvent runs in the transaction of the change it announces');
  }
  const eventId = `evt_${uuidv7()}`;
  const nowMs = BigInt(event.nowMs);
  await insertEvent(tx, {
    id: eventId,
    merchantId: event.merchantId,
    type: event.type,
    payload: JSON.stringify(event.payload),
    nowMs,
  });
  const { rows: endpoints } = await selectEndpoints(tx, { owner: event.merchantId });
  for (const endpoint of endpoints) {
    if (!subscribesTo(endpoint.event_types, event.type)) continue;
    await insertDelivery(tx, { eventId, endpointId: endpoint.id, nowMs });
  }
  return eventId;
}

// Prepared: an event is written for every purchase (see prepared-query.ts).
const insertEvent = preparedQuery<
  { id: string; merchantId: string | null; type: string; payload: string; nowMs: bigint },
  never
>((db, arg) =>
  db.insertInto('webhook_events').values({
    id: arg('id'),
    merchant_id: arg('merchantId'),
    type: arg('type'),
    payload: arg('payload'),
    created_at: arg('nowMs'),
  }),
);

const selectEndpoints = preparedQuery<
  { owner: string | null },
  { id: string; event_types: string }
>((db, arg) =>
  db
    .selectFrom('webhook_endpoints')
    .select(['id', 'event_types'])
    .where(ownedBy(arg('owner')))
    .where('disabled_at', 'is', null),
);

const insertDelivery = preparedQuery<{ eventId: string; endpointId: string; nowMs: bigint }, never>(
  (db, arg) =>
    db.insertInto('webhook_deliveries').values({
      event_id: arg('eventId'),
      endpoint_id: arg('endpointId'),
      state: 'pending',
      attempts: 0,
      next_attempt_at: arg('nowMs'),
      last_status: null,
      last_error: null,
      updated_at: arg('nowMs'),
    }),
);

/**
 * Rows of one owner: a merchant, or the operator (null). `is not distinct from` is the equality
 * that holds for null too, in PostgreSQL and SQLite alike.
 */
export function ownedBy(owner: string | null): RawBuilder<boolean> {
  return sql<boolean>`merchant_id is not distinct from ${owner}`;
}

/** Whether an endpoint's stored `event_types` (a JSON array) include `type`. */
export function subscribesTo(eventTypesJson: string, type: string): boolean {
  const types: unknown = JSON.parse(eventTypesJson);
  return Array.isArray(types) && types.includes(type);
}
