/**
 * Consents (issue 14 item 4): one row per grant, for a purpose and a scope (a site's origin, a
 * merchant id, or `all`), with the time and the version of the text the user agreed to. A revoke
 * fills `revoked_at` and the text version shown then, once; no row is ever deleted, so the rows
 * are the history. At most one grant of a (user, purpose, scope) is active at a time.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('consents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('text_version', 'text', (c) => c.notNull())
    .addColumn('granted_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('revoked_text_version', 'text')
    // A shareEmail grant's merchant-scoped pseudonym, so that the merchant's lookup by the only
    // name it knows the user by is one indexed read.
    .addColumn('merchant_pseudonym', 'text')
    .execute();
  await db.schema
    .createIndex('consents_active_once')
    .on('consents')
    .columns(['user_id', 'purpose', 'scope'])
    .unique()
    .where(sql.ref('revoked_at'), 'is', null)
    .execute();
  await db.schema
    .createIndex('consents_by_user')
    .on('consents')
    .columns(['user_id', 'granted_at', 'id'])
    .execute();
  await db.schema
    .createIndex('consents_by_pseudonym')
    .on('consents')
    .columns(['merchant_pseudonym', 'scope'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('consents').execute();
}
