import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import { type PlatformUnderTest, startPlatformUnderTest } from '../platform-testing.ts';

async function newUser(env: PlatformUnderTest, email: string): Promise<string> {
  const credentials = { email, password: 'a long enough passphrase' };
  assert.equal((await env.call('POST', '/v1/users', { body: credentials })).status, 201);
  const session = await env.call('POST', '/v1/sessions', { body: credentials });
  assert.equal(session.status, 201, session.text);
  return String(session.body?.token);
}

const maximums = { maxPerPayment: '100.00', maxPerOriginPerDay: '1000.00', maxTotal: '100000.00' };

forEachDialect('GET and PUT /v1/wallet/budget', (dialect, it) => {
  it('answers the defaults until a budget is saved, then the saved one, per user', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const ada = await newUser(env, 'ada@example.com');
    const bo = await newUser(env, 'bo@example.com');
    const fresh = await env.call('GET', '/v1/wallet/budget', { auth: ada });
    assert.equal(fresh.status, 200, fresh.text);
    assert.deepEqual(fresh.body, {
      maxPerPayment: '1.00',
      maxPerOriginPerDay: '5.00',
      maxTotal: '20.00',
      approveAbove: '0.50',
      currency: 'USD',
      updatedAt: null,
      maximums,
    });

    const budget = {
      maxPerPayment: '0.25',
      maxPerOriginPerDay: '2.5',
      maxTotal: '100000',
      approveAbove: '0',
    };
    const saved = await env.call('PUT', '/v1/wallet/budget', { auth: ada, body: budget });
    assert.equal(saved.status, 200, saved.text);
    const expected = {
      maxPerPayment: '0.25',
      maxPerOriginPerDay: '2.50',
      maxTotal: '100000.00',
      approveAbove: '0.00',
      currency: 'USD',
      maximums,
    };
    assert.deepEqual(
      { ...saved.body, updatedAt: undefined },
      { ...expected, updatedAt: undefined },
    );
    assert.match(String(saved.body?.updatedAt), /^\d{4}-\d\d-\d\dT/);
    const read = await env.call('GET', '/v1/wallet/budget', { auth: ada });
    assert.deepEqual(read.body, saved.body);
    const again = await env.call('PUT', '/v1/wallet/budget', {
      auth: ada,
      body: { ...budget, maxTotal: '30' },
    });
    assert.equal(again.body?.maxTotal, '30.00', 'a second save replaces the first');
    assert.equal((await env.call('GET', '/v1/wallet/budget', { auth: bo })).body?.updatedAt, null);
    const merchant = await env.call('GET', '/v1/wallet/budget', { auth: env.admin });
    assert.equal(merchant.status, 403, 'an operator has no wallet budget');
    assert.equal((await env.call('GET', '/v1/wallet/budget')).status, 401);
  });

  it('refuses a budget that makes no sense with a problem saying why, and keeps the old one', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const ada = await newUser(env, 'ada@example.com');
    const valid = {
      maxPerPayment: '1.00',
      maxPerOriginPerDay: '5.00',
      maxTotal: '20.00',
      approveAbove: '0.50',
    };
    const refusals: [Record<string, unknown>, RegExp][] = [
      [
        { ...valid, approveAbove: '1.01' },
        /ask above cannot be more than the limit per payment \(1\.00\)/,
      ],
      [{ ...valid, maxPerPayment: '100.000001' }, /limit per payment can be at most 100\.00/],
      [{ ...valid, maxPerOriginPerDay: '1000.01' }, /per site per day can be at most 1000\.00/],
      [{ ...valid, maxTotal: '100001' }, /total limit can be at most 100000\.00/],
      [{ ...valid, maxTotal: '-1' }, /maxTotal/],
      [{ ...valid, maxPerPayment: '0.0000001' }, /maxPerPayment/],
      [{ ...valid, maxPerPayment: 1 }, /maxPerPayment/],
      [{ maxPerPayment: '1.00' }, /maxTotal/],
      [{ ...valid, extra: '1' }, /extra/],
    ];
    for (const [body, detail] of refusals) {
      const refused = await env.call('PUT', '/v1/wallet/budget', { auth: ada, body });
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.match(refused.contentType, /^application\/problem\+json/);
      assert.equal(refused.body?.type, '/v1/problems/validation-failed');
      assert.match(String(refused.body?.detail), detail, refused.text);
    }
    const kept = await env.call('GET', '/v1/wallet/budget', { auth: ada });
    assert.equal(kept.body?.updatedAt, null, 'nothing was saved');
  });

  it('takes a change by the session cookie only from the platform\u2019s own pages', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const ada = await newUser(env, 'ada@example.com');
    const body = { maxPerPayment: '2', maxPerOriginPerDay: '5', maxTotal: '9', approveAbove: '1' };
    const cookie = `mite_session=${ada}`;
    const forged = await env.call('PUT', '/v1/wallet/budget', {
      body,
      headers: { cookie, 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(forged.status, 403, forged.text);
    const own = await env.call('PUT', '/v1/wallet/budget', {
      body,
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(own.status, 200, own.text);
    assert.equal(own.body?.maxTotal, '9.00');
  });
});
