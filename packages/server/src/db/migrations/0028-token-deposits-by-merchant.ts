/**
 * A merchant's token deposits, newest first (the payments list merges them): an index that
 * starts with the merchant, as payments' own does, so a page is read without a scan.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('token_deposits_by_merchant')
    .on('token_deposits')
    .columns(['merchant_id', 'created_at', 'id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('token_deposits_by_merchant').execute();
}
