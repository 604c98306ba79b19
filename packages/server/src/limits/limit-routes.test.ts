import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import {
  createMerchantWithKey,
  type PlatformUnderTest,
  startPlatformUnderTest,
} from '../platform-testing.ts';
import { dormancyPeriodMs } from './limit-profiles.ts';

const password = 'a long enough passphrase';

async function newUser(env: PlatformUnderTest, email: string) {
  const credentials = { email, password };
  const signedUp = await env.call('POST', '/v1/users', { body: credentials });
  assert.equal(signedUp.status, 201, signedUp.text);
  return { userId: String(signedUp.body?.userId), token: await logIn(env, email) };
}

async function logIn(env: PlatformUnderTest, email: string): Promise<string> {
  const session = await env.call('POST', '/v1/sessions', { body: { email, password } });
  assert.equal(session.status, 201, session.text);
  return String(session.body?.token);
}

type Change = { scope: string; oldLimit: string | null; newLimit: string | null } & Record<
  string,
  unknown
>;

async function limitsOf(env: PlatformUnderTest, token: string) {
  const answer = await env.call('GET', '/v1/users/me/limits', { auth: token });
  assert.equal(answer.status, 200, answer.text);
  return answer.body as {
    limits: { scope: string; limit: string }[];
    changes: Change[];
    account: { dormant: boolean; reactivatedAt: string | null };
    scopes: string[];
  };
}

forEachDialect('the users\u2019 own limits (/v1/users/me/limits)', (dialect, it) => {
  it('lowers at once, raises or removes only with the password, and logs every change', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const ada = await newUser(env, 'ada@example.com');
    const profiles = env.platform.services.limitProfiles;
    const put = (body: Record<string, unknown>) =>
      env.call('PUT', '/v1/users/me/limits/content', { auth: ada.token, body });
    const fresh = await limitsOf(env, ada.token);
    assert.deepEqual(fresh.limits, []);
    assert.deepEqual(fresh.scopes, [
      'content',
      'goods',
      'resellable',
      'perPayment',
      'topUpMonthly',
    ]);
    assert.equal(fresh.account.dormant, false);
    assert.equal((await profiles.profileOf(ada.userId, Date.now())).userLimits.size, 0);

    const set = await put({ limit: '10' });
    assert.equal(set.status, 200, set.text);
    assert.equal((set.body?.change as Change).direction, 'lowered', 'setting where none was');
    assert.equal((await put({ limit: '5' })).status, 200);
    // Read through the profile right after each change: the cache must have been told.
    assert.equal(
      (await profiles.profileOf(ada.userId, Date.now())).userLimits.get('content'),
      5_000_000n,
    );

    const unconfirmed = await put({ limit: '8' });
    assert.equal(unconfirmed.status, 403, unconfirmed.text);
    assert.equal(unconfirmed.body?.type, '/v1/problems/confirmation-required');
    const wrong = await put({ limit: '8', password: 'not the passphrase' });
    assert.equal(wrong.status, 401, wrong.text);
    assert.equal((await limitsOf(env, ada.token)).limits[0]?.limit, '5.00', 'nothing changed');

    const raised = await put({ limit: '8', password });
    assert.equal(raised.status, 200, raised.text);
    assert.equal((raised.body?.change as Change).confirmedBy, 'password');
    assert.equal(
      (await profiles.profileOf(ada.userId, Date.now())).userLimits.get('content'),
      8_000_000n,
    );
    assert.equal((await put({ limit: '3' })).status, 200, 'a raised limit lowered again');
    assert.equal((await put({ limit: null })).status, 403, 'removing is raising');
    assert.equal((await put({ limit: null, password })).status, 200);
    assert.equal(
      (await profiles.profileOf(ada.userId, Date.now())).userLimits.has('content'),
      false,
    );
    assert.equal((await put({ limit: '0' })).status, 200, 'zero blocks the category');

    const after = await limitsOf(env, ada.token);
    assert.deepEqual(
      after.limits.map((limit) => [limit.scope, limit.limit]),
      [['content', '0.00']],
    );
    assert.deepEqual(
      after.changes.map((change) => [
        change.oldLimit,
        change.newLimit,
        change.direction,
        change.confirmedBy,
      ]),
      [
        [null, '0.00', 'lowered', 'none'],
        ['3.00', null, 'raised', 'password'],
        ['8.00', '3.00', 'lowered', 'none'],
        ['5.00', '8.00', 'raised', 'password'],
        ['10.00', '5.00', 'lowered', 'none'],
        [null, '10.00', 'lowered', 'none'],
      ],
    );
  });

  it('refuses unknown scopes and merchants, limits too large, and other callers', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const ada = await newUser(env, 'ada@example.com');
    const { merchantId, apiKey } = await createMerchantWithKey(env, { name: 'Daily News' });
    const put = (scope: string, body: Record<string, unknown>, auth = ada.token) =>
      env.call('PUT', `/v1/users/me/limits/${scope}`, { auth, body });
    const unknown = await put('jewellery', { limit: '1' });
    assert.equal(unknown.status, 400, unknown.text);
    assert.match(unknown.contentType, /problem\+json/);
    assert.equal(
      (await put('merchant:nobody', { limit: '1' })).body?.type,
      '/v1/problems/merchant-not-found',
    );
    const perMerchant = await put(`merchant:${merchantId}`, { limit: '2.50' });
    assert.equal(perMerchant.status, 200, perMerchant.text);
    const tooLarge = await put('perPayment', { limit: '1000000.000001' });
    assert.equal(tooLarge.status, 400, tooLarge.text);
    assert.match(String(tooLarge.body?.detail), /at most 1000000\.00/);
    assert.equal((await put('perPayment', { limit: -1 })).status, 400);
    assert.equal((await put('perPayment', { limit: '1', extra: 1 })).status, 400);
    assert.equal((await put('goods', { limit: '1' }, apiKey)).status, 403, 'a merchant key');
    assert.equal((await env.call('GET', '/v1/users/me/limits', { auth: env.admin })).status, 403);
    assert.equal((await env.call('GET', '/v1/users/me/limits')).status, 401);
    const forged = await env.call('PUT', '/v1/users/me/limits/goods', {
      body: { limit: '1' },
      headers: { cookie: `mite_session=${ada.token}`, 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(forged.status, 403, forged.text);
    const limits = await limitsOf(env, ada.token);
    assert.deepEqual(
      limits.limits.map((limit) => [limit.scope, limit.limit]),
      [[`merchant:${merchantId}`, '2.50']],
    );
  });

  it('judges two changes racing against the limit each replaced, so no raise goes unconfirmed', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const ada = await newUser(env, 'ada@example.com');
    const put = (limit: string, confirm?: string) =>
      env.call('PUT', '/v1/users/me/limits/goods', {
        auth: ada.token,
        body: { limit, ...(confirm === undefined ? {} : { password: confirm }) },
      });
    for (const round of [1, 2, 3]) {
      assert.equal((await put(String(10 * round), password)).status, 200);
      const [five, seven] = await Promise.all([put('5'), put('7')]);
      assert.equal(five.status, 200, five.text);
      // Seven first then five: both lowerings. Five first: seven is a raise, refused unconfirmed.
      assert.ok([200, 403].includes(seven.status), seven.text);
      const now = await limitsOf(env, ada.token);
      assert.equal(now.limits[0]?.limit, '5.00', `round ${round}`);
    }
    const { changes } = await limitsOf(env, ada.token);
    const oldestFirst = [...changes].reverse();
    for (const [index, change] of oldestFirst.entries()) {
      if (index > 0)
        assert.equal(change.oldLimit, oldestFirst[index - 1]?.newLimit, 'the log chains');
      assert.ok(change.direction === 'lowered' || change.confirmedBy === 'password');
    }
  });

  it('counts a top-up as use: it keeps an account from going dormant', async (t) => {
    let nowMs = Date.UTC(2026, 0, 1);
    const env = await startPlatformUnderTest(t, dialect, { clock: () => nowMs });
    const ada = await newUser(env, 'ada@example.com');
    nowMs += 20 * 24 * 60 * 60 * 1000;
    const card = { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' };
    const topUp = await env.call('POST', '/v1/topups', {
      auth: ada.token,
      body: { amount: '5.00', card },
    });
    assert.equal(topUp.status, 201, topUp.text);
    assert.equal(topUp.body?.state, 'succeeded', topUp.text);
    const toppedUpAt = nowMs;
    nowMs = Date.UTC(2026, 0, 1) + dormancyPeriodMs;
    const profiles = env.platform.services.limitProfiles;
    assert.equal(
      (await profiles.profileOf(ada.userId, nowMs)).dormant,
      false,
      'a year after sign-up',
    );
    nowMs = toppedUpAt + dormancyPeriodMs;
    assert.equal(
      (await profiles.profileOf(ada.userId, nowMs)).dormant,
      true,
      'a year after the top-up',
    );
  });

  it('makes an account unused for exactly a year dormant until re-enabled with the password', async (t) => {
    let nowMs = Date.UTC(2026, 0, 1);
    const env = await startPlatformUnderTest(t, dialect, { clock: () => nowMs });
    const ada = await newUser(env, 'ada@example.com');
    const profiles = env.platform.services.limitProfiles;
    nowMs += dormancyPeriodMs - 1;
    assert.equal((await profiles.profileOf(ada.userId, nowMs)).dormant, false, 'a moment before');
    nowMs += 1;
    assert.equal((await profiles.profileOf(ada.userId, nowMs)).dormant, true, 'a year to the ms');
    // The old session expired long ago; logging in again reaches the wallet but wakes nothing.
    const token = await logIn(env, 'ada@example.com');
    assert.equal((await limitsOf(env, token)).account.dormant, true);
    assert.equal((await profiles.profileOf(ada.userId, nowMs)).dormant, true);
    const wrong = await env.call('POST', '/v1/users/me/reactivation', {
      auth: token,
      body: { password: 'not the passphrase' },
    });
    assert.equal(wrong.status, 401, wrong.text);
    assert.equal((await profiles.profileOf(ada.userId, nowMs)).dormant, true);
    const woken = await env.call('POST', '/v1/users/me/reactivation', {
      auth: token,
      body: { password },
    });
    assert.equal(woken.status, 200, woken.text);
    assert.equal(woken.body?.dormant, false);
    assert.equal((await profiles.profileOf(ada.userId, nowMs)).dormant, false);
    const standing = await limitsOf(env, token);
    assert.equal(standing.account.reactivatedAt, new Date(nowMs).toISOString());
    // A log-in keeps an active account active: a year after it, not after sign-up.
    nowMs += dormancyPeriodMs / 2;
    await logIn(env, 'ada@example.com');
    nowMs += dormancyPeriodMs / 2 + 1;
    assert.equal((await profiles.profileOf(ada.userId, nowMs)).dormant, false);
  });
});
