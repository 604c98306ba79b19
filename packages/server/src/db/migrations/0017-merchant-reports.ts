/**
 * What the merchant dashboard's lists and charts read (reports/):
 * - `report_day_totals` and `report_offer_day_totals`: each merchant's takings per UTC day, and
 *   per offer and day, kept by the rollup job (reports/report-rollup.ts) from payments and refunds
 *   after they complete, so that a chart reads a few rows per day rather than every payment. Sums
 *   are int8 micro-units, unlike the decimal text of single amounts, so that the job adds to them
 *   in SQL (`on conflict do update`) and a report sums them in SQL; one merchant's day stays far
 *   below 2^63 micro-units (9.2 * 10^12 in the currency).
 * - `report_rollup_state`: how far the job has read the payments and refunds (their ids): its
 *   head, which reads new rows, and its sweep, which reads them again a lookback later to find
 *   those committed late; in one row whose `version` each run advances conditionally, so that of
 *   the nodes running the job at once one commits each run and the others change nothing.
 * - `report_rollup_counted`: the payments and refunds the job has added to the totals, one row
 *   each under a primary key, inserted in the transaction that adds them: a row whose marker
 *   exists already is not added again, however often it is read. Markers behind both the head
 *   and the sweep are deleted, since no read reaches those ids again.
 * - `report_rollup_waiting`: payments and refunds the job passed while they were still pending;
 *   it folds each in once it completes.
 * - `report_payment_shares`: the payments a merchant got a share of without being their seller
 *   (a revenue split), written by the rollup job, so that its payment list shows them too.
 * - refunds get their payment's merchant and an index by merchant and time, and offers an index
 *   by merchant and time, for the lists (newest first). Payments are listed through their
 *   existing index by merchant and time: the purchase path gains no write.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await createTotals(db);
  await db.schema
    .createTable('report_payment_shares')
    .addColumn('merchant_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('payment_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('report_payment_shares_pkey', [
      'merchant_id',
      'created_at',
      'payment_id',
    ])
    .execute();
  await db.schema
    .createTable('report_rollup_state')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('payments_after_id', 'text', (c) => c.notNull())
    .addColumn('refunds_after_id', 'text', (c) => c.notNull())
    .addColumn('payments_swept_id', 'text', (c) => c.notNull())
    .addColumn('refunds_swept_id', 'text', (c) => c.notNull())
    .addColumn('version', 'bigint', (c) => c.notNull())
    .execute();
  await sql`insert into report_rollup_state
    (name, payments_after_id, refunds_after_id, payments_swept_id, refunds_swept_id, version)
    values ('main', '', '', '', '', 0)`.execute(db);
  await db.schema
    .createTable('report_rollup_counted')
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('payment', 'refund')`))
    .addColumn('id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('report_rollup_counted_pkey', ['kind', 'id'])
    .execute();
  await db.schema
    .createTable('report_rollup_waiting')
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('payment', 'refund')`))
    .addColumn('id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('report_rollup_waiting_pkey', ['kind', 'id'])
    .execute();
  await sql`alter table refunds add column merchant_id text`.execute(db);
  await sql`update refunds set merchant_id =
    (select merchant_id from payments where payments.id = refunds.payment_id)`.execute(db);
  await db.schema
    .createIndex('refunds_by_merchant')
    .on('refunds')
    .columns(['merchant_id', 'created_at'])
    .execute();
  await db.schema.dropIndex('offers_by_merchant').execute();
  await db.schema
    .createIndex('offers_by_merchant_time')
    .on('offers')
    .columns(['merchant_id', 'created_at'])
    .execute();
}

async function createTotals(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('report_day_totals')
    .addColumn('merchant_id', 'text', (c) => c.notNull())
    .addColumn('day_at', 'bigint', (c) => c.notNull())
    .addColumn('payment_count', 'bigint', (c) => c.notNull())
    .addColumn('gross_micros', 'bigint', (c) => c.notNull())
    .addColumn('fee_micros', 'bigint', (c) => c.notNull())
    .addColumn('net_micros', 'bigint', (c) => c.notNull())
    .addColumn('refund_count', 'bigint', (c) => c.notNull())
    .addColumn('refunded_micros', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('report_day_totals_pkey', ['merchant_id', 'day_at'])
    .execute();
  await db.schema
    .createTable('report_offer_day_totals')
    .addColumn('merchant_id', 'text', (c) => c.notNull())
    .addColumn('day_at', 'bigint', (c) => c.notNull())
    .addColumn('offer_id', 'text', (c) => c.notNull())
    .addColumn('payment_count', 'bigint', (c) => c.notNull())
    .addColumn('gross_micros', 'bigint', (c) => c.notNull())
    .addColumn('net_micros', 'bigint', (c) => c.notNull())
    .addColumn('refunded_micros', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('report_offer_day_totals_pkey', ['merchant_id', 'day_at', 'offer_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('offers_by_merchant_time').execute();
  await db.schema.createIndex('offers_by_merchant').on('offers').column('merchant_id').execute();
  await db.schema.dropIndex('refunds_by_merchant').execute();
  await sql`alter table refunds drop column merchant_id`.execute(db);
  for (const table of [
    'report_payment_shares',
    'report_rollup_counted',
    'report_rollup_waiting',
    'report_rollup_state',
    'report_offer_day_totals',
    'report_day_totals',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
