import { type Kysely, sql } from 'kysely';

/**
 * A partial index of the pending refunds, as 0007 made for payments: the refund reconciler
 * (payments/refund-service.ts) looks for refunds pending past their grace period, oldest first,
 * every few seconds on every node; they are few, and the index costs a refund's insert one write
 * and its completion one delete.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index refunds_pending on refunds (created_at) where state = 'pending'`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('refunds_pending').execute();
}
