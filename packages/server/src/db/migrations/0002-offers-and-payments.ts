/**
 * Offers (what merchants sell), their revenue splits, and payments (what users bought).
 * Amounts are decimal micro-units in `text`, since they may pass 2^53.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('offers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('price_micros', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull().check(sql`category in ('content', 'goods')`))
    .addColumn('access_period_seconds', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('archived_at', 'bigint')
    .execute();
  await db.schema.createIndex('offers_by_merchant').on('offers').column('merchant_id').execute();
  await db.schema
    .createTable('offer_splits')
    .addColumn('offer_id', 'text', (c) => c.notNull().references('offers.id'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('share_basis_points', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('offer_splits_pk', ['offer_id', 'position'])
    .execute();
  await createPayments(db);
}

async function createPayments(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('payments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('offer_id', 'text', (c) => c.notNull().references('offers.id'))
    .addColumn('amount_micros', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) =>
      c.notNull().check(sql`state in ('pending', 'succeeded', 'failed')`),
    )
    .addColumn('failure_code', 'text')
    .addColumn('legs', 'text', (c) => c.notNull())
    .addColumn('access_until', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('completed_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('payments_by_user_offer')
    .on('payments')
    .columns(['user_id', 'offer_id'])
    .execute();
  await db.schema
    .createIndex('payments_by_merchant')
    .on('payments')
    .columns(['merchant_id', 'created_at'])
    .execute();
  await db.schema.createIndex('payments_by_state').on('payments').column('state').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['payments', 'offer_splits', 'offers']) {
    await db.schema.dropTable(table).execute();
  }
}
