import assert from 'node:assert/strict';
import { type Kysely, sql } from 'kysely';
import { forEachDialect, platformDbFor } from '../testing.ts';
import { migratePlatformDb } from '../platform-db.ts';
import { platformMigrations } from './index.ts';

/** 0030 and every migration after it, newest first: undone in this order. */
const fromUserLimits = Object.keys(platformMigrations)
  .filter((name) => name >= '0030')
  .sort()
  .reverse();

forEachDialect('migration 0030 (user limits)', (dialect, it) => {
  it('makes an older account last active at its last log-in, else when it was made', async (t) => {
    const platform = await platformDbFor(t, dialect);
    const { db } = platform;
    for (const name of fromUserLimits) {
      const down = platformMigrations[name]?.down;
      if (down === undefined) throw new Error(`bug: migration ${name} has no down`);
      await down(db as unknown as Kysely<unknown>);
    }
    await sql`delete from platform_migrations where name >= '0030'`.execute(db);
    for (const id of ['u1', 'u2']) {
      await sql`insert into users (id, email_lookup, email_ciphertext, password_hash, wallet_account_id, created_at)
        values (${id}, ${`l-${id}`}, 'c', 'h', '1', 100)`.execute(db);
    }
    for (const [token, createdAt] of [
      ['t1', 200],
      ['t2', 300],
    ] as const) {
      await sql`insert into sessions (token_hash, user_id, created_at, expires_at, acting_as)
        values (${token}, 'u1', ${createdAt}, 9999, 'wallet')`.execute(db);
    }

    assert.deepEqual(await migratePlatformDb(db), [...fromUserLimits].reverse());
    const users = await db
      .selectFrom('users')
      .select(['id', 'last_active_at', 'birth_date_ciphertext'])
      .orderBy('id')
      .execute();
    assert.deepEqual(users, [
      { id: 'u1', last_active_at: 300n, birth_date_ciphertext: null },
      { id: 'u2', last_active_at: 100n, birth_date_ciphertext: null },
    ]);
  });
});
