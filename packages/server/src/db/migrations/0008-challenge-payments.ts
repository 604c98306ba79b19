/**
 * Payments for HTTP 402 challenges (DESIGN.md section 5): a payment names either an offer or the
 * challenge it paid, with the resource it bought. `offer_id` becomes optional; `challenge_id` is
 * unique per payer, so a challenge is paid at most once by one user.
 */
import { type Kysely, SqliteAdapter, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof SqliteAdapter) await rebuildForSqlite(db);
  else {
    await sql`alter table payments alter column offer_id drop not null`.execute(db);
    await sql`alter table payments add column resource text`.execute(db);
    await sql`alter table payments add column challenge_id text`.execute(db);
  }
  await sql`update payments set resource = (select resource from offers where offers.id = payments.offer_id)`.execute(
    db,
  );
  await sql`create unique index payments_by_user_challenge on payments (user_id, challenge_id)
    where challenge_id is not null`.execute(db);
}

/**
 * SQLite cannot drop a NOT NULL constraint: the table is rebuilt (SQLite's documented
 * twelve-step procedure). Foreign keys cannot be switched off inside the migration's
 * transaction, so refunds' references are checked at COMMIT instead (defer_foreign_keys),
 * when the rebuilt table holds every payment again.
 */
async function rebuildForSqlite(db: Kysely<unknown>): Promise<void> {
  await sql`pragma defer_foreign_keys = on`.execute(db);
  await sql`create table payments_rebuilt (
    id text primary key,
    user_id text not null references users (id),
    merchant_id text not null references merchants (id),
    offer_id text references offers (id),
    amount_micros text not null,
    state text not null check (state in ('pending', 'succeeded', 'failed')),
    failure_code text,
    legs text not null,
    access_until bigint not null,
    created_at bigint not null,
    completed_at bigint,
    resource text,
    challenge_id text
  )`.execute(db);
  await sql`insert into payments_rebuilt (id, user_id, merchant_id, offer_id, amount_micros, state,
      failure_code, legs, access_until, created_at, completed_at)
    select id, user_id, merchant_id, offer_id, amount_micros, state, failure_code, legs,
      access_until, created_at, completed_at from payments`.execute(db);
  await sql`drop table payments`.execute(db);
  await sql`alter table payments_rebuilt rename to payments`.execute(db);
  await sql`create index payments_by_user_offer on payments (user_id, offer_id)`.execute(db);
  await sql`create index payments_by_merchant on payments (merchant_id, created_at)`.execute(db);
  await sql`create index payments_pending on payments (created_at) where state = 'pending'`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index payments_by_user_challenge`.execute(db);
  if (db.getExecutor().adapter instanceof SqliteAdapter) return; // the columns stay, unused
  await sql`alter table payments drop column challenge_id`.execute(db);
  await sql`alter table payments drop column resource`.execute(db);
}
