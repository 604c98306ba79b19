/**
 * The operator's review of what the policy stopped (issue 15, review/): each decision gets a
 * review state (open until an operator releases it or confirms it as fraud), who reviewed it,
 * when and with what note; and `account_freezes`, the users and merchants frozen by a confirmed
 * fraud, which the platform's freeze policy, payouts and token deposits read on every request.
 * The decisions recorded before are open.
 */
import { type Kysely, sql } from 'kysely';

/** The longest review note when this migration was written (review/policy-review.ts). */
const reviewNoteLengthMax = 500;

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('policy_decisions')
    .addColumn('review_state', 'text', (c) =>
      c
        .notNull()
        .defaultTo('open')
        .check(sql`review_state in ('open', 'released', 'fraud')`),
    )
    .execute();
  await db.schema.alterTable('policy_decisions').addColumn('reviewed_by', 'text').execute();
  await db.schema.alterTable('policy_decisions').addColumn('reviewed_at', 'bigint').execute();
  await db.schema
    .alterTable('policy_decisions')
    .addColumn('review_note', 'text', (c) =>
      c.check(sql`length(review_note) <= ${sql.lit(reviewNoteLengthMax)}`),
    )
    .execute();
  // The review queue: the open decisions (or the released, or the fraud) newest first.
  await db.schema
    .createIndex('policy_decisions_by_review_state')
    .on('policy_decisions')
    .columns(['review_state', 'created_at', 'id'])
    .execute();
  await createAccountFreezes(db);
}
async function createAccountFreezes(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('account_freezes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.references('users.id'))
    .addColumn('merchant_id', 'text', (c) => c.references('merchants.id'))
    .addColumn('decision_id', 'text', (c) => c.notNull().references('policy_decisions.id'))
    .addColumn('frozen_by', 'text', (c) => c.notNull())
    .addColumn('frozen_at', 'bigint', (c) => c.notNull())
    .addColumn('lifted_by', 'text')
    .addColumn('lifted_at', 'bigint')
    // A freeze is of one account: a user or a merchant.
    .addCheckConstraint(
      'account_freezes_one_account',
      sql`(user_id is null) <> (merchant_id is null)`,
    )
    .execute();
  // At most one freeze in force per account, and the lookup the payment path makes on every
  // purchase, top-up and withdrawal: one probe of a small partial index.
  await db.schema
    .createIndex('account_freezes_active_user')
    .on('account_freezes')
    .column('user_id')
    .unique()
    .where(sql.ref('lifted_at'), 'is', null)
    .execute();
  await db.schema
    .createIndex('account_freezes_active_merchant')
    .on('account_freezes')
    .column('merchant_id')
    .unique()
    .where(sql.ref('lifted_at'), 'is', null)
    .execute();
  await db.schema
    .createIndex('account_freezes_by_time')
    .on('account_freezes')
    .columns(['frozen_at', 'id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('account_freezes').execute();
  await db.schema.dropIndex('policy_decisions_by_review_state').execute();
  await db.schema.alterTable('policy_decisions').dropColumn('review_note').execute();
  await db.schema.alterTable('policy_decisions').dropColumn('reviewed_at').execute();
  await db.schema.alterTable('policy_decisions').dropColumn('reviewed_by').execute();
  await db.schema.alterTable('policy_decisions').dropColumn('review_state').execute();
}
