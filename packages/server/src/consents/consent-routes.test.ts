import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import { setUpShop, startPlatformUnderTest } from '../platform-testing.ts';
import { currentConsentText } from './consent-texts.ts';

const site = 'https://news.example';

forEachDialect('the consent routes', (dialect, it) => {
  it('grants, lists, revokes in one call and keeps both in the history with their text versions', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const shop = await setUpShop(env);
    const version = currentConsentText('autoPay').version;
    const empty = await env.call('GET', '/v1/consents', { auth: shop.user });
    assert.equal(empty.status, 200, empty.text);
    assert.deepEqual(empty.body?.consents, []);
    const texts = empty.body?.texts as { purpose: string; version: string }[];
    assert.deepEqual(
      texts.map((text) => text.purpose),
      ['autoPay', 'shareEmail', 'suggestions'],
    );
    assert.equal(texts[0]?.version, version);

    const body = { purpose: 'autoPay', scope: site, textVersion: version };
    const granted = await env.call('POST', '/v1/consents', { auth: shop.user, body });
    assert.equal(granted.status, 200, granted.text);
    assert.equal(granted.body?.active, true);
    assert.equal(granted.body?.textVersion, version);
    assert.match(String(granted.body?.grantedAt), /^\d{4}-\d\d-\d\dT/);
    const again = await env.call('POST', '/v1/consents', { auth: shop.user, body });
    assert.equal(again.body?.id, granted.body?.id, 'granting an active consent changes nothing');
    const listed = await env.call('GET', '/v1/consents', { auth: shop.user });
    assert.deepEqual(
      (listed.body?.consents as { id: string }[]).map((consent) => consent.id),
      [granted.body?.id],
    );

    const id = String(granted.body?.id);
    const revoked = await env.call('DELETE', `/v1/consents/${id}`, { auth: shop.user });
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal(revoked.body?.active, false);
    assert.equal(revoked.body?.revokedTextVersion, version);
    assert.match(String(revoked.body?.revokedAt), /^\d{4}-\d\d-\d\dT/);
    const twice = await env.call('DELETE', `/v1/consents/${id}`, { auth: shop.user });
    assert.equal(twice.body?.revokedAt, revoked.body?.revokedAt, 'a revoke keeps its time');
    assert.deepEqual(
      (await env.call('GET', '/v1/consents', { auth: shop.user })).body?.consents,
      [],
    );

    const regranted = await env.call('POST', '/v1/consents', { auth: shop.user, body });
    assert.notEqual(regranted.body?.id, id, 'a new grant is a new record');
    const history = await env.call('GET', '/v1/consents/history?limit=1', { auth: shop.user });
    assert.equal(history.status, 200, history.text);
    const first = history.body?.items as { id: string }[];
    assert.deepEqual(
      first.map((item) => item.id),
      [regranted.body?.id],
    );
    const cursor = encodeURIComponent(String(history.body?.nextCursor));
    const rest = await env.call('GET', `/v1/consents/history?limit=1&cursor=${cursor}`, {
      auth: shop.user,
    });
    assert.deepEqual(rest.body?.items, [revoked.body]);
    assert.equal(rest.body?.nextCursor, null);
  });

  it('refuses a scope that does not fit the purpose, an old text, and an unknown merchant', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const shop = await setUpShop(env);
    const refusals: [Record<string, unknown>, number, string][] = [
      [{ purpose: 'autoPay', scope: 'news.example' }, 400, 'validation-failed'],
      [{ purpose: 'autoPay', scope: 'http://news.example' }, 400, 'validation-failed'],
      [{ purpose: 'autoPay', scope: `${site}/path` }, 400, 'validation-failed'],
      [{ purpose: 'suggestions', scope: shop.merchantId }, 400, 'validation-failed'],
      [{ purpose: 'shareEmail', scope: 'mer_nobody' }, 404, 'merchant-not-found'],
      [{ purpose: 'tracking', scope: 'all' }, 400, 'validation-failed'],
    ];
    for (const [fields, status, type] of refusals) {
      const purpose = String(fields.purpose);
      const textVersion =
        purpose === 'tracking' ? 'x' : currentConsentText(purpose as 'autoPay').version;
      const refused = await env.call('POST', '/v1/consents', {
        auth: shop.user,
        body: { ...fields, textVersion },
      });
      assert.equal(refused.status, status, `${JSON.stringify(fields)}: ${refused.text}`);
      assert.equal(refused.body?.type, `/v1/problems/${type}`);
    }
    const stale = await env.call('POST', '/v1/consents', {
      auth: shop.user,
      body: { purpose: 'suggestions', scope: 'all', textVersion: 'suggestions-2020-01-01' },
    });
    assert.equal(stale.status, 409, stale.text);
    assert.equal(stale.body?.type, '/v1/problems/consent-text-changed');
    const history = await env.call('GET', '/v1/consents/history', { auth: shop.user });
    assert.deepEqual(history.body?.items, [], 'nothing refused was recorded');
  });

  it('lets only the user see and revoke their consents', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const shop = await setUpShop(env);
    const body = {
      purpose: 'suggestions',
      scope: 'all',
      textVersion: currentConsentText('suggestions').version,
    };
    const granted = await env.call('POST', '/v1/consents', { auth: shop.user, body });
    const other = { email: 'bo@example.com', password: 'a long enough passphrase' };
    await env.call('POST', '/v1/users', { body: other });
    const bo = String((await env.call('POST', '/v1/sessions', { body: other })).body?.token);
    const id = String(granted.body?.id);
    const stolen = await env.call('DELETE', `/v1/consents/${id}`, { auth: bo });
    assert.equal(stolen.status, 404, stolen.text);
    assert.equal(stolen.body?.type, '/v1/problems/consent-not-found');
    assert.deepEqual((await env.call('GET', '/v1/consents', { auth: bo })).body?.consents, []);
    for (const auth of [shop.apiKey, env.admin]) {
      assert.equal((await env.call('GET', '/v1/consents', { auth })).status, 403);
      assert.equal((await env.call('DELETE', `/v1/consents/${id}`, { auth })).status, 403);
      assert.equal((await env.call('POST', '/v1/consents', { auth, body })).status, 403);
    }
    assert.equal((await env.call('GET', '/v1/consents/history')).status, 401);
    const forged = await env.call('DELETE', `/v1/consents/${id}`, {
      headers: { cookie: `mite_session=${shop.user}`, 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(forged.status, 403, 'a revoke from another site is refused');
    const listed = await env.call('GET', '/v1/consents', { auth: shop.user });
    assert.equal((listed.body?.consents as unknown[]).length, 1, 'still active');
  });
});
