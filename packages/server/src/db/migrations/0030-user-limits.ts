/**
 * The users' own spending settings (issue 15 item 1, limits/): the limits each user sets
 * (`user_limits`, one row per user and scope) and the log of every change to them
 * (`limit_changes`, append-only); the birth date a user declares, sealed under their data key so
 * that erasure shreds it; guardians' consents for minors (`guardian_consents`, at most one open
 * request or grant per minor); and what dormancy needs: when the user was last active (log-in,
 * top-up, re-enabling), written off the purchase path.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('user_limits')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('limit_micros', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('user_limits_pk', ['user_id', 'scope'])
    .execute();
  await db.schema
    .createTable('limit_changes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('old_limit_micros', 'text')
    .addColumn('new_limit_micros', 'text')
    .addColumn('direction', 'text', (c) => c.notNull())
    .addColumn('confirmed_by', 'text', (c) => c.notNull())
    .addColumn('changed_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('limit_changes_by_user')
    .on('limit_changes')
    .columns(['user_id', 'id'])
    .execute();
  await db.schema
    .createTable('guardian_consents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('minor_user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('guardian_user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('requested_at', 'bigint', (c) => c.notNull())
    .addColumn('granted_at', 'bigint')
    .addColumn('withdrawn_at', 'bigint')
    .execute();
  // One open request or grant per minor: asking a second guardian waits for the first to end.
  await db.schema
    .createIndex('guardian_consents_open_once')
    .on('guardian_consents')
    .column('minor_user_id')
    .unique()
    .where(sql.ref('withdrawn_at'), 'is', null)
    .execute();
  await db.schema
    .createIndex('guardian_consents_by_guardian')
    .on('guardian_consents')
    .columns(['guardian_user_id', 'id'])
    .execute();
  await addUserColumns(db);
}

async function addUserColumns(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('birth_date_ciphertext', 'text').execute();
  await db.schema.alterTable('users').addColumn('birth_date_declared_at', 'bigint').execute();
  await db.schema.alterTable('users').addColumn('last_active_at', 'bigint').execute();
  await db.schema.alterTable('users').addColumn('reactivated_at', 'bigint').execute();
  // An account from before this migration was last active when it last logged in (a session
  // began), else when it was made: without this every old account would look unused since then.
  await sql`
    update users set last_active_at = coalesce(
      (select max(sessions.created_at) from sessions where sessions.user_id = users.id),
      users.created_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const column of [
    'reactivated_at',
    'last_active_at',
    'birth_date_declared_at',
    'birth_date_ciphertext',
  ]) {
    await db.schema.alterTable('users').dropColumn(column).execute();
  }
  await db.schema.dropIndex('guardian_consents_by_guardian').execute();
  await db.schema.dropIndex('guardian_consents_open_once').execute();
  await db.schema.dropTable('guardian_consents').execute();
  await db.schema.dropIndex('limit_changes_by_user').execute();
  await db.schema.dropTable('limit_changes').execute();
  await db.schema.dropTable('user_limits').execute();
}
