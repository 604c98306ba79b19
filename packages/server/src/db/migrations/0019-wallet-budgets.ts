/**
 * The budgets each user keeps on the platform for the clients that pay for them (the wallet's
 * paywall): per payment, per site per day, in total, and the amount above which a payment is
 * asked about. One row per user, written when the user first saves a budget; a user without a
 * row has the defaults (wallets/wallet-budgets.ts).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('wallet_budgets')
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id'))
    .addColumn('max_per_payment_micros', 'text', (c) => c.notNull())
    .addColumn('max_per_origin_per_day_micros', 'text', (c) => c.notNull())
    .addColumn('max_total_micros', 'text', (c) => c.notNull())
    .addColumn('approve_above_micros', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('wallet_budgets').execute();
}
