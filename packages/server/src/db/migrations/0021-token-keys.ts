/**
 * The keys that sign unlinkable tokens (issue 14): one RSA key per denomination in each keyset,
 * every client given the same ones. The private key is stored sealed under the master key; the
 * key id is derived from the public key, so that a client can check that the key it was given is
 * the one published.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('token_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('keyset', 'text', (c) => c.notNull())
    .addColumn('denomination_micros', 'text', (c) => c.notNull())
    .addColumn('public_key_spki', 'text', (c) => c.notNull())
    .addColumn('private_key_sealed', 'text', (c) => c.notNull())
    .addColumn('issue_from', 'bigint', (c) => c.notNull())
    .addColumn('issue_until', 'bigint', (c) => c.notNull())
    .addColumn('redeem_until', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('token_keys_keyset_denomination', ['keyset', 'denomination_micros'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('token_keys').execute();
}
