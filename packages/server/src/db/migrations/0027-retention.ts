/**
 * Retention of what purchases were for (issue 14 item 3): a payment's resource and offer are kept
 * for the user's own history for a retention period (retention/purchase-compaction.ts), then erased
 * from the row and added into per-merchant daily totals. The row keeps its amounts, accounts,
 * legs and ids, which the ledger, refunds and reports need.
 * - `payments.details_erased_at`: when the row's resource and offer were erased (null until then).
 * - `purchase_day_totals`: one row per merchant, UTC day and offer (or `challenge` for a payment
 *   of an HTTP 402 challenge): how many payments, and their amount, were compacted into it.
 * - `purchase_compaction_state`: how far the job has walked payments by id, and a version that
 *   lets one node's run commit when several run at once.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table payments add column details_erased_at bigint`.execute(db);
  await db.schema
    .createTable('purchase_day_totals')
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('day_at', 'bigint', (c) => c.notNull())
    .addColumn('offer_id', 'text', (c) => c.notNull())
    .addColumn('payment_count', 'bigint', (c) => c.notNull())
    .addColumn('amount_micros', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('purchase_day_totals_pkey', ['merchant_id', 'day_at', 'offer_id'])
    .execute();
  await db.schema
    .createTable('purchase_compaction_state')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('after_id', 'text', (c) => c.notNull())
    .addColumn('version', 'bigint', (c) => c.notNull())
    .execute();
  await sql`insert into purchase_compaction_state (name, after_id, version)
    values ('payments', '', 0)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('purchase_compaction_state').execute();
  await db.schema.dropTable('purchase_day_totals').execute();
  await sql`alter table payments drop column details_erased_at`.execute(db);
}
