/**
 * What the operator console needs (issue 13, operator/): the ledger's verification runs, the
 * append-only log of operators' views of personal data, and an index that lists top-ups newest
 * first for every user at once.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('ledger_verifications')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull())
    // 1 while running, else null: its unique index lets one run at a time exist, on every node,
    // and nulls never conflict.
    .addColumn('running_slot', 'integer', (c) => c.unique())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .addColumn('ok', 'integer')
    .addColumn('problem_count', 'integer')
    .addColumn('problems', 'text')
    .addColumn('balances', 'text')
    .addColumn('error', 'text')
    .execute();
  await db.schema
    .createIndex('ledger_verifications_by_time')
    .on('ledger_verifications')
    .columns(['started_at', 'id'])
    .execute();
  await db.schema
    .createTable('personal_data_views')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('operator', 'text', (c) => c.notNull())
    .addColumn('record_kind', 'text', (c) => c.notNull())
    .addColumn('record_id', 'text', (c) => c.notNull())
    .addColumn('field', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('viewed_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('personal_data_views_by_time')
    .on('personal_data_views')
    .columns(['viewed_at', 'id'])
    .execute();
  await db.schema
    .createIndex('topups_by_time')
    .on('topups')
    .columns(['created_at', 'id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('topups_by_time').execute();
  await db.schema.dropTable('personal_data_views').execute();
  await db.schema.dropTable('ledger_verifications').execute();
}
