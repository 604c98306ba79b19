import assert from 'node:assert/strict';
import { type Kysely, sql } from 'kysely';
import { forEachDialect, platformDbFor } from '../testing.ts';
import { migratePlatformDb } from '../platform-db.ts';
import { platformMigrations } from './index.ts';

/** 0017 and every migration after it, newest first: undone in this order. */
const fromMerchantReports = Object.keys(platformMigrations)
  .filter((name) => name >= '0017')
  .sort()
  .reverse();

forEachDialect('migration 0017 (merchant reports)', (dialect, it) => {
  it('gives the refunds made before it their payment\u2019s merchant, and starts the rollup from nothing', async (t) => {
    const platform = await platformDbFor(t, dialect);
    const { db } = platform;
    // Back to the database before 0017 (and the migrations after it), holding a refund of those
    // days.
    for (const name of fromMerchantReports) {
      const down = platformMigrations[name]?.down;
      if (down === undefined) throw new Error(`bug: migration ${name} has no down`);
      await down(db as unknown as Kysely<unknown>);
    }
    await sql`delete from platform_migrations where name >= '0017'`.execute(db);
    await sql`insert into users (id, email_lookup, email_ciphertext, password_hash, wallet_account_id, created_at)
      values ('u1', 'l', 'c', 'h', '1', 1)`.execute(db);
    await sql`insert into merchants (id, name, account_id, created_at) values ('m1', 'M', '2', 1)`.execute(
      db,
    );
    await sql`insert into payments (id, user_id, merchant_id, amount_micros, state, legs, access_until, created_at)
      values ('pay_1', 'u1', 'm1', '10', 'succeeded', '[]', 1, 1)`.execute(db);
    await sql`insert into refunds (id, payment_id, amount_micros, state, requested_by, legs, created_at)
      values ('ref_1', 'pay_1', '5', 'succeeded', 'merchant:m1', '[]', 2)`.execute(db);

    assert.deepEqual(await migratePlatformDb(db), [...fromMerchantReports].reverse());
    const refund = await db.selectFrom('refunds').select('merchant_id').executeTakeFirstOrThrow();
    assert.equal(refund.merchant_id, 'm1');
    const state = await db.selectFrom('report_rollup_state').selectAll().execute();
    assert.deepEqual(state, [
      {
        name: 'main',
        payments_after_id: '',
        refunds_after_id: '',
        payments_swept_id: '',
        refunds_swept_id: '',
        version: 0n,
      },
    ]);
  });
});
