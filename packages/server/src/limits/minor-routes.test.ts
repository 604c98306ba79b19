import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import { type PlatformUnderTest, startPlatformUnderTest } from '../platform-testing.ts';

const password = 'a long enough passphrase';

async function newUser(env: PlatformUnderTest, email: string) {
  const credentials = { email, password };
  const signedUp = await env.call('POST', '/v1/users', { body: credentials });
  assert.equal(signedUp.status, 201, signedUp.text);
  const session = await env.call('POST', '/v1/sessions', { body: credentials });
  assert.equal(session.status, 201, session.text);
  return { userId: String(signedUp.body?.userId), token: String(session.body?.token) };
}

async function declare(env: PlatformUnderTest, token: string, birthDate: string) {
  return env.call('PUT', '/v1/users/me/birth-date', { auth: token, body: { birthDate } });
}

forEachDialect('minors: birth dates and guardians\u2019 consent', (dialect, it) => {
  it('turns a minor adult at midnight of the 19th birthday in the operator\u2019s zone', async (t) => {
    // 23:59:59.999 on 7 December 2026 in Seoul, which is 14:59:59.999 UTC.
    let nowMs = Date.UTC(2026, 11, 7, 14, 59, 59, 999);
    const env = await startPlatformUnderTest(t, dialect, {
      clock: () => nowMs,
      env: { MITE_TIME_ZONE: 'Asia/Seoul' },
    });
    const kim = await newUser(env, 'kim@example.com');
    const declared = await declare(env, kim.token, '2007-12-08');
    assert.equal(declared.status, 200, declared.text);
    assert.deepEqual(declared.body, { declared: true, minor: true, guardianConsent: null });
    assert.doesNotMatch(declared.text, /2007/, 'the birth date is not echoed');
    const profiles = env.platform.services.limitProfiles;
    assert.equal((await profiles.profileOf(kim.userId, nowMs)).minor, true, 'the day before');
    nowMs += 1;
    // Midnight in Seoul, still 7 December in UTC: an answer in UTC would say minor.
    assert.equal((await profiles.profileOf(kim.userId, nowMs)).minor, false, 'on the birthday');
    const status = await env.call('GET', '/v1/users/me/birth-date', { auth: kim.token });
    assert.equal(status.body?.minor, false, status.text);
  });

  it('takes a birth date once, and only a real one in the past', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const kim = await newUser(env, 'kim@example.com');
    const fresh = await env.call('GET', '/v1/users/me/birth-date', { auth: kim.token });
    assert.deepEqual(fresh.body, { declared: false, minor: false, guardianConsent: null });
    for (const wrong of ['2010-02-30', '07-12-2010', '2999-01-01', '1800-01-01', '2010-1-1']) {
      const refused = await declare(env, kim.token, wrong);
      assert.equal(refused.status, 400, `${wrong}: ${refused.text}`);
      assert.match(refused.contentType, /problem\+json/);
    }
    assert.equal((await declare(env, kim.token, '2015-06-01')).status, 200);
    const again = await declare(env, kim.token, '1990-06-01');
    assert.equal(again.status, 409, again.text);
    assert.equal(again.body?.type, '/v1/problems/birth-date-declared');
    const profile = await env.platform.services.limitProfiles.profileOf(kim.userId, Date.now());
    assert.equal(profile.minor, true, 'a minor cannot declare themselves adult');
    const stored = await env.platform.platformDb.db
      .selectFrom('users')
      .select('birth_date_ciphertext')
      .where('id', '=', kim.userId)
      .executeTakeFirstOrThrow();
    assert.doesNotMatch(String(stored.birth_date_ciphertext), /2015/, 'sealed, not in the clear');
    assert.equal(
      (await env.call('GET', '/v1/users/me/birth-date', { auth: env.admin })).status,
      403,
    );
  });

  it('stores one of two declarations or requests racing, and refuses the other', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const kim = await newUser(env, 'kim@example.com');
    const mum = await newUser(env, 'mum@example.com');
    const dad = await newUser(env, 'dad@example.com');
    const declarations = await Promise.all([
      declare(env, kim.token, '2014-03-01'),
      declare(env, kim.token, '2013-03-01'),
    ]);
    assert.deepEqual(declarations.map((answer) => answer.status).sort(), [200, 409]);
    const exported = await env.call('GET', '/v1/users/me/export', { auth: kim.token });
    const users = (exported.body?.sections as Record<string, Record<string, unknown>[]>).users;
    assert.ok(['2014-03-01', '2013-03-01'].includes(String(users?.[0]?.birth_date)));
    for (const guardian of [mum, dad]) {
      assert.equal((await declare(env, guardian.token, '1980-03-01')).status, 200);
    }
    const requests = await Promise.all(
      ['mum@example.com', 'dad@example.com'].map((guardianEmail) =>
        env.call('POST', '/v1/users/me/guardian-consent', {
          auth: kim.token,
          body: { guardianEmail },
        }),
      ),
    );
    assert.deepEqual(requests.map((answer) => answer.status).sort(), [200, 409]);
    const listed = await Promise.all(
      [mum, dad].map((guardian) =>
        env.call('GET', '/v1/users/me/guardian-requests', { auth: guardian.token }),
      ),
    );
    const open = listed.flatMap((answer) => answer.body?.requests as unknown[]);
    assert.equal(open.length, 1, 'one open request per minor');
  });

  it('lets a minor ask an adult guardian, who grants with the password and withdraws', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const kim = await newUser(env, 'kim@example.com');
    const mum = await newUser(env, 'mum@example.com');
    const other = await newUser(env, 'other@example.com');
    const profiles = env.platform.services.limitProfiles;
    const ask = (guardianEmail: string, token = kim.token) =>
      env.call('POST', '/v1/users/me/guardian-consent', { auth: token, body: { guardianEmail } });
    assert.equal(
      (await ask('mum@example.com')).body?.type,
      '/v1/problems/guardian-consent-not-needed',
    );
    assert.equal((await declare(env, kim.token, '2014-03-01')).status, 200);
    for (const email of ['nobody@example.com', 'mum@example.com', 'kim@example.com']) {
      const refused = await ask(email);
      assert.equal(refused.status, 422, `${email}: ${refused.text}`);
      assert.equal(refused.body?.type, '/v1/problems/guardian-not-eligible');
    }
    assert.equal((await declare(env, mum.token, '1980-03-01')).status, 200);
    const asked = await ask('MUM@example.com');
    assert.equal(asked.status, 200, asked.text);
    assert.equal((asked.body?.guardianConsent as { state: string }).state, 'requested');
    assert.doesNotMatch(asked.text, /mum@/, 'the guardian is not named back');
    assert.equal((await ask('mum@example.com')).body?.type, '/v1/problems/guardian-request-open');
    assert.equal((await profiles.profileOf(kim.userId, Date.now())).guardianConsented, false);

    const listed = await env.call('GET', '/v1/users/me/guardian-requests', { auth: mum.token });
    const requests = listed.body?.requests as { id: string; minorEmail: string; state: string }[];
    assert.deepEqual(
      requests.map((r) => [r.minorEmail, r.state]),
      [['kim@example.com', 'requested']],
    );
    const id = String(requests[0]?.id);
    const grant = (token: string, body: Record<string, unknown>) =>
      env.call('POST', `/v1/users/me/guardian-requests/${id}/grant`, { auth: token, body });
    assert.equal((await grant(other.token, { password })).status, 404, 'not their request');
    assert.equal((await grant(mum.token, { password: 'not the passphrase' })).status, 401);
    assert.equal((await grant(mum.token, {})).status, 400);
    assert.equal((await profiles.profileOf(kim.userId, Date.now())).guardianConsented, false);
    const granted = await grant(mum.token, { password });
    assert.equal(granted.status, 200, granted.text);
    assert.equal((await profiles.profileOf(kim.userId, Date.now())).guardianConsented, true);
    const kimSees = await env.call('GET', '/v1/users/me/birth-date', { auth: kim.token });
    assert.equal((kimSees.body?.guardianConsent as { state: string }).state, 'granted');

    const withdrawn = await env.call('POST', `/v1/users/me/guardian-requests/${id}/withdraw`, {
      auth: mum.token,
    });
    assert.equal(withdrawn.status, 200, withdrawn.text);
    assert.deepEqual(withdrawn.body?.requests, []);
    assert.equal((await profiles.profileOf(kim.userId, Date.now())).guardianConsented, false);
    assert.equal((await ask('mum@example.com')).status, 200, 'asked again once withdrawn');
  });

  it('exports the settings, and erasure removes them and ends the consents given', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const kim = await newUser(env, 'kim@example.com');
    const mum = await newUser(env, 'mum@example.com');
    assert.equal((await declare(env, kim.token, '2014-03-01')).status, 200);
    assert.equal((await declare(env, mum.token, '1980-03-01')).status, 200);
    const asked = await env.call('POST', '/v1/users/me/guardian-consent', {
      auth: kim.token,
      body: { guardianEmail: 'mum@example.com' },
    });
    assert.equal(asked.status, 200, asked.text);
    const id = String((asked.body?.guardianConsent as { id: string }).id);
    const granted = await env.call('POST', `/v1/users/me/guardian-requests/${id}/grant`, {
      auth: mum.token,
      body: { password },
    });
    assert.equal(granted.status, 200, granted.text);
    const limit = await env.call('PUT', '/v1/users/me/limits/goods', {
      auth: kim.token,
      body: { limit: '3' },
    });
    assert.equal(limit.status, 200, limit.text);

    const exported = await env.call('GET', '/v1/users/me/export', { auth: kim.token });
    const sections = exported.body?.sections as Record<string, Record<string, unknown>[]>;
    assert.equal(sections.users?.[0]?.birth_date, '2014-03-01');
    assert.deepEqual(
      sections.user_limits?.map((row) => [row.scope, row.limit]),
      [['goods', '3.00']],
    );
    assert.deepEqual(
      sections.limit_changes?.map((row) => [row.new_limit, row.direction]),
      [['3.00', 'lowered']],
    );
    assert.deepEqual(
      sections.guardian_consents?.map((row) => [row.role, row.state]),
      [['minor', 'granted']],
    );
    const mums = await env.call('GET', '/v1/users/me/export', { auth: mum.token });
    const mumSections = mums.body?.sections as Record<string, Record<string, unknown>[]>;
    assert.deepEqual(
      mumSections.guardian_consents?.map((row) => row.role),
      ['guardian'],
    );
    assert.doesNotMatch(mums.text, /2014-03-01/, 'the minor\u2019s birth date is theirs');
    assert.doesNotMatch(mums.text, new RegExp(kim.userId), 'nor is the minor\u2019s id');

    const profiles = env.platform.services.limitProfiles;
    assert.equal((await profiles.profileOf(kim.userId, Date.now())).guardianConsented, true);
    const mumGone = await env.call('POST', '/v1/users/me/erasure', {
      auth: mum.token,
      body: { password },
    });
    assert.equal(mumGone.status, 200, mumGone.text);
    assert.equal((await profiles.profileOf(kim.userId, Date.now())).guardianConsented, false);
    const kimGone = await env.call('POST', '/v1/users/me/erasure', {
      auth: kim.token,
      body: { password },
    });
    assert.equal(kimGone.status, 200, kimGone.text);
    const { db } = env.platform.platformDb;
    for (const table of ['user_limits', 'limit_changes'] as const) {
      const rows = await db
        .selectFrom(table)
        .select('user_id')
        .where('user_id', '=', kim.userId)
        .execute();
      assert.deepEqual(rows, [], table);
    }
    const consents = await db.selectFrom('guardian_consents').select('id').execute();
    assert.deepEqual(consents, []);
    const user = await db
      .selectFrom('users')
      .select('birth_date_ciphertext')
      .where('id', '=', kim.userId)
      .executeTakeFirstOrThrow();
    assert.equal(user.birth_date_ciphertext, null);
    const profile = await profiles.profileOf(kim.userId, Date.now());
    assert.deepEqual([profile.minor, profile.userLimits.size], [false, 0]);
  });
});
