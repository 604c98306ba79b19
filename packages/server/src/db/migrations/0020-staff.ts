/**
 * People who run things (issue 13): a person (a user account) may be a member of merchants, with
 * a role, and may be an operator. A session says which of these it acts as, so that a dashboard
 * or console session cannot spend the person's wallet, nor a wallet session act for a merchant.
 * Invitations bring people into a merchant; their token is stored only hashed, and the invited
 * email only encrypted with its lookup tag, as users' emails are.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('sessions')
    .addColumn('acting_as', 'text', (c) => c.notNull().defaultTo(sql`'wallet'`))
    .execute();
  await db.schema
    .createTable('merchant_members')
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('merchant_members_pkey', ['merchant_id', 'user_id'])
    .execute();
  await db.schema
    .createIndex('merchant_members_by_user')
    .on('merchant_members')
    .columns(['user_id', 'created_at'])
    .execute();
  await db.schema
    .createTable('merchant_invitations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('email_lookup', 'text', (c) => c.notNull())
    .addColumn('email_ciphertext', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('invited_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('accepted_at', 'bigint')
    .addColumn('accepted_by', 'text')
    .execute();
  await db.schema
    .createIndex('merchant_invitations_by_merchant')
    .on('merchant_invitations')
    .columns(['merchant_id', 'created_at'])
    .execute();
  await db.schema
    .createTable('operators')
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('operators').execute();
  await db.schema.dropTable('merchant_invitations').execute();
  await db.schema.dropTable('merchant_members').execute();
  await db.schema.alterTable('sessions').dropColumn('acting_as').execute();
}
