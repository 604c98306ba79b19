import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { challengeEcho, chargeRequest, issueChallenge } from '@mite/protocol';
import { forEachDialect } from '../db/testing.ts';
import {
  type PlatformUnderTest,
  type Shop,
  setUpShop,
  startPlatformUnderTest,
} from '../platform-testing.ts';
import { currentConsentText } from './consent-texts.ts';

const site = 'https://news.example';
const secret = randomBytes(32);

function challengeAt(merchantId: string, resource: string) {
  const request = chargeRequest({
    amountMicros: 20_000n,
    currency: 'USD',
    recipient: merchantId,
    resource,
    platform: 'http://127.0.0.1:8080',
    accessPeriodSeconds: 86_400,
  });
  const challenge = issueChallenge({
    secret,
    realm: 'news.example',
    request,
    expiresAtSeconds: Math.floor(Date.now() / 1000) + 300,
  });
  return challengeEcho(challenge);
}

async function grant(
  env: PlatformUnderTest,
  shop: Shop,
  purpose: 'shareEmail' | 'suggestions' | 'autoPay',
  scope: string,
): Promise<string> {
  const textVersion = currentConsentText(purpose).version;
  const granted = await env.call('POST', '/v1/consents', {
    auth: shop.user,
    body: { purpose, scope, textVersion },
  });
  assert.equal(granted.status, 200, granted.text);
  return String(granted.body?.id);
}

async function revoke(env: PlatformUnderTest, shop: Shop, id: string): Promise<void> {
  const revoked = await env.call('DELETE', `/v1/consents/${id}`, { auth: shop.user });
  assert.equal(revoked.status, 200, revoked.text);
}

forEachDialect('consents enforced where the data is used', (dialect, it) => {
  it('takes an automatic payment only while the site\u2019s autoPay consent is active', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const shop = await setUpShop(env);
    const automatic = (resource: string, onSite = site) =>
      env.call('POST', '/v1/payments', {
        auth: shop.user,
        body: { challenge: challengeAt(shop.merchantId, resource), automatic: { site: onSite } },
      });
    const before = await automatic(`${site}/articles/1`);
    assert.equal(before.status, 403, before.text);
    assert.equal(before.body?.type, '/v1/problems/consent-required');
    assert.match(String(before.body?.detail), /news\.example/);

    const id = await grant(env, shop, 'autoPay', site);
    const allowedBody = {
      challenge: challengeAt(shop.merchantId, `${site}/articles/2`),
      automatic: { site },
    };
    const retryable = {
      auth: shop.user,
      body: allowedBody,
      headers: { 'idempotency-key': 'auto-1' },
    };
    const allowed = await env.call('POST', '/v1/payments', retryable);
    assert.equal(allowed.status, 201, allowed.text);
    const elsewhere = await automatic('https://other.example/articles/3', 'https://other.example');
    assert.equal(elsewhere.status, 403, 'the consent is for one site only');
    const lying = await automatic('https://other.example/articles/3');
    assert.equal(lying.status, 400, 'a resource on another site is not this site\u2019s');
    const notOrigin = await automatic(`${site}/articles/4`, `${site}/articles`);
    assert.equal(notOrigin.status, 400, notOrigin.text);

    await revoke(env, shop, id);
    const after = await automatic(`${site}/articles/5`);
    assert.equal(after.status, 403, 'the revoke holds from the next payment');
    assert.equal(after.body?.type, '/v1/problems/consent-required');
    const retried = await env.call('POST', '/v1/payments', retryable);
    assert.equal(
      retried.status,
      201,
      'a retry of a payment made before the revoke gets its answer',
    );
    assert.equal(retried.body?.paymentId, allowed.body?.paymentId);
    const asked = await env.call('POST', '/v1/payments', {
      auth: shop.user,
      body: { challenge: challengeAt(shop.merchantId, `${site}/articles/5`) },
    });
    assert.equal(asked.status, 201, 'a payment the person confirms needs no consent');
  });

  it('shows a merchant the customer\u2019s email only while they share it with that merchant', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const shop = await setUpShop(env);
    const payment = await env.call('GET', `/v1/payments/${shop.paymentId}`, { auth: shop.apiKey });
    const pseudonym = String(payment.body?.payer);
    const path = `/v1/merchants/${shop.merchantId}/customers/${pseudonym}`;
    const unshared = await env.call('GET', path, { auth: shop.apiKey });
    assert.equal(unshared.status, 200, unshared.text);
    assert.deepEqual(unshared.body, { pseudonym, email: null, emailShared: false });

    const id = await grant(env, shop, 'shareEmail', shop.merchantId);
    const shared = await env.call('GET', path, { auth: shop.apiKey });
    assert.deepEqual(shared.body, { pseudonym, email: 'ada@example.com', emailShared: true });

    const other = await env.call('POST', '/v1/merchants', {
      auth: env.admin,
      body: { name: 'Other', feeBasisPoints: 0, payoutThreshold: '10.00' },
    });
    const otherId = String(other.body?.merchantId);
    const key = await env.call('POST', `/v1/merchants/${otherId}/api-keys`, {
      auth: env.admin,
      body: { scopes: ['customers:read'] },
    });
    const otherKey = String(key.body?.secret);
    const across = await env.call('GET', path, { auth: otherKey });
    assert.equal(across.status, 404, 'another merchant cannot read this merchant\u2019s customers');
    const own = await env.call('GET', `/v1/merchants/${otherId}/customers/${pseudonym}`, {
      auth: otherKey,
    });
    assert.deepEqual(own.body, { pseudonym, email: null, emailShared: false });
    const unscoped = await env.call('POST', `/v1/merchants/${shop.merchantId}/api-keys`, {
      auth: env.admin,
      body: { scopes: ['payments:read'] },
    });
    const refused = await env.call('GET', path, { auth: String(unscoped.body?.secret) });
    assert.equal(refused.status, 403, 'customers:read is needed');
    assert.equal((await env.call('GET', path, { auth: shop.user })).status, 403);

    await revoke(env, shop, id);
    const after = await env.call('GET', path, { auth: shop.apiKey });
    assert.deepEqual(after.body, { pseudonym, email: null, emailShared: false });
  });

  it('suggests offers from the purchases only while the suggestions consent is active', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const shop = await setUpShop(env);
    const offer = async (title: string, auth: string) => {
      const made = await env.call('POST', '/v1/offers', {
        auth,
        body: {
          resource: `/${title}`,
          title,
          price: '0.05',
          category: 'content',
          accessPeriodSeconds: 3600,
        },
      });
      assert.equal(made.status, 201, made.text);
      return String(made.body?.id);
    };
    const other = await env.call('POST', '/v1/merchants', {
      auth: env.admin,
      body: { name: 'Other', feeBasisPoints: 0, payoutThreshold: '10.00' },
    });
    const key = await env.call('POST', `/v1/merchants/${String(other.body?.merchantId)}/api-keys`, {
      auth: env.admin,
      body: { scopes: ['offers:write'] },
    });
    const sameCategory = await offer('three', String(key.body?.secret));
    const sameShop = await offer('two', shop.apiKey);
    const suggestions = () => env.call('GET', '/v1/wallet/suggestions', { auth: shop.user });
    const off = await suggestions();
    assert.equal(off.status, 200, off.text);
    assert.deepEqual(off.body, { personalised: false, suggestions: [] });

    const id = await grant(env, shop, 'suggestions', 'all');
    const on = await suggestions();
    const listed = on.body?.suggestions as { offerId: string; reason: string; price: string }[];
    assert.equal(on.body?.personalised, true);
    assert.deepEqual(
      listed.map((item) => [item.offerId, item.reason, item.price]),
      [
        [sameShop, 'sameMerchant', '0.05'],
        [sameCategory, 'sameCategory', '0.05'],
      ],
      'the offer already bought is not suggested; the merchant bought from comes first',
    );

    await revoke(env, shop, id);
    assert.deepEqual((await suggestions()).body, { personalised: false, suggestions: [] });
    assert.equal(
      (await env.call('GET', '/v1/wallet/suggestions', { auth: shop.apiKey })).status,
      403,
    );
  });
});
