/**
 * `DELETE /v1/sessions`: log out everywhere. Every session of the user ends at once, including
 * those the authenticator holds in its cache of valid sessions, and nobody else's.
 */
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { forEachDialect } from '../db/testing.ts';
import { type PlatformUnderTest, startPlatformUnderTest } from '../platform-testing.ts';
import { hashSecret } from './secrets.ts';

const ada = { email: 'ada@example.com', password: 'a long enough passphrase' };
const bo = { email: 'bo@example.com', password: 'another long passphrase' };

async function logIn(env: PlatformUnderTest, credentials: typeof ada): Promise<string> {
  const session = await env.call('POST', '/v1/sessions', { body: credentials });
  assert.equal(session.status, 201, session.text);
  return String(session.body?.token);
}

forEachDialect('DELETE /v1/sessions (log out everywhere)', (dialect, it) => {
  it('ends every session of the user at once, cached ones too, and no one else\u2019s', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    for (const user of [ada, bo]) {
      assert.equal((await env.call('POST', '/v1/users', { body: user })).status, 201);
    }
    const [laptop, phone, tablet] = [
      await logIn(env, ada),
      await logIn(env, ada),
      await logIn(env, ada),
    ];
    const other = await logIn(env, bo);
    // Each is used once, so that the authenticator caches it as valid.
    for (const token of [laptop, phone, tablet, other]) {
      assert.equal((await env.call('GET', '/v1/wallet', { auth: token })).status, 200);
    }
    // Behind the service's back, the tablet's row is revoked: the cache still takes it, which
    // shows that the cache is in play for the tokens this test checks.
    await sql`update sessions set revoked_at = 1 where token_hash = ${hashSecret(tablet)}`.execute(
      env.platform.platformDb.db,
    );
    assert.equal((await env.call('GET', '/v1/wallet', { auth: tablet })).status, 200);

    const everywhere = await env.call('DELETE', '/v1/sessions', { auth: laptop });
    assert.equal(everywhere.status, 200, everywhere.text);
    assert.deepEqual(everywhere.body, { sessionsEnded: 2 }, 'the laptop and the phone were live');
    for (const token of [laptop, phone, tablet]) {
      const refused = await env.call('GET', '/v1/wallet', { auth: token });
      assert.equal(refused.status, 401, refused.text);
    }
    assert.equal((await env.call('GET', '/v1/wallet', { auth: other })).status, 200);
    const again = await logIn(env, ada);
    assert.equal((await env.call('GET', '/v1/wallet', { auth: again })).status, 200);
  });

  it('clears the session cookie, and takes the cookie only from the platform\u2019s own pages', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    assert.equal((await env.call('POST', '/v1/users', { body: ada })).status, 201);
    const token = await logIn(env, ada);
    const cookie = `mite_session=${token}`;
    const forged = await env.call('DELETE', '/v1/sessions', {
      headers: { cookie, 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(forged.status, 403, forged.text);
    assert.equal((await env.call('GET', '/v1/wallet', { auth: token })).status, 200);

    const response = await fetch(`${env.baseUrl}/v1/sessions`, {
      method: 'DELETE',
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('set-cookie') ?? '', /^mite_session=; .*Max-Age=0/);
    assert.equal((await env.call('GET', '/v1/wallet', { auth: token })).status, 401);
    const merchant = await env.call('DELETE', '/v1/sessions', { auth: env.admin });
    assert.equal(merchant.status, 403, 'only users have sessions');
  });
});
