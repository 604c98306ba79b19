import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { requirePgDatabase, tempDir } from '@mite/testkit';
import pino from 'pino';
import type { PlatformDialect } from '../db/platform-db.ts';
import { forEachDialect } from '../db/testing.ts';
import type { JobTimers } from '../jobs/periodic-job.ts';
import { startPlatformJobs } from '../jobs/platform-jobs.ts';
import { createPlatform, type Platform, storeUrls } from '../platform.ts';
import { hashPassword } from '../auth/passwords.ts';
import { hashSecret } from '../auth/secrets.ts';
import { openPlatformDb } from '../db/platform-db.ts';
import { type DataKeySubject, platformRootSubject, rewrapBatchRowsMax } from './data-keys.ts';
import { masterKeyId } from './master-key.ts';
import { createPersonalDataCipher, looksEncrypted } from './personal-data-cipher.ts';

/** Stores that outlive one platform: a data directory, and on PostgreSQL a database of its own. */
async function durableStores(dialect: PlatformDialect) {
  const dataDir = tempDir('mite-datakeys-');
  return dialect === 'postgres' ? { dataDir, databaseUrl: await requirePgDatabase() } : { dataDir };
}

/** A platform on `stores` with these master keys; closed when the test ends, if not before. */
async function start(
  t: TestContext,
  stores: { dataDir: string; databaseUrl?: string },
  keys: { current: Buffer; previous?: Buffer },
): Promise<Platform> {
  const env: Record<string, string> = { MITE_MASTER_KEY: keys.current.toString('base64') };
  if (keys.previous !== undefined) env.MITE_MASTER_KEY_PREVIOUS = keys.previous.toString('base64');
  const platform = await createPlatform({
    ...stores,
    env,
    logger: pino({ level: 'silent' }),
    backgroundJobs: false,
  });
  let closed = false;
  t.after(async () => {
    if (!closed) await platform.close();
  });
  return {
    ...platform,
    async close() {
      closed = true;
      await platform.close();
    },
  };
}

const password = 'a long passphrase';

forEachDialect('data keys', (dialect, it) => {
  it('rotates the master key while the platform serves, then needs only the new one', async (t) => {
    const stores = await durableStores(dialect);
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const first = await start(t, stores, { current: oldKey });
    const emails = ['ada@example.com', 'grace@example.com', 'edsger@example.com'];
    const userIds: string[] = [];
    for (const email of emails) {
      const signedUp = await first.services.users.signUp({ email, password });
      assert.ok(signedUp.ok);
      userIds.push(signedUp.value.userId);
    }
    // More keys than one batch rewraps: the rotation takes several transactions.
    const subjects = Array.from(
      { length: rewrapBatchRowsMax * 2 + 7 },
      (_, i): DataKeySubject => `invitation:inv_${String(i).padStart(4, '0')}`,
    );
    const sealed = new Map<DataKeySubject, string>();
    for (const subject of subjects) {
      const key = await first.services.keyring.keyFor(subject);
      sealed.set(subject, key.encrypt(`secret of ${subject}`, subject));
    }
    await first.close();

    const rotating = await start(t, stores, { current: newKey, previous: oldKey });
    const { keyring, users } = rotating.services;
    assert.equal(keyring.rotating, true);
    const stale = await keyring.countStale();
    assert.equal(stale, subjects.length + userIds.length + 1, 'users, invitations and the root');
    // Under load: sign-ups, log-ins and reads of sealed fields go on while batches rewrap.
    let rewrapping = true;
    const load = (async () => {
      let served = 0;
      for (let round = 0; rewrapping || round < 3; round += 1) {
        const signedUp = await users.signUp({ email: `load-${round}@example.com`, password });
        assert.ok(signedUp.ok);
        for (const [i, userId] of userIds.entries()) {
          assert.equal((await users.profile(userId))?.email, emails[i]);
        }
        const loggedIn = await users.logIn({
          email: emails[round % emails.length] ?? '',
          password,
        });
        assert.ok(loggedIn.ok);
        served += 1;
      }
      return served;
    })();
    let rewrapped = 0;
    for (let batch = await keyring.rewrapBatch(); batch > 0; batch = await keyring.rewrapBatch()) {
      assert.ok(batch <= rewrapBatchRowsMax);
      rewrapped += batch;
    }
    rewrapping = false;
    assert.ok((await load) >= 3);
    assert.equal(rewrapped, stale);
    assert.equal(await keyring.countStale(), 0);
    const wrappers = await rotating.platformDb.db
      .selectFrom('data_keys')
      .select('master_key_id')
      .distinct()
      .execute();
    assert.deepEqual(
      wrappers.map((row) => row.master_key_id),
      [masterKeyId(newKey)],
    );
    await rotating.close();

    // The old key is retired: the platform starts and reads everything with the new one alone,
    // and a node still given only the old key cannot open the platform's root.
    const after = await start(t, stores, { current: newKey });
    for (const [i, userId] of userIds.entries()) {
      assert.equal((await after.services.users.profile(userId))?.email, emails[i]);
    }
    for (const [subject, value] of sealed) {
      const key = await after.services.keyring.keyFor(subject);
      assert.equal(key.decrypt(value, subject), `secret of ${subject}`);
    }
    await after.close();
    await assert.rejects(start(t, stores, { current: oldKey }), /master key/);
  });

  it('the platform jobs rewrap the keys while a previous master key is configured, and only then', async (t) => {
    const stores = await durableStores(dialect);
    const oldKey = randomBytes(32);
    const first = await start(t, stores, { current: oldKey });
    for (let i = 0; i < rewrapBatchRowsMax + 1; i += 1) {
      await first.services.keyring.keyFor(`invitation:inv_${i}`);
    }
    await first.close();
    const newKey = randomBytes(32);
    const rotating = await start(t, stores, { current: newKey, previous: oldKey });
    // The jobs' timers fire only when the test says: each run is waited for, not slept through.
    const due: (() => void)[] = [];
    const timers: JobTimers = {
      after(_delayMs, callback) {
        due.push(callback);
        return () => {
          const at = due.indexOf(callback);
          if (at !== -1) due.splice(at, 1);
        };
      },
    };
    const batches: number[] = [];
    const { keyring } = rotating.services;
    const jobs = startPlatformJobs({
      ...rotating.services,
      keyring: {
        rotating: keyring.rotating,
        rewrapBatch: async () => {
          const rewrapped = await keyring.rewrapBatch();
          batches.push(rewrapped);
          return rewrapped;
        },
      },
      timers,
      logger: { info: () => {}, error: (error: unknown) => assert.fail(String(error)) },
    });
    t.after(() => jobs.stop());
    while (batches.at(-1) !== 0) {
      const fire = due.shift();
      if (fire === undefined) await new Promise((resolve) => setImmediate(resolve));
      else fire();
    }
    assert.deepEqual(
      batches,
      [rewrapBatchRowsMax, 2, 0],
      'the invitations\u2019 keys and the root',
    );
    assert.equal(await keyring.countStale(), 0);
    await jobs.stop();
    await rotating.close();

    // With the new key alone there is nothing to rewrap, and no job asks.
    const after = await start(t, stores, { current: newKey });
    assert.equal(after.services.keyring.rotating, false);
    let asked = 0;
    const idle = startPlatformJobs({
      ...after.services,
      keyring: {
        rotating: after.services.keyring.rotating,
        rewrapBatch: async () => {
          asked += 1;
          return 0;
        },
      },
      timers,
      logger: { info: () => {}, error: (error: unknown) => assert.fail(String(error)) },
    });
    for (const fire of due.splice(0)) fire();
    await idle.stop();
    assert.equal(asked, 0);
  });

  it('seals the data of a database made before data keys under each user\u2019s key', async (t) => {
    const stores = await durableStores(dialect);
    const masterKey = randomBytes(32);
    // As an older version left it: the email sealed under the master key's cipher, a top-up's
    // card digits in clear, an invitation's email sealed too, and no data keys.
    const legacy = createPersonalDataCipher(masterKey);
    const platformDb = await openPlatformDb({ url: storeUrls(stores).platformUrl });
    const db = platformDb.db;
    const userId = '01900000-0000-7000-8000-000000000001';
    const email = 'legacy@example.com';
    await db
      .insertInto('users')
      .values({
        id: userId,
        email_lookup: legacy.lookupTag(email, 'email'),
        email_ciphertext: legacy.encrypt(email, `user:${userId}:email`),
        password_hash: await hashPassword(password),
        wallet_account_id: String((1n << 127n) | 1n),
        created_at: 1n,
        disabled_at: null,
      })
      .execute();
    await db
      .insertInto('topups')
      .values({
        id: 'top_legacy',
        user_id: userId,
        amount_micros: '1000000',
        fee_micros: null,
        provider: 'sandbox',
        sandbox: 1,
        charge_id: 'ch_legacy',
        card_token: null,
        card_last4: '7315',
        state: 'failed',
        failure_code: 'cardDeclined',
        credit_transfer_id: '1',
        fee_transfer_id: '2',
        created_at: 1n,
        completed_at: 2n,
      })
      .execute();
    await db
      .insertInto('merchants')
      .values({
        id: 'mer_legacy',
        name: 'Legacy Ltd',
        account_id: '3',
        owner_user_id: null,
        created_at: 1n,
      })
      .execute();
    const token = 'a-legacy-invitation-token';
    const invitationId = 'inv_legacy';
    await db
      .insertInto('merchant_invitations')
      .values({
        id: invitationId,
        merchant_id: 'mer_legacy',
        token_hash: hashSecret(token),
        email_lookup: legacy.lookupTag('invited@example.com', 'invitation-email'),
        email_ciphertext: legacy.encrypt('invited@example.com', `invitation:${invitationId}:email`),
        role: 'viewer',
        invited_by: 'operator:test',
        created_at: 1n,
        expires_at: BigInt(Date.now() + 86_400_000),
        accepted_at: null,
        accepted_by: null,
      })
      .execute();
    await platformDb.close();

    const after = await start(t, stores, { current: masterKey });
    const { users, topUps, merchantInvitations } = after.services;
    const upgraded = await after.platformDb.db
      .selectFrom('users')
      .select('email_ciphertext')
      .where('id', '=', userId)
      .executeTakeFirstOrThrow();
    assert.throws(() => legacy.decrypt(upgraded.email_ciphertext, `user:${userId}:email`));
    assert.equal((await users.profile(userId))?.email, email);
    assert.ok((await users.logIn({ email, password })).ok, 'found by the same lookup tag');
    const topUp = await after.platformDb.db
      .selectFrom('topups')
      .select('card_last4')
      .where('id', '=', 'top_legacy')
      .executeTakeFirstOrThrow();
    assert.ok(looksEncrypted(topUp.card_last4 ?? ''));
    assert.equal((await topUps.getTopUp(userId, 'top_legacy'))?.cardLast4, '7315');
    // The invitation opens under its own key: accepting it with a new password makes the account.
    const accepted = await merchantInvitations.accept({ token, password });
    assert.ok(accepted.ok, 'the upgraded invitation is accepted');
    // The root is the master key the data was sealed under, stored wrapped like any data key.
    const root = await after.platformDb.db
      .selectFrom('data_keys')
      .select('master_key_id')
      .where('subject', '=', platformRootSubject)
      .executeTakeFirstOrThrow();
    assert.equal(root.master_key_id, masterKeyId(masterKey));
    assert.equal(after.services.cipher.lookupTag(email, 'email'), legacy.lookupTag(email, 'email'));
  });

  it('gives a new database a random root key, not the master key', async (t) => {
    const stores = await durableStores(dialect);
    const masterKey = randomBytes(32);
    const platform = await start(t, stores, { current: masterKey });
    const fromMaster = createPersonalDataCipher(masterKey);
    assert.notEqual(
      platform.services.cipher.lookupTag('a@example.com', 'email'),
      fromMaster.lookupTag('a@example.com', 'email'),
    );
  });
});
