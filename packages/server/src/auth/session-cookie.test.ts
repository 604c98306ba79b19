/**
 * The wallet app's session cookie: its attributes, and the cross-site request forgery check on
 * every change it authenticates (http/cross-site-requests.ts).
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { sandboxCards } from '../funding/sandbox-provider.ts';
import { startPlatformUnderTest } from '../platform-testing.ts';

const credentials = { email: 'cookie@example.com', password: 'correct horse battery' };
const topUpBody = {
  amount: '5.00',
  card: { number: sandboxCards.succeeds, expMonth: 12, expYear: 2039, cvc: '123' },
};

async function loggedIn(t: TestContext) {
  const env = await startPlatformUnderTest(t, 'sqlite');
  assert.equal((await env.call('POST', '/v1/users', { body: credentials })).status, 201);
  const session = await fetch(`${env.baseUrl}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(credentials),
  });
  assert.equal(session.status, 201);
  const setCookie = session.headers.get('set-cookie') ?? '';
  const { token } = (await session.json()) as { token: string };
  return { env, setCookie, token, cookie: `mite_session=${token}` };
}

describe('session cookie', () => {
  it('is HttpOnly, Secure and SameSite=Lax, for the whole origin, and cleared at log-out', async (t) => {
    const { env, setCookie, cookie } = await loggedIn(t);
    const attributes = setCookie.split(';').map((part) => part.trim());
    assert.match(attributes[0] ?? '', /^mite_session=\S+$/);
    for (const wanted of ['HttpOnly', 'Secure', 'SameSite=Lax', 'Path=/']) {
      assert.ok(attributes.includes(wanted), `${wanted} in ${setCookie}`);
    }
    assert.ok(Number(/Max-Age=(\d+)/.exec(setCookie)?.[1]) > 0);
    const out = await env.call('DELETE', '/v1/sessions/current', {
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(out.status, 204);
    assert.equal((await env.call('GET', '/v1/wallet', { headers: { cookie } })).status, 401);
  });

  it('authenticates a change only when the browser says it comes from the platform\u2019s own pages', async (t) => {
    const { env, cookie, token } = await loggedIn(t);
    const topUp = (headers: Record<string, string>) =>
      env.call('POST', '/v1/topups', { body: topUpBody, headers: { cookie, ...headers } });
    const refusals = [
      { 'sec-fetch-site': 'cross-site' },
      // Another port of the same host is the same site: SameSite lets the cookie through.
      { 'sec-fetch-site': 'same-site' },
      { origin: 'http://127.0.0.1:1' },
      { origin: 'null' },
      {},
    ];
    for (const headers of refusals) {
      const refused = await topUp(headers);
      assert.equal(refused.status, 403, JSON.stringify(headers));
      assert.match(String(refused.body?.detail), /platform\u2019s own pages/);
    }
    const wallet = async () =>
      (await env.call('GET', '/v1/wallet', { headers: { cookie, 'sec-fetch-site': 'cross-site' } }))
        .body?.balance;
    assert.equal(await wallet(), '0.00', 'reading needs no check, and nothing was added');

    assert.equal((await topUp({ 'sec-fetch-site': 'same-origin' })).status, 201);
    assert.equal((await topUp({ origin: env.baseUrl })).status, 201);
    // A program's bearer token is not sent by a browser on its own: no check.
    assert.equal(
      (await env.call('POST', '/v1/topups', { auth: token, body: topUpBody })).status,
      201,
    );
    assert.equal(await wallet(), '15.00');

    const crossSiteLogOut = await env.call('DELETE', '/v1/sessions/current', {
      headers: { cookie, 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(crossSiteLogOut.status, 403);
    assert.equal((await env.call('GET', '/v1/wallet', { headers: { cookie } })).status, 200);
  });
});
