/**
 * Code redemptions (issue 15, cash-out: "codes redeemed by another account"). A merchant that
 * sells codes (gift cards, game currency) reports that the code a payment bought was redeemed,
 * and by whom as it sees them: one report per payment (its primary key), with the buyer and the
 * redeemer resolved to users on the platform's side (null: an account outside Mite), so that the
 * risk rules count a buyer's codes redeemed by others, and the distinct buyers whose codes one
 * account redeemed, by index.
 *
 * A merchant names a Mite user by the pseudonym its receipts gave (an HMAC of the user and the
 * merchant, which cannot be read back): `payer_pseudonyms` keeps, for each merchant, the
 * pseudonym of each user who paid it, written when a payment succeeds, so that a reported
 * pseudonym is found by its key rather than by hashing every payer again.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('payer_pseudonyms')
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('pseudonym', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('payer_pseudonyms_pk', ['merchant_id', 'pseudonym'])
    .execute();
  // A user's export reads their pseudonyms by user.
  await db.schema
    .createIndex('payer_pseudonyms_by_user')
    .on('payer_pseudonyms')
    .columns(['user_id', 'merchant_id'])
    .execute();
  await db.schema
    .createTable('code_redemptions')
    .addColumn('payment_id', 'text', (c) => c.primaryKey().references('payments.id'))
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('buyer_user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('redeemer_user_id', 'text', (c) => c.references('users.id'))
    .addColumn('redeemed_by', 'text', (c) => c.notNull())
    .addColumn('redeemed_at', 'bigint', (c) => c.notNull())
    .addColumn('reported_at', 'bigint', (c) => c.notNull())
    .addCheckConstraint(
      'code_redemptions_redeemed_by_check',
      sql`redeemed_by in ('buyer', 'otherUser', 'outside')`,
    )
    .execute();
  // The buyer's rule: codes a user bought, redeemed lately.
  await db.schema
    .createIndex('code_redemptions_by_buyer')
    .on('code_redemptions')
    .columns(['buyer_user_id', 'redeemed_at'])
    .execute();
  // The broker's rule: codes a user redeemed lately (an outsider's rows have no redeemer).
  await db.schema
    .createIndex('code_redemptions_by_redeemer')
    .on('code_redemptions')
    .columns(['redeemer_user_id', 'redeemed_at'])
    .execute();
  // The merchant's list, newest report first.
  await db.schema
    .createIndex('code_redemptions_by_merchant')
    .on('code_redemptions')
    .columns(['merchant_id', 'reported_at', 'payment_id'])
    .execute();
  // The retention purge.
  await db.schema
    .createIndex('code_redemptions_by_time')
    .on('code_redemptions')
    .column('redeemed_at')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('code_redemptions').execute();
  await db.schema.dropTable('payer_pseudonyms').execute();
}
