/**
 * Per-subject data keys (issue 14 item 2, privacy/data-keys.ts): each user's personal fields are
 * sealed under a key of their own, wrapped by the master key, so that destroying one row shreds
 * one person's data. The index finds the keys still wrapped under an old master key, a batch at
 * a time, while a rotation runs. Existing data is sealed again at start (a data upgrade).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('data_keys')
    .addColumn('subject', 'text', (c) => c.primaryKey())
    .addColumn('wrapped', 'text')
    .addColumn('master_key_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('destroyed_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('data_keys_by_master_key')
    .on('data_keys')
    .columns(['master_key_id', 'subject'])
    .execute();
  await db.schema.alterTable('users').addColumn('erased_at', 'bigint').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('erased_at').execute();
  await db.schema.dropIndex('data_keys_by_master_key').execute();
  await db.schema.dropTable('data_keys').execute();
}
