import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import type { PlatformDialect } from '../db/platform-db.ts';
import { forEachDialect, platformDbFor } from '../db/testing.ts';
import { createHttpApp } from '../http/create-http-app.ts';
import { presentedCredential } from '../http/credentials.ts';
import { defaultHttpLimits } from '../http/limits.ts';
import { openApiDocumentPath } from '../http/openapi.ts';
import type { Authenticator, Principal } from '../http/route-config.ts';
import { call } from '../http/test-routes.ts';
import { captureLog, listenOnLoopback } from '../http/testing.ts';
import { createIdempotencyStore } from '../idempotency/idempotency-store.ts';
import { fail, ok } from '../result.ts';
import { enqueueWebhookEvent } from './outbox.ts';
import { insertMerchant, startReceiver } from './test-receiver.ts';
import { createWebhookService } from './webhook-service.ts';
import { webhookRoutes } from './webhook-routes.ts';
import { testCipher } from '../privacy/personal-data-cipher.ts';

const principals: Readonly<Record<string, Principal>> = {
  'token-a': { kind: 'merchant', id: 'mer_a', scopes: ['webhooks:read', 'webhooks:write'] },
  'token-b': { kind: 'merchant', id: 'mer_b', scopes: ['webhooks:read', 'webhooks:write'] },
  'token-user': { kind: 'user', id: 'usr_1', scopes: [] },
};

const authenticator: Authenticator = async (request) => {
  const credential = presentedCredential(request);
  if (credential === undefined) return ok(undefined);
  const principal = principals[credential];
  return principal === undefined ? fail('unauthenticated') : ok(principal);
};

async function api(t: TestContext, dialect: PlatformDialect) {
  const platform = await platformDbFor(t, dialect);
  await insertMerchant(platform, 'mer_a');
  await insertMerchant(platform, 'mer_b');
  const clock = () => Date.now();
  const webhooks = createWebhookService({
    platform,
    clock,
    cipher: testCipher(),
    allowPrivateNetworks: true,
  });
  const app = createHttpApp({
    logger: captureLog('silent').logger,
    metricsRegistry: new Registry(),
    limits: defaultHttpLimits,
    authenticator,
    idempotency: createIdempotencyStore(platform, { clock, cipher: testCipher() }),
  });
  await app.register(webhookRoutes, { webhooks });
  const listening = await listenOnLoopback(app);
  t.after(() => listening.close());
  let keys = 0;
  const send = (
    method: string,
    path: string,
    token: string | undefined,
    options: { body?: unknown; key?: string } = {},
  ) =>
    call(listening.baseUrl, method, path, {
      ...(options.body === undefined ? {} : { body: options.body }),
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(method === 'POST' ? { 'idempotency-key': options.key ?? `key-${++keys}` } : {}),
      },
    });
  const emit = (merchantId: string) =>
    platform.db.transaction().execute((tx) =>
      enqueueWebhookEvent(tx, {
        merchantId,
        type: 'payment.succeeded',
        payload: { paymentId: 'pay_1' },
        nowMs: clock(),
      }),
    );
  return { platform, webhooks, send, emit, baseUrl: listening.baseUrl };
}

forEachDialect('webhook routes', (dialect, it) => {
  it('lets a merchant manage its endpoints, see attempts and replay, and no one else', async (t) => {
    const env = await api(t, dialect);
    const receiver = await startReceiver(t);
    const body = { url: receiver.url, eventTypes: ['payment.succeeded'] };

    const created = await env.send('POST', '/v1/webhook-endpoints', 'token-a', {
      body,
      key: 'create-1',
    });
    assert.equal(created.status, 201, created.text);
    const endpoint = created.json();
    assert.match(String(endpoint.secret), /^whsec_/);
    assert.match(String(endpoint.id), /^whe_/);
    assert.deepEqual(endpoint.eventTypes, ['payment.succeeded']);
    const replayed = await env.send('POST', '/v1/webhook-endpoints', 'token-a', {
      body,
      key: 'create-1',
    });
    assert.equal(replayed.status, 201);
    assert.equal(replayed.json().id, endpoint.id, 'the same endpoint, not a second one');
    const endpointPath = `/v1/webhook-endpoints/${String(endpoint.id)}`;

    const listA = await env.send('GET', '/v1/webhook-endpoints', 'token-a');
    assert.equal(listA.status, 200);
    const items = listA.json().items as Record<string, unknown>[];
    assert.deepEqual(
      items.map((item) => item.id),
      [endpoint.id],
    );
    assert.equal(items[0]?.secret, undefined, 'the secret is shown once');
    assert.deepEqual((await env.send('GET', '/v1/webhook-endpoints', 'token-b')).json(), {
      items: [],
    });

    // An event, delivered: its attempt is listed for A only.
    const eventId = await env.emit('mer_a');
    assert.equal((await env.webhooks.deliverDue()).succeeded, 1);
    const [message] = receiver.received;
    assert.ok(message);
    new Webhook(String(endpoint.secret)).verify(message.body, message.headers);
    const attempts = await env.send('GET', `${endpointPath}/attempts`, 'token-a');
    assert.equal(attempts.status, 200, attempts.text);
    const attemptItems = attempts.json().items as Record<string, unknown>[];
    assert.equal(attemptItems.length, 1);
    assert.equal(attemptItems[0]?.eventId, eventId);
    assert.equal(attemptItems[0]?.status, 200);
    assert.match(String(attemptItems[0]?.attemptedAt), /^\d{4}-\d\d-\d\dT/);
    assert.equal(attempts.json().nextCursor, null);

    const othersAttempts = await env.send('GET', `${endpointPath}/attempts`, 'token-b');
    assert.equal(othersAttempts.status, 404);
    assert.equal(othersAttempts.json().type, '/v1/problems/not-found');
    assert.equal(
      (await env.send('GET', '/v1/webhook-endpoints/whe_nope/attempts', 'token-a')).status,
      404,
    );
    const badCursor = await env.send('GET', `${endpointPath}/attempts?cursor=nope!`, 'token-a');
    assert.equal(badCursor.status, 400);

    // Replay: only the event's merchant may.
    const othersReplay = await env.send('POST', `/v1/webhook-events/${eventId}/replay`, 'token-b');
    assert.equal(othersReplay.status, 404);
    const replay = await env.send('POST', `/v1/webhook-events/${eventId}/replay`, 'token-a');
    assert.equal(replay.status, 202, replay.text);
    assert.deepEqual(replay.json(), { eventId, deliveries: 1 });
    assert.equal((await env.webhooks.deliverDue()).succeeded, 1);
    assert.equal(receiver.received.length, 2);

    // Delete: not someone else's; then gone from the list.
    assert.equal((await env.send('DELETE', endpointPath, 'token-b')).status, 404);
    const deleted = await env.send('DELETE', endpointPath, 'token-a');
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, '');
    assert.deepEqual((await env.send('GET', '/v1/webhook-endpoints', 'token-a')).json(), {
      items: [],
    });
    assert.equal((await env.send('DELETE', endpointPath, 'token-a')).status, 204);
    assert.equal((await env.send('DELETE', endpointPath, 'token-b')).status, 404);
  });

  it('refuses bad endpoints, other roles and anonymous callers', async (t) => {
    const env = await api(t, dialect);
    const bad = await env.send('POST', '/v1/webhook-endpoints', 'token-a', {
      body: { url: 'ftp://example.com/hooks', eventTypes: ['payment.succeeded'] },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json().type, '/v1/problems/validation-failed');
    const unknownType = await env.send('POST', '/v1/webhook-endpoints', 'token-a', {
      body: { url: 'https://example.com/hooks', eventTypes: ['payment.exploded'] },
    });
    assert.equal(unknownType.status, 400);
    const noKey = await call(env.baseUrl, 'POST', '/v1/webhook-endpoints', {
      body: { url: 'https://example.com/hooks', eventTypes: ['payment.succeeded'] },
      headers: { authorization: 'Bearer token-a' },
    });
    assert.equal(noKey.status, 400);
    assert.equal(noKey.json().type, '/v1/problems/idempotency-key-required');
    assert.equal((await env.send('GET', '/v1/webhook-endpoints', 'token-user')).status, 403);
    assert.equal((await env.send('GET', '/v1/webhook-endpoints', undefined)).status, 401);
    const eventId = await env.emit('mer_a');
    assert.equal(
      (await env.send('POST', `/v1/webhook-events/${eventId}/replay`, 'token-user')).status,
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
