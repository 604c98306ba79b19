/**
 * Top-ups: a user's wallet funded by a card charge. Only the processor's card token and the last
 * four digits are kept, never a card number. The two ledger transfer ids are fixed when the row is
 * written, before any money moves, so a retried webhook or a reconciler books the same transfers
 * and the ledger refuses a second credit.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('topups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('amount_micros', 'text', (c) => c.notNull())
    .addColumn('fee_micros', 'text')
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('charge_id', 'text', (c) => c.unique())
    .addColumn('card_token', 'text')
    .addColumn('card_last4', 'text')
    .addColumn('state', 'text', (c) =>
      c.notNull().check(sql`state in ('pending', 'succeeded', 'failed')`),
    )
    .addColumn('failure_code', 'text')
    .addColumn('credit_transfer_id', 'text', (c) => c.notNull())
    .addColumn('fee_transfer_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('completed_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('topups_by_user')
    .on('topups')
    .columns(['user_id', 'created_at'])
    .execute();
  await db.schema.createIndex('topups_by_state').on('topups').column('state').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('topups').execute();
}
