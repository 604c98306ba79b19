import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { PlatformDialect } from '../db/platform-db.ts';
import { forEachDialect } from '../db/testing.ts';
import { openApiDocumentPath } from '../http/openapi.ts';
import { call } from '../http/test-routes.ts';
import { startPlatformUnderTest } from '../platform-testing.ts';
import { enqueueWebhookEvent } from './outbox.ts';
import { startReceiver } from './test-receiver.ts';

/**
 * A platform as `mite serve` builds it, listening on loopback, with webhooks allowed to a receiver
 * on loopback and no background jobs (the tests deliver themselves). Its callers are real
 * principals made through the services, authenticated by the platform's own authenticator: two
 * merchants' API keys with the webhook scopes, a key of merchant A's without them, and a user's
 * session.
 */
async function api(t: TestContext, dialect: PlatformDialect) {
  const { platform, baseUrl } = await startPlatformUnderTest(t, dialect, {
    env: { MITE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: '1' },
    backgroundJobs: false,
  });
  const { merchants, users, webhooks } = platform.services;
  const merchant = async (name: string) =>
    (await merchants.createMerchant({ name, feeBasisPoints: 0, payoutThresholdMicros: 0n }))
      .merchantId;
  const apiKey = async (
    merchantId: string,
    scopes: Parameters<typeof merchants.issueApiKey>[1],
  ) => {
    const issued = await merchants.issueApiKey(merchantId, scopes);
    assert.ok(issued.ok);
    return issued.value.secret;
  };
  const merchantA = await merchant('A');
  const merchantB = await merchant('B');
  const credentials = { email: 'ada@example.com', password: 'a long passphrase' };
  assert.ok((await users.signUp(credentials)).ok);
  const session = await users.logIn(credentials);
  assert.ok(session.ok);
  const tokens = {
    a: await apiKey(merchantA, ['webhooks:read', 'webhooks:write']),
    b: await apiKey(merchantB, ['webhooks:read', 'webhooks:write']),
    aWithoutWebhookScopes: await apiKey(merchantA, ['offers:write']),
    user: session.value.token,
  };
  let keys = 0;
  const send = (
    method: string,
    path: string,
    token: string | undefined,
    options: { body?: unknown; key?: string } = {},
  ) =>
    call(baseUrl, method, path, {
      ...(options.body === undefined ? {} : { body: options.body }),
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(method === 'POST' ? { 'idempotency-key': options.key ?? `key-${++keys}` } : {}),
      },
    });
  /** An event for the merchant, as a purchase enqueues it. */
  const emit = (merchantId: string) =>
    platform.platformDb.db.transaction().execute((tx) =>
      enqueueWebhookEvent(tx, {
        merchantId,
        type: 'payment.succeeded',
        payload: { paymentId: 'pay_1' },
        nowMs: Date.now(),
      }),
    );
  return { webhooks, send, emit, baseUrl, tokens, merchantA };
}

forEachDialect('webhook routes', (dialect, it) => {
  it('lets a merchant manage its endpoints, see attempts and replay, and no one else', async (t) => {
    const env = await api(t, dialect);
    const receiver = await startReceiver(t);
    const body = { url: receiver.url, eventTypes: ['payment.succeeded'] };

    const created = await env.send('POST', '/v1/webhook-endpoints', env.tokens.a, {
      body,
      key: 'create-1',
    });
    assert.equal(created.status, 201, created.text);
    const endpoint = created.json();
    assert.match(String(endpoint.secret), /^whsec_/);
    assert.match(String(endpoint.id), /^whe_/);
    assert.deepEqual(endpoint.eventTypes, ['payment.succeeded']);
    const replayed = await env.send('POST', '/v1/webhook-endpoints', env.tokens.a, {
      body,
      key: 'create-1',
    });
    assert.equal(replayed.status, 201);
    assert.equal(replayed.json().id, endpoint.id, 'the same endpoint, not a second one');
    const endpointPath = `/v1/webhook-endpoints/${String(endpoint.id)}`;

    const listA = await env.send('GET', '/v1/webhook-endpoints', env.tokens.a);
    assert.equal(listA.status, 200);
    const items = listA.json().items as Record<string, unknown>[];
    assert.deepEqual(
      items.map((item) => item.id),
      [endpoint.id],
    );
    assert.equal(items[0]?.secret, undefined, 'the secret is shown once');
    assert.deepEqual((await env.send('GET', '/v1/webhook-endpoints', env.tokens.b)).json(), {
      items: [],
    });

    // An event, delivered: its attempt is listed for A only.
    const eventId = await env.emit(env.merchantA);
    assert.equal((await env.webhooks.deliverDue()).succeeded, 1);
    const [message] = receiver.received;
    assert.ok(message);
    new Webhook(String(endpoint.secret)).verify(message.body, message.headers);
    const attempts = await env.send('GET', `${endpointPath}/attempts`, env.tokens.a);
    assert.equal(attempts.status, 200, attempts.text);
    const attemptItems = attempts.json().items as Record<string, unknown>[];
    assert.equal(attemptItems.length, 1);
    assert.equal(attemptItems[0]?.eventId, eventId);
    assert.equal(attemptItems[0]?.status, 200);
    assert.match(String(attemptItems[0]?.attemptedAt), /^\d{4}-\d\d-\d\dT/);
    assert.equal(attempts.json().nextCursor, null);

    const othersAttempts = await env.send('GET', `${endpointPath}/attempts`, env.tokens.b);
    assert.equal(othersAttempts.status, 404);
    assert.equal(othersAttempts.json().type, '/v1/problems/not-found');
    assert.equal(
      (await env.send('GET', '/v1/webhook-endpoints/whe_nope/attempts', env.tokens.a)).status,
      404,
    );
    const badCursor = await env.send('GET', `${endpointPath}/attempts?cursor=nope!`, env.tokens.a);
    assert.equal(badCursor.status, 400);

    // Replay: only the event's merchant may.
    const othersReplay = await env.send(
      'POST',
      `/v1/webhook-events/${eventId}/replay`,
      env.tokens.b,
    );
    assert.equal(othersReplay.status, 404);
    const replay = await env.send('POST', `/v1/webhook-events/${eventId}/replay`, env.tokens.a);
    assert.equal(replay.status, 202, replay.text);
    assert.deepEqual(replay.json(), { eventId, deliveries: 1 });
    assert.equal((await env.webhooks.deliverDue()).succeeded, 1);
    assert.equal(receiver.received.length, 2);

    // Delete: not someone else's; then gone from the list.
    assert.equal((await env.send('DELETE', endpointPath, env.tokens.b)).status, 404);
    const deleted = await env.send('DELETE', endpointPath, env.tokens.a);
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, '');
    assert.deepEqual((await env.send('GET', '/v1/webhook-endpoints', env.tokens.a)).json(), {
      items: [],
    });
    assert.equal((await env.send('DELETE', endpointPath, env.tokens.a)).status, 204);
    assert.equal((await env.send('DELETE', endpointPath, env.tokens.b)).status, 404);
  });

  it('refuses bad endpoints, other roles and anonymous callers', async (t) => {
    const env = await api(t, dialect);
    const bad = await env.send('POST', '/v1/webhook-endpoints', env.tokens.a, {
      body: { url: 'ftp://example.com/hooks', eventTypes: ['payment.succeeded'] },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json().type, '/v1/problems/validation-failed');
    const unknownType = await env.send('POST', '/v1/webhook-endpoints', env.tokens.a, {
      body: { url: 'https://example.com/hooks', eventTypes: ['payment.exploded'] },
    });
    assert.equal(unknownType.status, 400);
    const noKey = await call(env.baseUrl, 'POST', '/v1/webhook-endpoints', {
      body: { url: 'https://example.com/hooks', eventTypes: ['payment.succeeded'] },
      headers: { authorization: `Bearer ${env.tokens.a}` },
    });
    assert.equal(noKey.status, 400);
    assert.equal(noKey.json().type, '/v1/problems/idempotency-key-required');
    assert.equal((await env.send('GET', '/v1/webhook-endpoints', env.tokens.user)).status, 403);
    const unscoped = await env.send(
      'GET',
      '/v1/webhook-endpoints',
      env.tokens.aWithoutWebhookScopes,
    );
    assert.equal(unscoped.status, 403, 'a key without the webhook scopes');
    const forged = await env.send('GET', '/v1/webhook-endpoints', `${env.tokens.a}x`);
    assert.equal(forged.status, 401, 'a key that was never issued');
    assert.equal((await env.send('GET', '/v1/webhook-endpoints', undefined)).status, 401);
    const eventId = await env.emit(env.merchantA);
    assert.equal(
      (await env.send('POST', `/v1/webhook-events/${eventId}/replay`, env.tokens.user)).status,
      403,
    );
  });

  it('documents its routes in the OpenAPI document', async (t) => {
    const env = await api(t, dialect);
    const document = await env.send('GET', openApiDocumentPath, undefined);
    assert.equal(document.status, 200);
    const paths = Object.keys(document.json().paths as object);
    for (const path of [
      '/v1/webhook-endpoints',
      '/v1/webhook-endpoints/{endpointId}',
      '/v1/webhook-endpoints/{endpointId}/attempts',
      '/v1/webhook-events/{eventId}/replay',
    ]) {
      assert.ok(paths.includes(path), path);
    }
  });
});
