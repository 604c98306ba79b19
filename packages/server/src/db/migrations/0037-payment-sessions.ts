/**
 * Streaming and metered payments (issue 16, sessions/): `payment_sessions`, one row per session a
 * user opened with a merchant, and `payment_session_holds`, the deposits held for it (the one
 * made at open, and one per top-up), each a pending ledger transfer from the wallet.
 *
 * Exactly once, by the database: a session is unique per (user, Idempotency-Key) and a hold per
 * (session, sequence) and per (session, Idempotency-Key); the highest voucher, the state and the
 * deposit change by conditional writes. `due_at` is when the session needs the platform next (its
 * idle or lifetime expiry, the end of a client's close grace, or the finishing of an interrupted
 * step), so that the sweeper reads a small index, not the table.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('payment_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('challenge_id', 'text', (c) => c.notNull())
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('unit_price_micros', 'text', (c) => c.notNull())
    .addColumn('unit_type', 'text', (c) =>
      c.notNull().check(sql`unit_type in ('second', 'request', 'token', 'byte')`),
    )
    .addColumn('min_voucher_delta_micros', 'text', (c) => c.notNull())
    .addColumn('idle_timeout_seconds', 'integer', (c) => c.notNull())
    .addColumn('voucher_kind', 'text', (c) =>
      c.notNull().check(sql`voucher_kind in ('payword', 'ed25519')`),
    )
    // The PayWord anchor or the Ed25519 voucher key, base64url; and the chain's length.
    .addColumn('commitment', 'text', (c) => c.notNull())
    .addColumn('chain_length', 'integer')
    .addColumn('deposit_micros', 'text', (c) => c.notNull())
    .addColumn('sequence', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('accepted_micros', 'text', (c) => c.notNull().defaultTo('0'))
    .addColumn('accepted_proof', 'text')
    .addColumn('state', 'text', (c) =>
      c
        .notNull()
        .check(sql`state in ('opening', 'open', 'closing', 'settling', 'settled', 'failed')`),
    )
    .addColumn('failure_code', 'text')
    .addColumn('close_reason', 'text', (c) =>
      c.check(sql`close_reason in ('merchant', 'client', 'idle', 'lifetime')`),
    )
    .addColumn('settled_micros', 'text')
    .addColumn('settlement', 'text')
    .addColumn('payment_id', 'text')
    .addColumn('opened_at', 'bigint', (c) => c.notNull())
    .addColumn('last_activity_at', 'bigint', (c) => c.notNull())
    .addColumn('open_until', 'bigint', (c) => c.notNull())
    .addColumn('close_at', 'bigint')
    .addColumn('closed_at', 'bigint')
    .addColumn('due_at', 'bigint')
    .addUniqueConstraint('payment_sessions_once_per_key', ['user_id', 'idempotency_key'])
    .execute();
  await db.schema
    .createIndex('payment_sessions_by_user')
    .on('payment_sessions')
    .columns(['user_id', 'opened_at', 'id'])
    .execute();
  await db.schema
    .createIndex('payment_sessions_by_merchant')
    .on('payment_sessions')
    .columns(['merchant_id', 'opened_at', 'id'])
    .execute();
  await db.schema
    .createIndex('payment_sessions_due')
    .on('payment_sessions')
    .columns(['due_at', 'id'])
    .where(sql.ref('due_at'), 'is not', null)
    .execute();
  await db.schema
    .createTable('payment_session_holds')
    .addColumn('session_id', 'text', (c) => c.notNull().references('payment_sessions.id'))
    .addColumn('sequence', 'integer', (c) => c.notNull())
    .addColumn('idempotency_key', 'text')
    .addColumn('transfer_id', 'text', (c) => c.notNull())
    .addColumn('amount_micros', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) =>
      c.notNull().check(sql`state in ('pending', 'held', 'failed')`),
    )
    .addColumn('spending', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('payment_session_holds_pk', ['session_id', 'sequence'])
    .addUniqueConstraint('payment_session_holds_once_per_key', ['session_id', 'idempotency_key'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('payment_session_holds').execute();
  await db.schema.dropTable('payment_sessions').execute();
}
