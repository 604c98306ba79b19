import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { PlatformDialect } from '../db/platform-db.ts';
import { forEachDialect } from '../db/testing.ts';
import { platformFor } from '../platform-testing.ts';
import { sessionTtlMs } from './user-service.ts';

/**
 * The user service of a platform as `mite serve` builds it (on PostgreSQL, the ledger shares the
 * platform's database), on a clock the test moves, with no background jobs.
 */
async function setUp(t: TestContext, dialect: PlatformDialect) {
  const clock = { nowMs: 1_800_000_000_000 };
  const {
    platformDb: platform,
    ledger,
    services,
  } = await platformFor(t, dialect, {
    clock: () => clock.nowMs,
    backgroundJobs: false,
  });
  return { platform, ledger, users: services.users, clock };
}

forEachDialect('users and sessions', (dialect, it) => {
  it('signs up with a wallet, keeps no plain email, and logs in and out', async (t) => {
    const env = await setUp(t, dialect);
    const { users, platform, ledger } = env;
    const signedUp = await users.signUp({
      email: ' Ada@Example.com ',
      password: 'a long passphrase',
    });
    assert.ok(signedUp.ok);
    const row = await platform.db.selectFrom('users').selectAll().executeTakeFirstOrThrow();
    assert.doesNotMatch(
      JSON.stringify(row, (_, v) => (typeof v === 'bigint' ? String(v) : v)),
      /ada@example\.com/i,
    );
    const [wallet] = await ledger.lookupAccounts([BigInt(row.wallet_account_id)]);
    assert.equal(wallet?.flags.debitsMustNotExceedCredits, true);

    const session = await users.logIn({
      email: 'ada@example.com',
      password: 'a long passphrase',
    });
    assert.ok(session.ok);
    assert.deepEqual(await users.authenticate(session.value.token), {
      userId: signedUp.value.userId,
      actingAs: 'wallet',
    });
    const profile = await users.profile(signedUp.value.userId);
    assert.equal(profile?.email, 'ada@example.com');
    await users.logOut(session.value.token);
    assert.equal(await users.authenticate(session.value.token), undefined);
  });

  it('refuses a taken email, a weak password and wrong credentials alike', async (t) => {
    const env = await setUp(t, dialect);
    const { users } = env;
    assert.ok((await users.signUp({ email: 'bo@example.com', password: 'a long passphrase' })).ok);
    assert.deepEqual(
      await users.signUp({ email: 'BO@example.com', password: 'another passphrase' }),
      {
        ok: false,
        code: 'emailTaken',
      },
    );
    const weak = await users.signUp({ email: 'cy@example.com', password: 'short' });
    assert.equal(weak.ok ? 'ok' : weak.code, 'validationFailed');
    for (const attempt of [
      { email: 'bo@example.com', password: 'wrong passphrase' },
      { email: 'nobody@example.com', password: 'a long passphrase' },
    ]) {
      assert.deepEqual(await users.logIn(attempt), { ok: false, code: 'invalidCredentials' });
    }
  });

  it('lets exactly one of two concurrent sign-ups with one email through', async (t) => {
    const env = await setUp(t, dialect);
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        env.users.signUp({ email: 'di@example.com', password: 'a long passphrase' }),
      ),
    );
    assert.equal(results.filter((result) => result.ok).length, 1);
  });

  it('ends a session when it expires and refuses forged tokens', async (t) => {
    const env = await setUp(t, dialect);
    const { users, clock } = env;
    await users.signUp({ email: 'ed@example.com', password: 'a long passphrase' });
    const session = await users.logIn({ email: 'ed@example.com', password: 'a long passphrase' });
    assert.ok(session.ok);
    assert.equal(await users.authenticate(`${session.value.token}x`), undefined);
    clock.nowMs += sessionTtlMs - 1;
    assert.ok(await users.authenticate(session.value.token), 'valid until its last millisecond');
    clock.nowMs += 1;
    assert.equal(await users.authenticate(session.value.token), undefined);
  });
});
