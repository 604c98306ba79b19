/**
 * Token deposits and swaps (issue 14) and the spent set they share. A token is spent when its
 * hash is in `spent_tokens`; the row is written in the same transaction as the deposit or swap
 * that spends it, whose state says whether the spending is still under way (pending) or done,
 * so that of two deposits of one token exactly one inserts the row. Rows go once their key no
 * longer redeems (`redeem_until`): a token of that key is refused anyway, which bounds the set.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('token_deposits')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('tokens_hash', 'text', (c) => c.notNull().unique())
    .addColumn('token_count', 'integer', (c) => c.notNull())
    .addColumn('amount_micros', 'text', (c) => c.notNull())
    .addColumn('legs', 'text', (c) => c.notNull())
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('challenge_id', 'text')
    .addColumn('access_until', 'bigint', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('completed_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('token_deposits_pending')
    .on('token_deposits')
    .columns(['state', 'created_at'])
    .execute();
  await db.schema
    .createTable('token_swaps')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('inputs_hash', 'text', (c) => c.notNull().unique())
    .addColumn('outputs_hash', 'text', (c) => c.notNull())
    .addColumn('amount_micros', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('spent_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('spent_by', 'text', (c) => c.notNull())
    .addColumn('redeem_until', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('spent_tokens_by_spender')
    .on('spent_tokens')
    .column('spent_by')
    .execute();
  await db.schema
    .createIndex('spent_tokens_expiry')
    .on('spent_tokens')
    .column('redeem_until')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('spent_tokens').execute();
  await db.schema.dropTable('token_swaps').execute();
  await db.schema.dropTable('token_deposits').execute();
}
