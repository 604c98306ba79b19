/**
 * Payouts: merchants' bank accounts, payout batches and the payouts in them.
 *
 * A batch and its payouts, each with a fixed ledger transfer id, are written in one transaction
 * before any money moves, so that a crashed run is resumed by resubmitting the same transfers
 * (the ledger answers `exists` for those already done) and a merchant is never paid twice. At most
 * one batch is `building` at a time (a partial unique index): a second run waits for, or resumes,
 * the one in progress instead of reading balances that are about to change.
 *
 * A payout keeps a copy of the bank details it was made to, so that the bank file written when the
 * batch completes (possibly on a resume, after a crash) names the account chosen when the money
 * was reserved for it, whatever the merchant changed meanwhile.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('merchant_bank_accounts')
    .addColumn('merchant_id', 'text', (c) => c.primaryKey().references('merchants.id'))
    .addColumn('holder_name', 'text', (c) => c.notNull())
    .addColumn('iban', 'text', (c) => c.notNull())
    .addColumn('bic', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('payout_batches')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) =>
      c.notNull().check(sql`state in ('building', 'paid', 'failed')`),
    )
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('completed_at', 'bigint')
    .addColumn('total_micros', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('file_xml', 'text')
    .addColumn('file_csv', 'text')
    .execute();
  // The same statement on both dialects; Kysely's builder would send the literal as a parameter,
  // which PostgreSQL refuses in an index predicate.
  await sql`create unique index payout_batches_one_building on payout_batches (state)
    where state = 'building'`.execute(db);
  await db.schema
    .createTable('payouts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('batch_id', 'text', (c) => c.notNull().references('payout_batches.id'))
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('amount_micros', 'text', (c) => c.notNull())
    .addColumn('transfer_id', 'text', (c) => c.notNull().unique())
    .addColumn('state', 'text', (c) =>
      c.notNull().check(sql`state in ('pending', 'paid', 'failed')`),
    )
    .addColumn('failure_code', 'text')
    .addColumn('holder_name', 'text', (c) => c.notNull())
    .addColumn('iban', 'text', (c) => c.notNull())
    .addColumn('bic', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('completed_at', 'bigint')
    .execute();
  await db.schema.createIndex('payouts_by_merchant').on('payouts').column('merchant_id').execute();
  await db.schema.createIndex('payouts_by_batch').on('payouts').column('batch_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['payouts', 'payout_batches', 'merchant_bank_accounts']) {
    await db.schema.dropTable(table).execute();
  }
}
