import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import {
  type Answer,
  logInMerchantPerson,
  logInOperatorPerson,
  type PlatformUnderTest,
  startPlatformUnderTest,
} from '../platform-testing.ts';

const password = 'a long passphrase';

/** A browser's request: the cookies it holds, from the platform's own page. */
async function browserCall(
  env: PlatformUnderTest,
  method: string,
  path: string,
  cookies: readonly string[],
  body?: unknown,
  extraHeaders: Readonly<Record<string, string>> = {},
): Promise<Answer> {
  const headers: Record<string, string> = {
    cookie: cookies.join('; '),
    'sec-fetch-site': 'same-origin',
    ...extraHeaders,
  };
  if (method !== 'GET') headers['idempotency-key'] = `browser-${Math.random()}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${env.baseUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    text,
    body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
  };
}

/** Logs in over fetch and answers the cookie the platform set (`name=value`) and its attributes. */
async function cookieFrom(
  env: PlatformUnderTest,
  path: string,
  body: unknown,
): Promise<{ pair: string; attributes: string }> {
  const response = await fetch(`${env.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 201, await response.clone().text());
  const setCookie = response.headers.get('set-cookie') ?? '';
  const [pair = '', ...attributes] = setCookie.split(';').map((part) => part.trim());
  return { pair, attributes: attributes.join('; ') };
}

forEachDialect('merchant people and operator people', (dialect, it) => {
  it('a dashboard session acts as its merchant in its own cookie, and never as the wallet', async (t) => {
    const env = await startPlatformUnderTest(t, dialect, { backgroundJobs: false });
    const owner = await logInMerchantPerson(env, {
      email: 'owner@shop.example',
      merchantName: 'Corner Shop',
    });
    const other = await logInMerchantPerson(env, {
      email: 'other@shop.example',
      merchantName: 'Other Shop',
    });

    const me = await env.call('GET', '/v1/merchant-session', { auth: owner.token });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.body?.merchantName, 'Corner Shop');
    assert.equal(me.body?.role, 'owner');
    assert.equal(me.body?.email, 'owner@shop.example');
    assert.ok((me.body?.scopes as string[]).includes('members:write'));

    // Every merchant route takes it, for its own merchant only.
    const ownPayments = await env.call('GET', `/v1/merchants/${owner.merchantId}/payments`, {
      auth: owner.token,
    });
    assert.equal(ownPayments.status, 200, ownPayments.text);
    const othersPayments = await env.call('GET', `/v1/merchants/${other.merchantId}/payments`, {
      auth: owner.token,
    });
    assert.equal(othersPayments.status, 404, 'another merchant\u2019s data is not found');
    const offer = await env.call('POST', '/v1/offers', {
      auth: owner.token,
      body: {
        resource: '/a',
        title: 'A',
        price: '0.01',
        category: 'content',
        accessPeriodSeconds: 60,
      },
    });
    assert.equal(offer.status, 201, offer.text);
    assert.equal(offer.body?.merchantId, owner.merchantId);

    // It cannot spend or read the person's wallet, nor reach the console.
    assert.equal((await env.call('GET', '/v1/wallet', { auth: owner.token })).status, 403);
    assert.equal((await env.call('GET', '/v1/admin-keys', { auth: owner.token })).status, 403);
    // A wallet session of the same person is no dashboard session.
    const wallet = await env.call('POST', '/v1/sessions', {
      body: { email: 'owner@shop.example', password },
    });
    const walletToken = String(wallet.body?.token);
    assert.equal(
      (await env.call('GET', '/v1/merchant-session', { auth: walletToken })).status,
      403,
    );
    assert.equal((await env.call('GET', '/v1/wallet', { auth: walletToken })).status, 200);
    // An API key reaches merchant routes, but is no person.
    const key = await env.call('POST', `/v1/merchants/${owner.merchantId}/api-keys`, {
      auth: env.admin,
      body: { scopes: ['payments:read'] },
    });
    const keySecret = String(key.body?.secret);
    assert.equal((await env.call('GET', '/v1/merchant-session', { auth: keySecret })).status, 403);
  });

  it('a browser keeps a wallet and a dashboard cookie, and each route is sent its own', async (t) => {
    const env = await startPlatformUnderTest(t, dialect, { backgroundJobs: false });
    const owner = await logInMerchantPerson(env, {
      email: 'both@shop.example',
      merchantName: 'Both Shop',
    });
    const dashboard = await cookieFrom(env, '/v1/merchant-sessions', {
      email: 'both@shop.example',
      password,
    });
    assert.match(dashboard.pair, /^mite_merchant_session=/);
    assert.match(dashboard.attributes, /HttpOnly/);
    assert.match(dashboard.attributes, /Secure/);
    assert.match(dashboard.attributes, /SameSite=Lax/);
    const wallet = await cookieFrom(env, '/v1/sessions', { email: 'both@shop.example', password });
    assert.match(wallet.pair, /^mite_session=/);
    const cookies = [wallet.pair, dashboard.pair];

    const walletAnswer = await browserCall(env, 'GET', '/v1/wallet', cookies);
    assert.equal(walletAnswer.status, 200, walletAnswer.text);
    const me = await browserCall(env, 'GET', '/v1/merchant-session', cookies);
    assert.equal(me.status, 200, me.text);
    assert.equal(me.body?.merchantId, owner.merchantId);

    // A change made with the dashboard cookie must come from the platform's own pages.
    const crossSite = await fetch(`${env.baseUrl}/v1/offers`, {
      method: 'POST',
      headers: {
        cookie: dashboard.pair,
        'sec-fetch-site': 'cross-site',
        'content-type': 'application/json',
        'idempotency-key': 'cross-site-1',
      },
      body: JSON.stringify({
        resource: '/x',
        title: 'X',
        price: '0.01',
        category: 'content',
        accessPeriodSeconds: 0,
      }),
    });
    assert.equal(crossSite.status, 403);

    // Logging out of the dashboard leaves the wallet logged in.
    const out = await browserCall(env, 'DELETE', '/v1/merchant-sessions/current', cookies);
    assert.equal(out.status, 204);
    assert.equal((await browserCall(env, 'GET', '/v1/merchant-session', cookies)).status, 401);
    assert.equal((await browserCall(env, 'GET', '/v1/wallet', cookies)).status, 200);
  });

  it('signing up with an email that has an account needs its password, and adds a merchant to it', async (t) => {
    const env = await startPlatformUnderTest(t, dialect, { backgroundJobs: false });
    const signedUp = await env.call('POST', '/v1/users', {
      body: { email: 'reader@example.com', password },
    });
    assert.equal(signedUp.status, 201);
    const wrong = await env.call('POST', '/v1/merchant-signups', {
      body: { email: 'reader@example.com', password: 'not the password', merchantName: 'X' },
    });
    assert.equal(wrong.status, 401);
    const merchants = await env.platform.platformDb.db
      .selectFrom('merchants')
      .select('id')
      .execute();
    assert.equal(merchants.length, 0, 'a refused sign-up makes no merchant');

    const first = await env.call('POST', '/v1/merchant-signups', {
      body: { email: 'reader@example.com', password, merchantName: 'First' },
    });
    assert.equal(first.status, 201, first.text);
    assert.equal(first.body?.userId, signedUp.body?.userId);
    const second = await env.call('POST', '/v1/merchant-signups', {
      body: { email: 'reader@example.com', password, merchantName: 'Second' },
    });
    assert.equal(second.status, 201);
    const chosen = await env.call('POST', '/v1/merchant-sessions', {
      body: { email: 'reader@example.com', password, merchantId: second.body?.merchantId },
    });
    assert.equal(chosen.status, 201);
    assert.equal(chosen.body?.merchantId, second.body?.merchantId);
    assert.deepEqual(
      (chosen.body?.merchants as { name: string }[]).map((m) => m.name),
      ['First', 'Second'],
    );
    // Without a merchant: the first. With one the person is not a member of: refused.
    const byDefault = await env.call('POST', '/v1/merchant-sessions', {
      body: { email: 'reader@example.com', password },
    });
    assert.equal(byDefault.body?.merchantId, first.body?.merchantId);
    const stranger = await logInMerchantPerson(env, { email: 's@x.example', merchantName: 'S' });
    const notMine = await env.call('POST', '/v1/merchant-sessions', {
      body: { email: 'reader@example.com', password, merchantId: stranger.merchantId },
    });
    assert.equal(notMine.status, 403);
    // A person who runs no merchant cannot log in to a dashboard, as if the password were wrong.
    await env.call('POST', '/v1/users', { body: { email: 'nobody@example.com', password } });
    const nobody = await env.call('POST', '/v1/merchant-sessions', {
      body: { email: 'nobody@example.com', password },
    });
    assert.equal(nobody.status, 401);
  });

  it('an invitation makes one member once, with its role, and removing them ends their access', async (t) => {
    const env = await startPlatformUnderTest(t, dialect, { backgroundJobs: false });
    const owner = await logInMerchantPerson(env, {
      email: 'owner@team.example',
      merchantName: 'Team',
    });
    const invited = await env.call('POST', `/v1/merchants/${owner.merchantId}/invitations`, {
      auth: owner.token,
      body: { email: 'viewer@team.example', role: 'viewer' },
    });
    assert.equal(invited.status, 201, invited.text);
    const token = String(invited.body?.token);
    assert.equal(invited.body?.acceptPath, `/dashboard/accept/#token=${token}`);
    const stored = await env.platform.platformDb.db
      .selectFrom('merchant_invitations')
      .selectAll()
      .executeTakeFirstOrThrow();
    const storedText = Object.values(stored).map(String).join(' ');
    assert.ok(!storedText.includes(token), 'the token is stored only hashed');
    assert.ok(!storedText.includes('viewer@team'), 'the email only encrypted');

    // Two acceptances at once: exactly one makes a member.
    const answers = await Promise.all(
      [1, 2].map(() =>
        env.call('POST', '/v1/merchant-invitations/accept', { body: { token, password } }),
      ),
    );
    assert.deepEqual(answers.map((a) => a.status).sort(), [201, 404]);
    const viewerId = String(answers.find((a) => a.status === 201)?.body?.userId);

    const viewer = await env.call('POST', '/v1/merchant-sessions', {
      body: { email: 'viewer@team.example', password },
    });
    assert.equal(viewer.body?.role, 'viewer');
    const viewerToken = String(viewer.body?.token);
    const reads = await env.call('GET', `/v1/merchants/${owner.merchantId}/offers`, {
      auth: viewerToken,
    });
    assert.equal(reads.status, 200);
    const writes = await env.call('POST', '/v1/offers', {
      auth: viewerToken,
      body: {
        resource: '/v',
        title: 'V',
        price: '0.01',
        category: 'content',
        accessPeriodSeconds: 0,
      },
    });
    assert.equal(writes.status, 403);
    const invites = await env.call('POST', `/v1/merchants/${owner.merchantId}/invitations`, {
      auth: viewerToken,
      body: { email: 'more@team.example', role: 'owner' },
    });
    assert.equal(invites.status, 403, 'a viewer cannot invite');

    const members = await env.call('GET', `/v1/merchants/${owner.merchantId}/members`, {
      auth: owner.token,
    });
    assert.deepEqual(
      (members.body?.items as { email: string; role: string }[]).map((m) => [m.email, m.role]),
      [
        ['owner@team.example', 'owner'],
        ['viewer@team.example', 'viewer'],
      ],
    );
    const lastOwner = await env.call(
      'DELETE',
      `/v1/merchants/${owner.merchantId}/members/${owner.userId}`,
      { auth: owner.token },
    );
    assert.equal(lastOwner.status, 409);
    assert.equal(lastOwner.body?.type, '/v1/problems/last-owner');
    const removed = await env.call(
      'DELETE',
      `/v1/merchants/${owner.merchantId}/members/${viewerId}`,
      { auth: owner.token },
    );
    assert.equal(removed.status, 204, removed.text);
    // On this node at once (the role is read again, not kept in the session).
    const after = await env.call('GET', `/v1/merchants/${owner.merchantId}/offers`, {
      auth: viewerToken,
    });
    assert.equal(after.status, 401);
  });

  it('an operator person logs in to the console and acts as an operator; others cannot', async (t) => {
    const env = await startPlatformUnderTest(t, dialect, { backgroundJobs: false });
    const operator = await logInOperatorPerson(env);
    assert.equal(await env.platform.bootstrapOperator('again@example.com'), undefined);
    const keys = await env.call('GET', '/v1/admin-keys', { auth: operator.token });
    assert.equal(keys.status, 200, keys.text);
    // The operator invites a merchant's first owner.
    const merchant = await env.call('POST', '/v1/merchants', {
      auth: operator.token,
      body: { name: 'Invited Shop', feeBasisPoints: 100, payoutThreshold: '1.00' },
    });
    assert.equal(merchant.status, 201);
    const invited = await env.call(
      'POST',
      `/v1/merchants/${String(merchant.body?.merchantId)}/invitations`,
      { auth: operator.token, body: { email: 'founder@shop.example', role: 'owner' } },
    );
    assert.equal(invited.status, 201);
    // The console's session is not the operator's wallet, and a wallet person is no operator.
    assert.equal((await env.call('GET', '/v1/wallet', { auth: operator.token })).status, 403);
    await env.call('POST', '/v1/users', { body: { email: 'user@example.com', password } });
    const notOperator = await env.call('POST', '/v1/operator-sessions', {
      body: { email: 'user@example.com', password },
    });
    assert.equal(notOperator.status, 401);
    const wrongPassword = await env.call('POST', '/v1/operator-sessions', {
      body: { email: operator.email, password: 'wrong password!' },
    });
    assert.equal(wrongPassword.status, 401);
    // The operator's role revoked: their session stops at once on this node.
    await env.platform.platformDb.db
      .updateTable('operators')
      .set({ revoked_at: 1n })
      .where('user_id', '=', operator.userId)
      .execute();
    env.platform.services.staffPrincipals.forget(operator.userId);
    assert.equal((await env.call('GET', '/v1/admin-keys', { auth: operator.token })).status, 401);
  });

  it('a page names which of its cookies a route that takes several kinds should read', async (t) => {
    const env = await startPlatformUnderTest(t, dialect, { backgroundJobs: false });
    const shop = await logInMerchantPerson(env, {
      email: 'both@run.example',
      merchantName: 'Mine',
    });
    const other = await env.call('POST', '/v1/merchants', {
      auth: env.admin,
      body: { name: 'Theirs', feeBasisPoints: 100, payoutThreshold: '1.00' },
    });
    const otherId = String(other.body?.merchantId);
    const first = await env.platform.bootstrapOperator('both@run.example');
    assert.equal(first, undefined, 'the email has an account: no operator is made from it');
    await env.platform.services.operatorPeople.grant(shop.userId);
    const dashboard = await cookieFrom(env, '/v1/merchant-sessions', {
      email: 'both@run.example',
      password,
    });
    const console = await cookieFrom(env, '/v1/operator-sessions', {
      email: 'both@run.example',
      password,
    });
    const cookies = [dashboard.pair, console.pair];
    const invite = { email: 'owner@theirs.example', role: 'owner' };
    // The route takes merchants first: the dashboard's cookie speaks, for another merchant.
    const asMerchant = await browserCall(
      env,
      'POST',
      `/v1/merchants/${otherId}/invitations`,
      cookies,
      invite,
    );
    assert.equal(asMerchant.status, 403);
    const asOperator = await browserCall(
      env,
      'POST',
      `/v1/merchants/${otherId}/invitations`,
      cookies,
      invite,
      { 'mite-session-kind': 'operator' },
    );
    assert.equal(asOperator.status, 201, asOperator.text);
    // Naming a kind the route does not take changes nothing: the wallet cookie is not read here.
    const wallet = await cookieFrom(env, '/v1/sessions', { email: 'both@run.example', password });
    const walletOnly = await browserCall(
      env,
      'GET',
      '/v1/merchant-session',
      [wallet.pair],
      undefined,
      {
        'mite-session-kind': 'user',
      },
    );
    assert.equal(walletOnly.status, 401);
    assert.equal(shop.merchantId === otherId, false);
  });
});
