import assert from 'node:assert/strict';
import { type Kysely, sql } from 'kysely';
import { forEachDialect, platformDbFor } from '../testing.ts';
import { migratePlatformDb } from '../platform-db.ts';
import { platformMigrations } from './index.ts';

/** 0032 and every migration after it, newest first: undone in this order. */
const fromConfirmations = Object.keys(platformMigrations)
  .filter((name) => name >= '0032')
  .sort()
  .reverse();

/** Inserts a decision of this subject, answering whether the subject check took it. */
async function recorded(db: Kysely<unknown>, id: string, subject: string): Promise<boolean> {
  try {
    await sql`insert into policy_decisions
      (id, subject, user_id, merchant_id, amount_micros, verdict, rule, reason, created_at)
      values (${id}, ${subject}, 'u1', null, '4', 'challenge', 'r', 'why', 1)`.execute(db);
    return true;
  } catch {
    return false;
  }
}

forEachDialect('migration 0032 (challenge confirmations)', (dialect, it) => {
  it('keeps the decisions, lets token withdrawals be recorded, and changes nothing where that was done already', async (t) => {
    const platform = await platformDbFor(t, dialect);
    const db = platform.db as unknown as Kysely<unknown>;
    await sql`insert into users (id, email_lookup, email_ciphertext, password_hash, wallet_account_id, created_at)
      values ('u1', 'l', 'c', 'h', '1', 1)`.execute(db);
    assert.equal(await recorded(db, 'pdc_withdrawal', 'tokenWithdrawal'), true);
    assert.equal(await recorded(db, 'pdc_other', 'refund'), false, 'the check still refuses');

    // Down leaves the wider check; up again finds it wide and changes nothing, rows kept.
    for (const name of fromConfirmations) await platformMigrations[name]?.down?.(db);
    await sql`delete from platform_migrations where name >= '0032'`.execute(db);
    assert.equal(await recorded(db, 'pdc_before', 'purchase'), true);
    assert.deepEqual(await migratePlatformDb(platform.db), [...fromConfirmations].reverse());
    const rows = await platform.db
      .selectFrom('policy_decisions')
      .select(['id', 'subject', 'confirmed_at', 'consumed_at', 'consumed_by'])
      .orderBy('id')
      .execute();
    assert.deepEqual(rows, [
      {
        id: 'pdc_before',
        subject: 'purchase',
        confirmed_at: null,
        consumed_at: null,
        consumed_by: null,
      },
      {
        id: 'pdc_withdrawal',
        subject: 'tokenWithdrawal',
        confirmed_at: null,
        consumed_at: null,
        consumed_by: null,
      },
    ]);
    assert.equal(await recorded(db, 'pdc_refund', 'refund'), false);
  });
});
