/**
 * Purchases that happen once, whatever the concurrency (issue 10):
 * - `offer_access`: who holds access to which offer, and until when. A purchase of an offer with
 *   an access period claims its row with one conditional write (insert, or take over a row whose
 *   access has ended), so that of concurrent purchases exactly one charges, on every node.
 * - `payments.idempotency_key`: the Idempotency-Key a purchase was made under, unique per payer,
 *   so that a retry finds its purchase however late it comes (the idempotency record lives 24 h),
 *   and the reconciler can answer a retry cut off by a crash.
 * - `merchants.challenge_access_period_seconds_max`: the longest access the platform grants for a
 *   merchant's HTTP 402 challenge, whose other terms it cannot verify (default 30 days).
 * - an index of in-progress idempotency records, which the reconciler looks through.
 */
import { type Kysely, sql } from 'kysely';

/** What existing merchants get: the default of merchant-service.ts. */
const challengeAccessPeriodSecondsMaxDefault = 30 * 86_400; // as merchant-service.ts

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('offer_access')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('offer_id', 'text', (c) => c.notNull().references('offers.id'))
    .addColumn('payment_id', 'text', (c) => c.notNull())
    .addColumn('access_until', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('offer_access_pkey', ['user_id', 'offer_id'])
    .execute();
  // Access held today: the latest payment of each (user, offer) that is pending or succeeded.
  await sql`insert into offer_access (user_id, offer_id, payment_id, access_until)
    select user_id, offer_id, id, access_until from payments
    where offer_id is not null and state in ('pending', 'succeeded') and access_until > created_at
    order by access_until
    on conflict (user_id, offer_id) do update
      set payment_id = excluded.payment_id, access_until = excluded.access_until
      where excluded.access_until > offer_access.access_until`.execute(db);
  await sql`alter table payments add column idempotency_key text`.execute(db);
  await sql`create unique index payments_by_user_idempotency_key
    on payments (user_id, idempotency_key) where idempotency_key is not null`.execute(db);
  await sql`alter table merchants add column challenge_access_period_seconds_max integer
    not null default ${sql.lit(challengeAccessPeriodSecondsMaxDefault)}`.execute(db);
  await sql`create index idempotency_records_in_progress on idempotency_records (created_at)
    where state = 'in_progress'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index idempotency_records_in_progress`.execute(db);
  await sql`drop index payments_by_user_idempotency_key`.execute(db);
  await db.schema.dropTable('offer_access').execute();
}
