/**
 * An index for deleting webhook events past their retention (webhook-retention.ts):
 * delivery attempts by event. Events are found through their merchant's index (merchant, time),
 * one merchant at a time, so that the purge adds no index to the write of every event.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('webhook_attempts_by_event')
    .on('webhook_attempts')
    .column('event_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('webhook_attempts_by_event').execute();
}
