/**
 * Users, sessions, merchants, API keys, admin keys and idempotency records.
 *
 * Migrations are frozen once released: they take an untyped Kysely (not PlatformSchema, which
 * follows the latest migration) and use only types that behave alike on SQLite and PostgreSQL:
 * `text`, `integer` (32-bit values) and `bigint` (int8: timestamps in ms).
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await createUsers(db);
  await createSessions(db);
  await createMerchants(db);
  await createApiKeys(db);
  await createAdminKeys(db);
  await createIdempotencyRecords(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'idempotency_records',
    'admin_keys',
    'api_keys',
    'merchants',
    'sessions',
    'users',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}

async function createUsers(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('email_lookup', 'text', (c) => c.notNull().unique())
    .addColumn('email_ciphertext', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('wallet_account_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('disabled_at', 'bigint')
    .execute();
}

async function createSessions(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sessions')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema.createIndex('sessions_by_user').on('sessions').column('user_id').execute();
}

async function createMerchants(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('merchants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.notNull().unique())
    .addColumn('owner_user_id', 'text', (c) => c.references('users.id'))
    .addColumn('fee_basis_points', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('payout_threshold_micros', 'text', (c) => c.notNull().defaultTo('0'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}

async function createApiKeys(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('api_keys_by_merchant')
    .on('api_keys')
    .column('merchant_id')
    .execute();
}

async function createAdminKeys(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('admin_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();
}

async function createIdempotencyRecords(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('idempotency_records')
    .addColumn('principal', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('response_status', 'integer')
    .addColumn('response_headers', 'text')
    .addColumn('response_body', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_records_pk', ['principal', 'idempotency_key'])
    .addCheckConstraint('idempotency_records_state', sql`state in ('in_progress', 'completed')`)
    .execute();
  await db.schema
    .createIndex('idempotency_records_by_expiry')
    .on('idempotency_records')
    .column('expires_at')
    .execute();
}
