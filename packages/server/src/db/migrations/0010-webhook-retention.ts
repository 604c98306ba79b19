/**
 * Indexes for deleting webhook events past their retention (webhook-service.ts, purgeExpired):
 * events by age, and delivery attempts by event. Without them each purge would read both tables
 * whole, on the main thread of a SQLite node. Events are written in time order, so the first
 * index only ever grows at its end.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('webhook_events_by_created_at')
    .on('webhook_events')
    .column('created_at')
    .execute();
  await db.schema
    .createIndex('webhook_attempts_by_event')
    .on('webhook_attempts')
    .column('event_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('webhook_attempts_by_event').execute();
  await db.schema.dropIndex('webhook_events_by_created_at').execute();
}
