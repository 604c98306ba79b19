import { type Kysely, sql } from 'kysely';

/**
 * Replaces the index of payments by state with a partial index of the pending ones. Only the
 * reconciler looks payments up by state, and only for pending ones, which are few; the full index
 * cost every purchase two more index writes (insert, then pending -> succeeded).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('payments_by_state').execute();
  await sql`create index payments_pending on payments (created_at) where state = 'pending'`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('payments_pending').execute();
  await db.schema.createIndex('payments_by_state').on('payments').column('state').execute();
}
