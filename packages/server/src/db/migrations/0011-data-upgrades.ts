/**
 * Upgrades of stored data that a migration cannot make, because they need the master key (such
 * as encrypting bank details stored in the clear before: payouts/sealed-bank-details.ts). The
 * platform runs each at start until it is recorded here, once done.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('data_upgrades')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('done_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('data_upgrades').execute();
}
