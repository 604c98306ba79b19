/**
 * Webhook endpoints and events of the operator: `merchant_id` null means the platform's own
 * (top-up events, which belong to no merchant). SQLite cannot drop a NOT NULL constraint, so its
 * two tables are rebuilt (as in 0008), references checked at COMMIT.
 */
import { type Kysely, SqliteAdapter, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) {
    await sql`alter table webhook_endpoints alter column merchant_id drop not null`.execute(db);
    await sql`alter table webhook_events alter column merchant_id drop not null`.execute(db);
    return;
  }
  await sql`pragma defer_foreign_keys = on`.execute(db);
  await sql`create table webhook_endpoints_rebuilt (
    id text primary key,
    merchant_id text references merchants (id),
    url text not null,
    secret text not null,
    event_types text not null,
    created_at bigint not null,
    disabled_at bigint
  )`.execute(db);
  await sql`insert into webhook_endpoints_rebuilt
    select id, merchant_id, url, secret, event_types, created_at, disabled_at
    from webhook_endpoints`.execute(db);
  await sql`drop table webhook_endpoints`.execute(db);
  await sql`alter table webhook_endpoints_rebuilt rename to webhook_endpoints`.execute(db);
  await sql`create index webhook_endpoints_by_merchant on webhook_endpoints (merchant_id)`.execute(
    db,
  );
  await sql`create table webhook_events_rebuilt (
    id text primary key,
    merchant_id text references merchants (id),
    type text not null,
    payload text not null,
    created_at bigint not null
  )`.execute(db);
  await sql`insert into webhook_events_rebuilt
    select id, merchant_id, type, payload, created_at from webhook_events`.execute(db);
  await sql`drop table webhook_events`.execute(db);
  await sql`alter table webhook_events_rebuilt rename to webhook_events`.execute(db);
  await sql`create index webhook_events_by_merchant on webhook_events (merchant_id, created_at)`.execute(
    db,
  );
}

export async function down(): Promise<void> {
  // Operator endpoints and events would have nowhere to go: this migration is not undone.
}
