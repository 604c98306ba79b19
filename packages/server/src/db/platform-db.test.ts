import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { sql } from 'kysely';
import { migratePlatformDb, openPlatformDb, type PlatformDb } from './platform-db.ts';
import { platformMigrations } from './migrations/index.ts';
import type { NewUser } from './schema.ts';
import { databaseUrlFor, forEachDialect, openForTest, platformDbFor } from './testing.ts';

const platformTables = [
  'account_freezes',
  'admin_keys',
  'api_keys',
  'code_redemptions',
  'consents',
  'data_keys',
  'data_upgrades',
  'guardian_consents',
  'idempotency_records',
  'ledger_verifications',
  'limit_changes',
  'merchant_bank_accounts',
  'merchant_invitations',
  'merchant_members',
  'merchants',
  'monthly_spending',
  'offer_access',
  'offer_splits',
  'offers',
  'operators',
  'payer_pseudonyms',
  'payment_session_holds',
  'payment_sessions',
  'payments',
  'payout_batches',
  'payouts',
  'personal_data_views',
  'platform_migration_lock',
  'platform_migrations',
  'policy_decisions',
  'purchase_compaction_state',
  'purchase_day_totals',
  'refunds',
  'report_day_totals',
  'report_offer_day_totals',
  'report_payment_shares',
  'report_rollup_counted',
  'report_rollup_state',
  'report_rollup_waiting',
  'risk_rule_sets',
  'sessions',
  'spent_tokens',
  'token_deposits',
  'token_keys',
  'token_swaps',
  'token_withdrawals',
  'topups',
  'user_limits',
  'users',
  'wallet_budgets',
  'webhook_attempts',
  'webhook_deliveries',
  'webhook_endpoints',
  'webhook_events',
];

const allMigrations = Object.keys(platformMigrations).sort();

function user(id: string, fields: Partial<NewUser> = {}): NewUser {
  return {
    id,
    email_lookup: `lookup-${id}`,
    email_ciphertext: 'Y2lwaGVy',
    password_hash: 'scrypt$hash',
    wallet_account_id: '340282366920938463463374607431768211455',
    created_at: 1_700_000_000_000n,
    ...fields,
  };
}

async function appliedMigrations(platformDb: PlatformDb): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select name from platform_migrations order by name`.execute(platformDb.db);
  return rows.map((row) => row.name);
}

forEachDialect('platform database', (dialect, it) => {
  it('migrations create every table, and a second run applies nothing', async (t) => {
    const platformDb = await platformDbFor(t, dialect);
    assert.equal(platformDb.dialect, dialect);
    const tables = await platformDb.db.introspection.getTables();
    const names = tables.map((table) => table.name).sort();
    assert.deepEqual(names, platformTables);
    assert.deepEqual(await appliedMigrations(platformDb), allMigrations);
    assert.deepEqual(await migratePlatformDb(platformDb.db), []);
  });

  it('a second open of one database migrates nothing', async (t) => {
    const url = await databaseUrlFor(dialect);
    const first = await openForTest(t, url);
    await first.db.insertInto('users').values(user('u1')).execute();
    const second = await openForTest(t, url);
    assert.deepEqual(await appliedMigrations(second), allMigrations);
    assert.equal((await second.db.selectFrom('users').select('id').execute()).length, 1);
  });

  it('foreign keys are enforced', async (t) => {
    const platformDb = await platformDbFor(t, dialect);
    const { db } = platformDb;
    const session = { token_hash: 'th', user_id: 'nobody', created_at: 1n, expires_at: 2n };
    await assert.rejects(db.insertInto('sessions').values(session).execute());
    const apiKey = { id: 'k', merchant_id: 'none', secret_hash: 'h', scopes: '[]', created_at: 1n };
    await assert.rejects(db.insertInto('api_keys').values(apiKey).execute());
    const merchant = {
      id: 'm',
      name: 'M',
      account_id: '7',
      owner_user_id: 'nobody',
      created_at: 1n,
    };
    await assert.rejects(db.insertInto('merchants').values(merchant).execute());

    await db.insertInto('users').values(user('u1')).execute();
    await db
      .insertInto('sessions')
      .values({ ...session, user_id: 'u1' })
      .execute();
    // A user with sessions cannot be deleted from under them.
    await assert.rejects(db.deleteFrom('users').where('id', '=', 'u1').execute());
  });

  it('int8 reads as bigint past 2^53, integer as number', async (t) => {
    const platformDb = await platformDbFor(t, dialect);
    const { db } = platformDb;
    const past2To53 = 2n ** 53n + 1n;
    const int64Max = 2n ** 63n - 1n;
    await db
      .insertInto('users')
      .values(user('u1', { created_at: past2To53, disabled_at: int64Max }))
      .execute();
    const row = await db.selectFrom('users').selectAll().executeTakeFirstOrThrow();
    assert.equal(row.created_at, past2To53);
    assert.equal(row.disabled_at, int64Max);

    await db
      .insertInto('merchants')
      .values({ id: 'm', name: 'M', account_id: '7', created_at: 5n })
      .execute();
    const merchant = await db.selectFrom('merchants').selectAll().executeTakeFirstOrThrow();
    assert.equal(merchant.fee_basis_points, 0);
    assert.equal(merchant.payout_threshold_micros, '0');
    assert.equal(merchant.created_at, 5n);

    const { count } = await db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll().as('count'))
      .executeTakeFirstOrThrow();
    assert.equal(count, 1n, 'count(*) is int8 on PostgreSQL: bigint on both');
  });

  it('email_lookup is unique', async (t) => {
    const platformDb = await platformDbFor(t, dialect);
    const { db } = platformDb;
    await db.insertInto('users').values(user('u1')).execute();
    await db
      .insertInto('users')
      .values(user('u2', { email_lookup: 'other' }))
      .execute();
    await assert.rejects(
      db
        .insertInto('users')
        .values(user('u3', { email_lookup: 'other' }))
        .execute(),
    );
  });

  it('idempotency state is checked', async (t) => {
    const platformDb = await platformDbFor(t, dialect);
    const record = {
      principal: 'p',
      idempotency_key: 'k',
      method: 'POST',
      path: '/v1/x',
      request_hash: 'h',
      state: 'done' as 'completed', // deliberately outside the type
      created_at: 1n,
      expires_at: 2n,
    };
    await assert.rejects(platformDb.db.insertInto('idempotency_records').values(record).execute());
  });

  it('a failing migration leaves nothing behind', async (t) => {
    const platformDb = await platformDbFor(t, dialect);
    const broken = {
      async up(db: PlatformDb['db']) {
        await db.schema.createTable('half_done').addColumn('id', 'text').execute();
        throw new Error('boom');
      },
    };
    await assert.rejects(
      migratePlatformDb(platformDb.db, { ...platformMigrations, '9999-broken': broken }),
      /platform migration 9999-broken failed/,
    );
    const tables = await platformDb.db.introspection.getTables();
    assert.ok(!tables.some((table) => table.name === 'half_done'));
    assert.deepEqual(await appliedMigrations(platformDb), allMigrations);
  });

  // Several API nodes opening one PostgreSQL database at once. (Not SQLite: two handles on one file
  // in one process can deadlock, as a synchronous busy wait blocks the handle holding the lock.)
  if (dialect === 'postgres') {
    it('concurrent opens of one database migrate it once', async (t) => {
      const url = await databaseUrlFor(dialect);
      const opened = await Promise.all([1, 2, 3].map(() => openForTest(t, url)));
      for (const platformDb of opened) {
        assert.deepEqual(await appliedMigrations(platformDb), allMigrations);
      }
    });
  }
});

test('sqlite: the connection has the pragmas durability and integrity need', async (t) => {
  const platformDb = await platformDbFor(t, 'sqlite');
  const pragma = async (name: string): Promise<unknown> => {
    const { rows } = await sql<Record<string, unknown>>`${sql.raw(`pragma ${name}`)}`.execute(
      platformDb.db,
    );
    return Object.values(rows[0] ?? {})[0];
  };
  assert.equal(await pragma('journal_mode'), 'wal');
  assert.equal(await pragma('synchronous'), 1n); // NORMAL: wal-sync.ts syncs each commit
  assert.equal(await pragma('foreign_keys'), 1n);
  assert.equal(await pragma('busy_timeout'), 5000n);
});

test('sqlite::memory: opens a private in-memory database', async (t: TestContext) => {
  const platformDb = await openForTest(t, 'sqlite::memory:');
  assert.equal(platformDb.dialect, 'sqlite');
  assert.deepEqual(await appliedMigrations(platformDb), allMigrations);
});

test('an unsupported URL is refused without echoing it', async () => {
  await assert.rejects(openPlatformDb({ url: 'mysql://root:secret@db/mite' }), (error: Error) => {
    assert.match(error.message, /unsupported platform database URL scheme mysql:/);
    assert.ok(!error.message.includes('secret'));
    return true;
  });
});
