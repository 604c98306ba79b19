/**
 * Fair-price caps (issue 15 item 2): a merchant's promise that a user never pays it more than this
 * in a month (`merchants.fair_price_cap_micros`, null: no cap), and on each payment the full price
 * of what it bought (`payments.list_price_micros`) when a cap applied to it, so that history and
 * the merchant's reports can show what was free, or cheaper, under the cap. The spending towards a
 * cap is counted in `monthly_spending` under the scope `fairPrice:<merchant id>`.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('merchants').addColumn('fair_price_cap_micros', 'text').execute();
  await db.schema.alterTable('payments').addColumn('list_price_micros', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('payments').dropColumn('list_price_micros').execute();
  await db.schema.alterTable('merchants').dropColumn('fair_price_cap_micros').execute();
}
