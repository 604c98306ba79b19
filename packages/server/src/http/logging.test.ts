import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { createHttpApp } from './create-http-app.ts';
import { defaultHttpLimits } from './limits.ts';
import { isSensitiveKey, redactedValue, redactForLog, redactUrl } from './logging.ts';
import { call } from './test-routes.ts';
import { captureLog, listenOnLoopback } from './testing.ts';

/** Values that must never appear in a log line. */
const secrets = {
  authorization: 'Bearer mite_s_authorization-secret',
  cookie: 'mite_session=cookie-secret',
  apiKey: 'mite_k_api-key-secret',
  setCookie: 'mite_session=set-cookie-secret; HttpOnly',
  password: 'password-secret',
  email: 'alice@example.com',
  token: 'token-secret',
  secret: 'secret-secret',
  cardNumber: '4242424242424242',
  queryToken: 'query-token-secret',
  errorEmail: 'bob@example.com',
};

const loggingRoutes: FastifyPluginAsyncZod = async (api) => {
  api.post(
    '/v1/accounts',
    {
      schema: { body: z.object({ password: z.string(), profile: z.unknown() }).loose() },
      config: { auth: 'public', idempotent: false },
    },
    async (request, reply) => {
      reply.header('set-cookie', secrets.setCookie);
      // What a careless handler might log: everything.
      request.log.info({ body: request.body, headers: request.headers }, 'creating an account');
      request.log.info({ responseHeaders: reply.getHeaders() }, 'answering');
      return { created: true };
    },
  );
  api.get('/v1/fails', { config: { auth: 'public' } }, async () => {
    throw Object.assign(new Error('lookup failed'), { email: secrets.errorEmail });
  });
};

test('secrets and personal data never reach the logs', async () => {
  const log = captureLog('info');
  const app = createHttpApp({
    logger: log.logger,
    metricsRegistry: new Registry(),
    limits: defaultHttpLimits,
  });
  void app.register(loggingRoutes);
  const { baseUrl, close } = await listenOnLoopback(app);
  try {
    const headers = {
      authorization: secrets.authorization,
      cookie: secrets.cookie,
      'x-api-key': secrets.apiKey,
    };
    const body = {
      password: secrets.password,
      profile: {
        email: secrets.email,
        devices: [{ token: secrets.token, secret: secrets.secret }],
        card: { cardNumber: secrets.cardNumber, brand: 'visa' },
      },
    };
    const created = await call(baseUrl, 'POST', `/v1/accounts?token=${secrets.queryToken}&x=1`, {
      body,
      headers,
    });
    assert.equal(created.status, 200);
    assert.equal((await call(baseUrl, 'GET', '/v1/fails')).status, 500);
  } finally {
    await close();
  }
  const text = log.text();
  for (const [name, value] of Object.entries(secrets)) {
    assert.ok(!text.includes(value), `${name} leaked into the logs`);
  }
  // The client's address is 127.0.0.1 like the server's own (which the Host header shows): look
  // for the fields that would hold it.
  assert.ok(!/remoteAddress|remotePort/.test(text), 'the client IP address leaked into the logs');
  const entries = log.entries();
  const creating = entries.find((entry) => entry.msg === 'creating an account');
  assert.ok(creating, 'the handler logged');
  const loggedBody = creating.body as { profile: { card: Record<string, unknown> } };
  assert.equal(loggedBody.profile.card.brand, 'visa', 'what is not sensitive stays');
  assert.equal(loggedBody.profile.card.cardNumber, redactedValue);
  const incoming = entries.find((entry) => entry.msg === 'incoming request');
  assert.deepEqual(incoming?.req, {
    method: 'POST',
    url: `/v1/accounts?token=${encodeURIComponent(redactedValue)}&x=1`,
    route: '/v1/accounts',
  });
  const failure = entries.find((entry) => entry.msg === 'request failed');
  assert.equal((failure?.err as Record<string, unknown>).email, redactedValue);
});

test('redaction goes by key name, at any depth, without touching the original', () => {
  for (const key of ['Authorization', 'set-cookie', 'X-Api-Key', 'newPassword', 'client_secret']) {
    assert.ok(isSensitiveKey(key), key);
  }
  for (const key of ['amount', 'merchantId', 'status', 'currency']) {
    assert.ok(!isSensitiveKey(key), key);
  }
  const original = { a: [{ b: { sessionToken: 't', keep: 1 } }], email: 'e' };
  assert.deepEqual(redactForLog(original), {
    a: [{ b: { sessionToken: redactedValue, keep: 1 } }],
    email: redactedValue,
  });
  assert.equal(original.email, 'e');
  assert.equal(redactUrl('/v1/x'), '/v1/x');
  assert.equal(redactUrl('/v1/x?limit=5'), '/v1/x?limit=5');
});
