import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { tempDir } from '@mite/testkit';
import { databaseUrlFor, forEachDialect } from './db/testing.ts';
import { request } from 'node:http';
import pino, { type Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { apiKeyScopes } from './auth/scopes.ts';
import { memberScopes } from './staff/staff-roles.ts';
import { sandboxCards } from './funding/sandbox-provider.ts';
import { platformAccountIds } from './ledger/chart-of-accounts.ts';
import { captureLog } from './http/testing.ts';
import { createPlatform } from './platform.ts';
import { looksEncrypted } from './privacy/personal-data-cipher.ts';
import type { receiptJwks } from './receipts/receipt-keys.ts';
import { verifyReceipt } from './receipts/receipts.ts';
import { sealWebhookSecretsUpgrade } from './webhooks/sealed-webhook-secrets.ts';
import { startReceiver } from './webhooks/test-receiver.ts';

interface Call {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/**
 * How long the sandbox takes to confirm a card that confirms later: short, but after the pending
 * top-up is committed, as with a real processor (the sandbox sends its webhook once, without the
 * retries a real processor makes, so one that came first would be lost).
 */
const sandboxConfirmDelayMs = 500;

async function start(
  t: TestContext,
  backend: 'sqlite' | 'postgres',
  options: { dataDir?: string; logger?: Logger; backgroundJobs?: false } = {},
) {
  const databaseUrl = backend === 'postgres' ? await databaseUrlFor('postgres') : undefined;
  const platform = await createPlatform({
    dataDir: options.dataDir ?? tempDir('mite-platform-'),
    ...(options.backgroundJobs === false ? { backgroundJobs: false } : {}),
    ...(databaseUrl === undefined ? {} : { databaseUrl }),
    // The tests' webhook receivers listen on loopback.
    env: { MITE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: '1' },
    logger: options.logger ?? pino({ level: 'silent' }),
    funding: { provider: 'sandbox', confirmDelayMs: sandboxConfirmDelayMs },
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await platform.close();
  };
  t.after(close);
  const base = await platform.app.listen({ port: 0, host: '127.0.0.1' });
  let keys = 0;
  const call = async (
    method: string,
    path: string,
    options: { auth?: string; body?: unknown; key?: string } = {},
  ): Promise<Call> => {
    const headers: Record<string, string> = {};
    if (options.auth !== undefined) headers.authorization = `Bearer ${options.auth}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET') headers['idempotency-key'] = options.key ?? `key-${++keys}`;
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text === '' ? {} : JSON.parse(text),
      headers: response.headers,
    };
  };
  const admin = await platform.bootstrapAdminKey();
  assert.ok(admin);
  assert.equal(await platform.bootstrapAdminKey(), undefined, 'only the first start makes one');
  return { platform, call, admin: admin.secret, base, close, databaseUrl };
}

async function setUpShop(env: NonNullable<Awaited<ReturnType<typeof start>>>) {
  const { call, admin } = env;
  const merchant = await call('POST', '/v1/merchants', {
    auth: admin,
    body: { name: 'Daily News', feeBasisPoints: 1000, payoutThreshold: '10.00' },
  });
  assert.equal(merchant.status, 201);
  const merchantId = String(merchant.body.merchantId);
  const key = await call('POST', `/v1/merchants/${merchantId}/api-keys`, {
    auth: admin,
    body: { scopes: ['offers:write', 'webhooks:read', 'webhooks:write'] },
  });
  assert.equal(key.status, 201);
  const apiKey = String(key.body.secret);
  const offer = await call('POST', '/v1/offers', {
    auth: apiKey,
    body: {
      resource: '/articles/1',
      title: 'Article one',
      price: '0.02',
      category: 'content',
      accessPeriodSeconds: 86400,
    },
  });
  assert.equal(offer.status, 201, JSON.stringify(offer.body));
  const offerId = String(offer.body.id);
  assert.equal(
    (
      await call('POST', '/v1/users', {
        body: { email: 'ada@example.com', password: 'a long passphrase' },
      })
    ).status,
    201,
  );
  const session = await call('POST', '/v1/sessions', {
    body: { email: 'ada@example.com', password: 'a long passphrase' },
  });
  assert.equal(session.status, 201);
  assert.match(session.headers.get('set-cookie') ?? '', /mite_session=.*HttpOnly.*SameSite=Lax/);
  return { merchantId, apiKey, offerId, user: String(session.body.token) };
}

async function fundWallet(
  env: NonNullable<Awaited<ReturnType<typeof start>>>,
  userToken: string,
  micros: bigint,
) {
  const userId = (await env.platform.services.users.authenticate(userToken))?.userId ?? '';
  const profile = await env.platform.services.users.profile(userId);
  assert.ok(profile);
  const results = await env.platform.ledger.createTransfers([
    {
      id: env.platform.services.transferIds.next(),
      debitAccountId: platformAccountIds.processorReceivable,
      creditAccountId: profile.walletAccountId,
      amount: micros,
      ledger: 1,
      code: 1,
    },
  ]);
  assert.deepEqual(results, ['ok']);
}

forEachDialect('the platform API over HTTP', (backend, it) => {
  it('sells an article: merchant, key, offer, user, payment, receipt, replay', async (t) => {
    const env = await start(t, backend);
    const shop = await setUpShop(env);
    await fundWallet(env, shop.user, 1_000_000n);
    const paid = await env.call('POST', '/v1/payments', {
      auth: shop.user,
      body: { offerId: shop.offerId },
      key: 'buy-1',
    });
    assert.equal(paid.status, 201, JSON.stringify(paid.body));
    const jwks = await env.call('GET', '/v1/keys');
    const check = await verifyReceipt(
      String(paid.body.receipt),
      jwks.body as ReturnType<typeof receiptJwks>,
    );
    assert.ok(check.ok);
    assert.equal(check.value.amount, '0.02');
    const replay = await env.call('POST', '/v1/payments', {
      auth: shop.user,
      body: { offerId: shop.offerId },
      key: 'buy-1',
    });
    assert.equal(replay.status, 201);
    assert.equal(replay.body.paymentId, paid.body.paymentId);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    const wallet = await env.call('GET', '/v1/wallet', { auth: shop.user });
    assert.equal(wallet.body.balance, '0.98');
    assert.equal(wallet.body.email, 'ada@example.com');
    const profile = await env.call('GET', `/v1/merchants/${shop.merchantId}/profile`, {
      auth: shop.user,
    });
    assert.deepEqual(profile.body, { merchantId: shop.merchantId, name: 'Daily News' });
    const again = await env.call('POST', '/v1/payments', {
      auth: shop.user,
      body: { offerId: shop.offerId },
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.type, '/v1/problems/duplicate-payment');
    assert.deepEqual((await env.platform.ledger.verify()).problems, []);
  });

  it('refunds a purchase in part through the API, with the merchant\u2019s consent only', async (t) => {
    const env = await start(t, backend);
    const shop = await setUpShop(env);
    await fundWallet(env, shop.user, 1_000_000n);
    const paid = await env.call('POST', '/v1/payments', {
      auth: shop.user,
      body: { offerId: shop.offerId },
    });
    assert.equal(paid.status, 201);
    const path = `/v1/payments/${String(paid.body.paymentId)}/refunds`;
    const noScope = await env.call('POST', path, { auth: shop.apiKey, body: { amount: '0.01' } });
    assert.equal(noScope.status, 403);
    const key = await env.call('POST', `/v1/merchants/${shop.merchantId}/api-keys`, {
      auth: env.admin,
      body: { scopes: ['refunds:write'] },
    });
    const refundKey = String(key.body.secret);
    const part = await env.call('POST', path, {
      auth: refundKey,
      body: { amount: '0.01', reason: 'typo' },
    });
    assert.equal(part.status, 201, JSON.stringify(part.body));
    assert.deepEqual(
      { amount: part.body.amount, total: part.body.refundedTotal },
      { amount: '0.01', total: '0.01' },
    );
    const tooMuch = await env.call('POST', path, { auth: refundKey, body: { amount: '0.02' } });
    assert.equal(tooMuch.status, 409);
    assert.equal(tooMuch.body.type, '/v1/problems/refund-exceeds-payment');
    assert.equal((await env.call('GET', '/v1/wallet', { auth: shop.user })).body.balance, '0.99');
    const byUser = await env.call('POST', path, { auth: shop.user, body: {} });
    assert.equal(byUser.status, 403);
    const rest = await env.call('POST', path, { auth: env.admin, body: {} });
    assert.equal(rest.status, 201);
    assert.equal(rest.body.refundedTotal, '0.02');
  });

  it('announces a purchase to the merchant\u2019s webhook endpoint, signed', async (t) => {
    const env = await start(t, backend);
    const shop = await setUpShop(env);
    const receiver = await startReceiver(t);
    const endpoint = await env.call('POST', '/v1/webhook-endpoints', {
      auth: shop.apiKey,
      body: { url: receiver.url, eventTypes: ['payment.succeeded'] },
    });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    await fundWallet(env, shop.user, 1_000_000n);
    const paid = await env.call('POST', '/v1/payments', {
      auth: shop.user,
      body: { offerId: shop.offerId },
    });
    assert.equal(paid.status, 201);
    // Delivered by the platform's own webhook worker: the test waits for its arrival.
    await receiver.arrived(1);
    const [delivery] = receiver.received;
    assert.ok(delivery, 'the webhook arrived');
    const event = new Webhook(String(endpoint.body.secret)).verify(
      delivery.body,
      delivery.headers,
    ) as {
      type: string;
      data: { paymentId: string; amount: string };
    };
    assert.equal(event.type, 'payment.succeeded');
    assert.equal(event.data.paymentId, paid.body.paymentId);
    assert.equal(event.data.amount, '0.02');
  });

  it('announces top-ups to the operator\u2019s endpoints, once each, and to no merchant', async (t) => {
    const env = await start(t, backend);
    const shop = await setUpShop(env);
    const operatorHooks = await startReceiver(t);
    const merchantHooks = await startReceiver(t);
    const operatorEndpoint = await env.call('POST', '/v1/webhook-endpoints', {
      auth: env.admin,
      body: { url: operatorHooks.url, eventTypes: ['topup.succeeded', 'topup.failed'] },
    });
    assert.equal(operatorEndpoint.status, 201, JSON.stringify(operatorEndpoint.body));
    const merchantEndpoint = await env.call('POST', '/v1/webhook-endpoints', {
      auth: shop.apiKey,
      body: { url: merchantHooks.url, eventTypes: ['topup.succeeded', 'topup.failed'] },
    });
    assert.equal(merchantEndpoint.status, 201);
    // Each sees its own endpoints only.
    const listed = await env.call('GET', '/v1/webhook-endpoints', { auth: env.admin });
    assert.deepEqual(
      (listed.body.items as { id: string }[]).map((endpoint) => endpoint.id),
      [operatorEndpoint.body.id],
    );
    const card = (number: string) => ({ number, expMonth: 12, expYear: 2099, cvc: '123' });
    const topUp = (number: string) =>
      env.call('POST', '/v1/topups', {
        auth: shop.user,
        body: { amount: '10.00', card: card(number) },
      });
    assert.equal((await topUp(sandboxCards.succeeds)).status, 201);
    const later = await topUp(sandboxCards.failsLater);
    assert.equal(later.body.state, 'pending');
    await operatorHooks.arrived(2);
    const events = operatorHooks.received
      .map(
        (delivery) =>
          new Webhook(String(operatorEndpoint.body.secret)).verify(
            delivery.body,
            delivery.headers,
          ) as { type: string; data: Record<string, unknown> },
      )
      .sort((a, b) => a.type.localeCompare(b.type));
    assert.deepEqual(
      events.map((event) => [event.type, event.data.amount]),
      [
        ['topup.failed', '10.00'],
        ['topup.succeeded', '10.00'],
      ],
    );
    assert.equal(events[1]?.data.fee, '0.59');
    // Nothing more is on its way: one delivery per top-up, to the operator's endpoint only (its
    // state may still read pending, as the worker records the answer after it came).
    const deliveries = await env.platform.platformDb.db
      .selectFrom('webhook_deliveries')
      .select('endpoint_id')
      .execute();
    assert.deepEqual(
      deliveries.map((delivery) => delivery.endpoint_id),
      [operatorEndpoint.body.id, operatorEndpoint.body.id],
    );
    assert.equal(operatorHooks.received.length, 2, 'each top-up announced once');
    assert.equal(merchantHooks.received.length, 0, 'top-ups belong to no merchant');
  });

  it('tops up a wallet by card: fee booked, declines refused, late confirmation credited once', async (t) => {
    const env = await start(t, backend);
    const shop = await setUpShop(env);
    // The operator hears of each top-up's outcome: how the test learns the late one's.
    const operatorHooks = await startReceiver(t);
    const operatorEndpoint = await env.call('POST', '/v1/webhook-endpoints', {
      auth: env.admin,
      body: { url: operatorHooks.url, eventTypes: ['topup.succeeded'] },
    });
    assert.equal(operatorEndpoint.status, 201, JSON.stringify(operatorEndpoint.body));
    const card = (number: string) => ({ number, expMonth: 12, expYear: 2099, cvc: '123' });
    const paid = await env.call('POST', '/v1/topups', {
      auth: shop.user,
      body: { amount: '10.00', card: card(sandboxCards.succeeds) },
    });
    assert.equal(paid.status, 201, JSON.stringify(paid.body));
    assert.deepEqual(
      [paid.body.state, paid.body.fee, paid.body.cardLast4],
      ['succeeded', '0.59', '4242'],
    );
    assert.equal((await env.call('GET', '/v1/wallet', { auth: shop.user })).body.balance, '10.00');
    const declined = await env.call('POST', '/v1/topups', {
      auth: shop.user,
      body: { amount: '5.00', card: card(sandboxCards.declines) },
    });
    assert.equal(declined.status, 422);
    assert.equal(declined.body.type, '/v1/problems/card-declined');
    const later = await env.call('POST', '/v1/topups', {
      auth: shop.user,
      body: { amount: '5.00', card: card(sandboxCards.confirmsLater) },
    });
    assert.equal(later.body.state, 'pending');
    // The first top-up's announcement, then the late one's, once its confirmation was handled.
    await operatorHooks.arrived(2);
    const state = String(
      (await env.call('GET', `/v1/topups/${String(later.body.id)}`, { auth: shop.user })).body
        .state,
    );
    assert.equal(state, 'succeeded');
    assert.equal((await env.call('GET', '/v1/wallet', { auth: shop.user })).body.balance, '15.00');
    const forged = await env.call('POST', '/v1/funding/sandbox/webhooks', {
      body: { type: 'charge.succeeded', chargeId: 'ch_x', feeMicros: '1' },
    });
    assert.equal(forged.status, 400);
    assert.equal(forged.body.type, '/v1/problems/invalid-signature');
    const now = new Date();
    const from = new Date(now.getTime() - 60_000).toISOString();
    const to = new Date(now.getTime() + 60_000).toISOString();
    const report = await env.call('GET', `/v1/fee-report?from=${from}&to=${to}`, {
      auth: env.admin,
    });
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.deepEqual([report.body.topUps, report.body.topUpCardFees], [2, '1.035']);
    assert.deepEqual((await env.platform.ledger.verify()).problems, []);
  });

  it('lists a wallet\u2019s transactions newest first, page by page', async (t) => {
    const env = await start(t, backend);
    const shop = await setUpShop(env);
    await fundWallet(env, shop.user, 1_000_000n);
    assert.equal(
      (
        await env.call('POST', '/v1/payments', {
          auth: shop.user,
          body: { offerId: shop.offerId },
        })
      ).status,
      201,
    );
    const seen: unknown[] = [];
    let path = '/v1/wallet/transactions?limit=2';
    for (let pages = 0; pages < 5; pages++) {
      const listed: Call = await env.call('GET', path, { auth: shop.user });
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      const items = listed.body.items as { direction: string; amount: string; kind: string }[];
      seen.push(...items.map((item) => `${item.direction} ${item.amount} ${item.kind}`));
      if (listed.body.nextCursor === null) break;
      path = `/v1/wallet/transactions?limit=2&cursor=${String(listed.body.nextCursor)}`;
    }
    // A 0.02 article with a 10% fee (0.018 to the merchant, 0.002 fee): one movement.
    assert.deepEqual(seen, ['out 0.02 payment', 'in 1.00 topUp']);
    const tampered = await env.call('GET', '/v1/wallet/transactions?cursor=bm90IGpzb24', {
      auth: shop.user,
    });
    assert.equal(tampered.status, 400);
  });

  it('answers insufficient funds and unknown offers with their own problem types, moving nothing', async (t) => {
    const env = await start(t, backend);
    const shop = await setUpShop(env);
    const poor = await env.call('POST', '/v1/payments', {
      auth: shop.user,
      body: { offerId: shop.offerId },
    });
    assert.equal(poor.status, 409);
    assert.equal(poor.body.type, '/v1/problems/insufficient-funds');
    assert.match(String(poor.headers.get('content-type')), /application\/problem\+json/);
    const unknown = await env.call('POST', '/v1/payments', {
      auth: shop.user,
      body: { offerId: 'off_nope' },
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.type, '/v1/problems/offer-not-found');
    assert.equal((await env.call('GET', '/v1/wallet', { auth: shop.user })).body.balance, '0.00');
  });

  it('seals at start the webhook secrets an older version stored in the clear', async (t) => {
    const dataDir = tempDir('mite-platform-whsec-');
    const env = await start(t, backend, { dataDir });
    const shop = await setUpShop(env);
    const created = await env.call('POST', '/v1/webhook-endpoints', {
      auth: shop.apiKey,
      body: { url: 'http://127.0.0.1:1/hooks', eventTypes: ['payment.succeeded'] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const endpointId = String(created.body.id);
    const secret = String(created.body.secret);
    const db = env.platform.platformDb.db;
    const storedSecret = async (from = db) =>
      (
        await from
          .selectFrom('webhook_endpoints')
          .select('secret')
          .where('id', '=', endpointId)
          .executeTakeFirstOrThrow()
      ).secret;
    const sealed = await storedSecret();
    assert.ok(looksEncrypted(sealed) && !sealed.includes(secret.slice('whsec_'.length)));
    // As the version before this one left it: in the clear, and no upgrade recorded.
    await db
      .updateTable('webhook_endpoints')
      .set({ secret })
      .where('id', '=', endpointId)
      .execute();
    await db.deleteFrom('data_upgrades').where('name', '=', sealWebhookSecretsUpgrade).execute();
    await env.close();

    const again = await createPlatform({
      dataDir,
      ...(env.databaseUrl === undefined ? {} : { databaseUrl: env.databaseUrl }),
      env: {},
      logger: pino({ level: 'silent' }),
      backgroundJobs: false,
    });
    try {
      const resealed = await storedSecret(again.platformDb.db);
      assert.ok(looksEncrypted(resealed), resealed);
      assert.ok(!resealed.includes(secret.slice('whsec_'.length)));
    } finally {
      await again.close();
    }
  });

  it('closing finishes the purchases of clients that went away', async (t) => {
    const dataDir = tempDir('mite-platform-close-');
    const log = captureLog('warn');
    const env = await start(t, backend, { dataDir, logger: log.logger });
    const shop = await setUpShop(env);
    const offer = await env.call('POST', '/v1/offers', {
      auth: shop.apiKey,
      body: {
        resource: '/tip',
        title: 'A tip',
        price: '0.01',
        category: 'content',
        accessPeriodSeconds: 0,
      },
    });
    assert.equal(offer.status, 201, JSON.stringify(offer.body));
    await fundWallet(env, shop.user, 1_000_000n);
    // Purchases whose clients hang up once the first is under way; the platform then closes.
    const purchases = 24;
    const sockets = Array.from({ length: purchases }, (_, i) => {
      const sent = request(`${env.base}/v1/payments`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${shop.user}`,
          'content-type': 'application/json',
          'idempotency-key': `hang-up-${i}`,
        },
      });
      sent.on('error', () => {});
      sent.end(JSON.stringify({ offerId: offer.body.id }));
      return sent;
    });
    const waitUntil = Date.now() + 5_000;
    const recorded = () =>
      env.platform.platformDb.db.selectFrom('payments').select('id').limit(1).execute();
    // The first purchase's row is the event; the platform has no hook for it, so it is read
    // again until there (1 ms apart, a query each, bounded by waitUntil).
    while ((await recorded()).length === 0 && Date.now() < waitUntil) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    for (const sent of sockets) sent.destroy();
    await env.close();
    assert.deepEqual(
      log.entries().filter((entry) => Number(entry.level) >= 50),
      [],
      'no errors while closing',
    );

    // Every purchase that started was finished: none left pending, the wallet agrees.
    const again = await createPlatform({
      dataDir,
      ...(env.databaseUrl === undefined ? {} : { databaseUrl: env.databaseUrl }),
      env: {},
      logger: pino({ level: 'silent' }),
    });
    try {
      const states = await again.platformDb.db.selectFrom('payments').select('state').execute();
      assert.ok(
        states.every((row) => row.state === 'succeeded'),
        JSON.stringify(states),
      );
      const userId = (await again.services.users.authenticate(shop.user))?.userId ?? '';
      const profile = await again.services.users.profile(userId);
      assert.ok(profile);
      const [wallet] = await again.ledger.lookupAccounts([profile.walletAccountId]);
      assert.equal(wallet?.debitsPosted, BigInt(states.length) * 10_000n);
      const report = await again.ledger.verify();
      assert.deepEqual(report.problems, []);
    } finally {
      await again.close();
    }
  });

  it('lets each role do only its own things', async (t) => {
    const env = await start(t, backend);
    const shop = await setUpShop(env);
    const matrix: [string, string, string | undefined, unknown, number][] = [
      [
        'POST',
        '/v1/merchants',
        shop.user,
        { name: 'x', feeBasisPoints: 0, payoutThreshold: '0' },
        403,
      ],
      [
        'POST',
        '/v1/merchants',
        shop.apiKey,
        { name: 'x', feeBasisPoints: 0, payoutThreshold: '0' },
        403,
      ],
      [
        'POST',
        '/v1/merchants',
        undefined,
        { name: 'x', feeBasisPoints: 0, payoutThreshold: '0' },
        401,
      ],
      [
        'POST',
        '/v1/merchants',
        'mite_a_forgedforged_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        { name: 'x', feeBasisPoints: 0, payoutThreshold: '0' },
        401,
      ],
      ['POST', '/v1/payments', shop.apiKey, { offerId: shop.offerId }, 403],
      ['POST', '/v1/payments', env.admin, { offerId: shop.offerId }, 403],
      ['POST', '/v1/payments', undefined, { offerId: shop.offerId }, 401],
      ['GET', '/v1/wallet', shop.apiKey, undefined, 403],
      ['GET', '/v1/wallet', env.admin, undefined, 403],
      ['GET', '/v1/wallet', undefined, undefined, 401],
      [
        'POST',
        '/v1/offers',
        shop.user,
        { resource: 'r', title: 't', price: '1', category: 'goods', accessPeriodSeconds: 1 },
        403,
      ],
      [
        'POST',
        `/v1/merchants/${shop.merchantId}/api-keys`,
        shop.apiKey,
        { scopes: ['offers:write'] },
        403,
      ],
      ['GET', `/v1/offers/${shop.offerId}`, undefined, undefined, 200],
      ['GET', '/v1/keys', undefined, undefined, 200],
      ['GET', `/v1/merchants/${shop.merchantId}/profile`, shop.user, undefined, 200],
      ['GET', `/v1/merchants/${shop.merchantId}/profile`, shop.apiKey, undefined, 403],
      ['GET', `/v1/merchants/${shop.merchantId}/profile`, undefined, undefined, 401],
      ['GET', '/v1/merchants/mer_unknown/profile', shop.user, undefined, 404],
    ];
    for (const [method, path, auth, body, status] of matrix) {
      const response = await env.call(method, path, {
        ...(auth === undefined ? {} : { auth }),
        ...(body === undefined ? {} : { body }),
      });
      assert.equal(
        response.status,
        status,
        `${method} ${path} as ${auth?.slice(0, 7) ?? 'nobody'}`,
      );
    }
  });

  it('holds every merchant route to its scope, and refuses revoked keys', async (t) => {
    // Without background jobs: the test compares the stores before and after each refused
    // request, which a job's run in between (a retention purge, a reconciler) would change.
    const env = await start(t, backend, { backgroundJobs: false });
    const shop = await setUpShop(env);
    const issue = async (scopes: readonly string[]) => {
      const issued = await env.call('POST', `/v1/merchants/${shop.merchantId}/api-keys`, {
        auth: env.admin,
        body: { scopes },
      });
      assert.equal(issued.status, 201, JSON.stringify(issued.body));
      return { keyId: String(issued.body.keyId), secret: String(issued.body.secret) };
    };
    const everyScope = [...apiKeyScopes];
    const fixtures = await issue(everyScope);
    await fundWallet(env, shop.user, 1_000_000n);
    const paid = await env.call('POST', '/v1/payments', {
      auth: shop.user,
      body: { offerId: shop.offerId },
    });
    assert.equal(paid.status, 201);
    // Subscribed to an event this test never makes, so no delivery runs in the background.
    const endpoint = await env.call('POST', '/v1/webhook-endpoints', {
      auth: fixtures.secret,
      body: { url: 'http://127.0.0.1:9/hook', eventTypes: ['payout.paid'] },
    });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    const db = env.platform.platformDb.db;
    const event = await db
      .selectFrom('webhook_events')
      .select('id')
      .where('merchant_id', '=', shop.merchantId)
      .executeTakeFirstOrThrow();
    const endpointPath = `/v1/webhook-endpoints/${String(endpoint.body.id)}`;
    const bank = {
      holderName: 'Daily News Ltd',
      iban: 'DE89370400440532013000',
      bic: 'COBADEFF',
    };
    const offer = {
      resource: '/a/2',
      title: 'Two',
      price: '0.05',
      category: 'content',
      accessPeriodSeconds: 60,
    };
    // [route as in the OpenAPI document, the scope it needs, path, body, status with the scope]
    const cases: [string, string, () => Promise<string>, unknown, number][] = [
      ['POST /v1/offers', 'offers:write', async () => '/v1/offers', offer, 201],
      [
        'PATCH /v1/merchants/{merchantId}',
        'offers:write',
        async () => `/v1/merchants/${shop.merchantId}`,
        { challengeAccessPeriodSecondsMax: 3600 },
        200,
      ],
      [
        'PUT /v1/merchants/{merchantId}/fair-price-cap',
        'offers:write',
        async () => `/v1/merchants/${shop.merchantId}/fair-price-cap`,
        { monthlyCap: '5.00' },
        200,
      ],
      [
        'GET /v1/merchants/{merchantId}/fair-price-cap',
        'offers:write',
        async () => `/v1/merchants/${shop.merchantId}/fair-price-cap`,
        undefined,
        200,
      ],
      [
        'GET /v1/payments/{paymentId}',
        'payments:read',
        async () => `/v1/payments/${String(paid.body.paymentId)}`,
        undefined,
        200,
      ],
      [
        'POST /v1/payments/{paymentId}/refunds',
        'refunds:write',
        async () => `/v1/payments/${String(paid.body.paymentId)}/refunds`,
        { amount: '0.01' },
        201,
      ],
      [
        'POST /v1/webhook-endpoints',
        'webhooks:write',
        async () => '/v1/webhook-endpoints',
        { url: 'http://127.0.0.1:9/other', eventTypes: ['payout.paid'] },
        201,
      ],
      [
        'GET /v1/webhook-endpoints',
        'webhooks:read',
        async () => '/v1/webhook-endpoints',
        undefined,
        200,
      ],
      [
        'GET /v1/webhook-endpoints/{endpointId}/attempts',
        'webhooks:read',
        async () => `${endpointPath}/attempts`,
        undefined,
        200,
      ],
      [
        'POST /v1/webhook-events/{eventId}/replay',
        'webhooks:write',
        async () => `/v1/webhook-events/${event.id}/replay`,
        undefined,
        202,
      ],
      [
        'DELETE /v1/webhook-endpoints/{endpointId}',
        'webhooks:write',
        async () => endpointPath,
        undefined,
        204,
      ],
      ['PUT /v1/bank-account', 'bank_account:write', async () => '/v1/bank-account', bank, 200],
      [
        'GET /v1/merchants/{merchantId}/payments',
        'payments:read',
        async () => `/v1/merchants/${shop.merchantId}/payments`,
        undefined,
        200,
      ],
      [
        'GET /v1/merchants/{merchantId}/refunds',
        'payments:read',
        async () => `/v1/merchants/${shop.merchantId}/refunds`,
        undefined,
        200,
      ],
      [
        'GET /v1/merchants/{merchantId}/offers',
        'offers:read',
        async () => `/v1/merchants/${shop.merchantId}/offers`,
        undefined,
        200,
      ],
      [
        'GET /v1/merchants/{merchantId}/reports/earnings',
        'reports:read',
        async () =>
          `/v1/merchants/${shop.merchantId}/reports/earnings?interval=week&from=2027-01-01&to=2027-02-01`,
        undefined,
        200,
      ],
      [
        'GET /v1/merchants/{merchantId}/reports/top-offers',
        'reports:read',
        async () =>
          `/v1/merchants/${shop.merchantId}/reports/top-offers?from=2027-01-01&to=2027-02-01`,
        undefined,
        200,
      ],
      ['GET /v1/bank-account', 'bank_account:read', async () => '/v1/bank-account', undefined, 200],
      [
        'GET /v1/merchants/{merchantId}/reports/fees',
        'reports:read',
        async () => `/v1/merchants/${shop.merchantId}/reports/fees?from=2027-01-01&to=2027-02-01`,
        undefined,
        200,
      ],
      [
        'GET /v1/merchants/{merchantId}/payouts',
        'reports:read',
        async () => `/v1/merchants/${shop.merchantId}/payouts`,
        undefined,
        200,
      ],
      [
        'POST /v1/tokens/deposits',
        'tokens:deposit',
        async () => '/v1/tokens/deposits',
        // A token that does not verify: refused as such, once the scope let the request in.
        {
          tokens: [{ keyId: 'no-such-key', message: 'A'.repeat(22), signature: 'AAAA' }],
          amount: '0.000001',
          resource: '/a/1',
        },
        422,
      ],
      [
        'POST /v1/merchants/{merchantId}/redemptions',
        'redemptions:write',
        async () => `/v1/merchants/${shop.merchantId}/redemptions`,
        // Let in by the scope, then refused: this shop is not classed as selling codes.
        { paymentId: String(paid.body.paymentId) },
        422,
      ],
      [
        'GET /v1/merchants/{merchantId}/redemptions',
        'redemptions:read',
        async () => `/v1/merchants/${shop.merchantId}/redemptions`,
        undefined,
        200,
      ],
      [
        'GET /v1/merchants/{merchantId}/customers/{pseudonym}',
        'customers:read',
        async () => `/v1/merchants/${shop.merchantId}/customers/psn_nobody`,
        undefined,
        200,
      ],
      [
        'GET /v1/merchants/{merchantId}/payment-sessions',
        'sessions:read',
        async () => `/v1/merchants/${shop.merchantId}/payment-sessions`,
        undefined,
        200,
      ],
      // No such session: each is refused as unknown, once the scope let the request in.
      [
        'GET /v1/payment-sessions/{sessionId}',
        'sessions:read',
        async () => `/v1/payment-sessions/ses_${'0'.repeat(32)}`,
        undefined,
        404,
      ],
      [
        'POST /v1/payment-sessions/{sessionId}/vouchers',
        'sessions:write',
        async () => `/v1/payment-sessions/ses_${'0'.repeat(32)}/vouchers`,
        { channelId: `ses_${'0'.repeat(32)}`, cumulativeAmount: '100', payword: 'A'.repeat(43) },
        404,
      ],
      [
        'POST /v1/payment-sessions/{sessionId}/close',
        'sessions:write',
        async () => `/v1/payment-sessions/ses_${'0'.repeat(32)}/close`,
        {},
        404,
      ],
      ['GET /v1/api-keys', 'api_keys:read', async () => '/v1/api-keys', undefined, 200],
      [
        'POST /v1/api-keys',
        'api_keys:write',
        async () => '/v1/api-keys',
        { scopes: ['api_keys:write'] },
        201,
      ],
      [
        'POST /v1/api-keys/{keyId}/rotate',
        'api_keys:write',
        async () => `/v1/api-keys/${(await issue([])).keyId}/rotate`,
        undefined,
        201,
      ],
      [
        'DELETE /v1/api-keys/{keyId}',
        'api_keys:write',
        async () => `/v1/api-keys/${(await issue([])).keyId}`,
        undefined,
        200,
      ],
    ];

    // Every route a merchant may call is here, with the scope it declares.
    const openapi = await env.call('GET', '/v1/openapi.json');
    const declared = new Map<string, unknown>();
    for (const [path, operations] of Object.entries(openapi.body.paths as object)) {
      for (const [method, operation] of Object.entries(operations as object)) {
        const auth = (operation as Record<string, unknown>)['x-mite-auth'];
        if (typeof auth === 'object' && (auth as { kinds: string[] }).kinds.includes('merchant')) {
          declared.set(`${method.toUpperCase()} ${path}`, (auth as { scopes?: unknown }).scopes);
        }
      }
    }
    // Routes for people only (the dashboard's members and session) need a scope no key can
    // hold: a key with every scope is refused them. Dashboard sessions are tested in staff/.
    const peopleOnly = [...declared.entries()].filter(([, scopes]) =>
      (scopes as string[]).some((scope) => (memberScopes as readonly string[]).includes(scope)),
    );
    assert.deepEqual(peopleOnly.map(([route]) => route).sort(), [
      'DELETE /v1/merchant-sessions/current',
      'DELETE /v1/merchants/{merchantId}/members/{userId}',
      'GET /v1/merchant-session',
      'GET /v1/merchants/{merchantId}/members',
      'POST /v1/merchants/{merchantId}/invitations',
    ]);
    for (const [route] of peopleOnly) {
      const [method = '', template = ''] = route.split(' ');
      const path = template.replace('{merchantId}', shop.merchantId).replace('{userId}', 'someone');
      const body = method === 'POST' ? { email: 'x@example.com', role: 'viewer' } : undefined;
      const refused = await env.call(method, path, {
        auth: fixtures.secret,
        ...(body === undefined ? {} : { body }),
      });
      assert.equal(refused.status, 403, `${route} with a key`);
      declared.delete(route);
    }
    assert.deepEqual(
      [...declared.entries()].sort(),
      cases.map(([route, scope]) => [route, [scope]]).sort(),
    );

    const snapshot = async () => {
      const tables = [
        'offers',
        'refunds',
        'webhook_endpoints',
        'webhook_events',
        'webhook_deliveries',
        'merchant_bank_accounts',
        'api_keys',
        'idempotency_records',
        'code_redemptions',
      ] as const;
      const rows: unknown[] = [];
      for (const table of tables) {
        const found = await db.selectFrom(table).selectAll().execute();
        // When a key was last used changes with the refused request itself, by design; and on
        // PostgreSQL that update moves the row, so rows are compared in an order of their own.
        const json = found.map((row) =>
          JSON.stringify({ ...row, last_used_at: undefined }, (_key, value: unknown) =>
            typeof value === 'bigint' ? value.toString() : value,
          ),
        );
        rows.push(json.sort());
      }
      return JSON.stringify(rows);
    };
    for (const [route, scope, pathOf, body, status] of cases) {
      const [method = ''] = route.split(' ');
      const path = await pathOf();
      const lacking = await issue(everyScope.filter((held) => held !== scope));
      const before = await snapshot();
      const refused = await env.call(method, path, {
        auth: lacking.secret,
        ...(body === undefined ? {} : { body }),
      });
      assert.equal(refused.status, 403, `${route} without ${scope}`);
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(refused.body.type, '/v1/problems/forbidden');
      assert.match(String(refused.body.detail), new RegExp(scope));
      assert.equal(await snapshot(), before, `${route} without ${scope} changed nothing`);
      const holder = await issue([scope]);
      const allowed = await env.call(method, path, {
        auth: holder.secret,
        ...(body === undefined ? {} : { body }),
      });
      assert.equal(
        allowed.status,
        status,
        `${route} with ${scope}: ${JSON.stringify(allowed.body)}`,
      );
    }

    // A revoked key is refused everywhere, at once; so is the old secret of a rotated one.
    const revoked = await env.call(
      'DELETE',
      `/v1/merchants/${shop.merchantId}/api-keys/${fixtures.keyId}`,
      {
        auth: env.admin,
      },
    );
    assert.equal(revoked.status, 200);
    assert.equal(typeof revoked.body.revokedAt, 'string');
    const selfRevoked = await issue(everyScope);
    const rotated = await issue(everyScope);
    assert.equal(
      (
        await env.call('DELETE', `/v1/api-keys/${selfRevoked.keyId}`, {
          auth: selfRevoked.secret,
        })
      ).status,
      200,
    );
    const rotation = await env.call('POST', `/v1/api-keys/${rotated.keyId}/rotate`, {
      auth: rotated.secret,
    });
    assert.equal(rotation.status, 201);
    for (const gone of [fixtures, selfRevoked, rotated]) {
      for (const [route, , pathOf, body] of cases) {
        const [method = ''] = route.split(' ');
        const refused = await env.call(method, await pathOf(), {
          auth: gone.secret,
          ...(body === undefined ? {} : { body }),
        });
        assert.equal(refused.status, 401, `${route} with a revoked key`);
        assert.equal(refused.body.type, '/v1/problems/unauthenticated');
      }
    }
    const listed = await env.call('GET', '/v1/api-keys', { auth: String(rotation.body.secret) });
    assert.equal(listed.status, 200);
    const items = listed.body.items as {
      keyId: string;
      lastUsedAt: string | null;
      revokedAt: string | null;
    }[];
    assert.ok(items.find((key) => key.keyId === rotation.body.keyId)?.lastUsedAt);
    assert.ok(items.find((key) => key.keyId === rotated.keyId)?.revokedAt);
    assert.doesNotMatch(JSON.stringify(listed.body), /mite_k_/, 'no secret is listed');

    // A key makes keys with scopes it holds, never more.
    const keyMaker = await issue(['api_keys:write', 'offers:read']);
    const wider = await env.call('POST', '/v1/api-keys', {
      auth: keyMaker.secret,
      body: { scopes: ['offers:read', 'offers:write'] },
    });
    assert.equal(wider.status, 403);
    assert.match(String(wider.body.detail), /not offers:write/);
    const made = await env.call('POST', '/v1/api-keys', {
      auth: keyMaker.secret,
      body: { scopes: ['offers:read'] },
    });
    assert.equal(made.status, 201);
    assert.deepEqual(made.body.scopes, ['offers:read']);
    const usable = await env.call('GET', `/v1/merchants/${shop.merchantId}/offers`, {
      auth: String(made.body.secret),
    });
    assert.equal(usable.status, 200);
  });

  it('lists, rotates and revokes admin keys, keeping the last one', async (t) => {
    const env = await start(t, backend);
    const listed = await env.call('GET', '/v1/admin-keys', { auth: env.admin });
    assert.equal(listed.status, 200);
    const [first] = listed.body.items as { keyId: string; label: string; lastUsedAt: string }[];
    assert.ok(first);
    assert.equal(first.label, 'first admin key');
    assert.equal(typeof first.lastUsedAt, 'string');
    const last = await env.call('DELETE', `/v1/admin-keys/${first.keyId}`, { auth: env.admin });
    assert.equal(last.status, 409);
    assert.equal(last.body.type, '/v1/problems/last-admin-key');
    const rotation = await env.call('POST', `/v1/admin-keys/${first.keyId}/rotate`, {
      auth: env.admin,
    });
    assert.equal(rotation.status, 201);
    const next = String(rotation.body.secret);
    assert.equal((await env.call('GET', '/v1/admin-keys', { auth: env.admin })).status, 401);
    const after = await env.call('GET', '/v1/admin-keys', { auth: next });
    assert.deepEqual(
      (after.body.items as { keyId: string; revokedAt: string | null }[]).map((key) => [
        key.keyId,
        key.revokedAt === null,
      ]),
      [
        [first.keyId, false],
        [String(rotation.body.keyId), true],
      ],
    );
    assert.doesNotMatch(JSON.stringify(after.body), /mite_a_/, 'no secret is listed');
  });

  it('refuses bad input with problem details and no change', async (t) => {
    const env = await start(t, backend);
    const shop = await setUpShop(env);
    const badPrice = await env.call('POST', '/v1/offers', {
      auth: shop.apiKey,
      body: {
        resource: 'r',
        title: 't',
        price: '0.1234567',
        category: 'goods',
        accessPeriodSeconds: 1,
      },
    });
    assert.equal(badPrice.status, 400);
    assert.equal(badPrice.body.type, '/v1/problems/validation-failed');
    const weak = await env.call('POST', '/v1/users', {
      body: { email: 'bo@example.com', password: 'short' },
    });
    assert.equal(weak.status, 400);
    const taken = await env.call('POST', '/v1/users', {
      body: { email: 'ADA@example.com', password: 'a long passphrase' },
    });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.type, '/v1/problems/email-taken');
    const wrong = await env.call('POST', '/v1/sessions', {
      body: { email: 'ada@example.com', password: 'wrong passphrase' },
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.type, '/v1/problems/invalid-credentials');
    const noKey = await fetch(`${env.platform.app.listeningOrigin}/v1/payments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${shop.user}`, 'content-type': 'application/json' },
      body: JSON.stringify({ offerId: shop.offerId }),
    });
    assert.equal(noKey.status, 400);
    const openapi = await env.call('GET', '/v1/openapi.json');
    assert.equal(openapi.body.openapi, '3.1.0');
    assert.ok(Object.keys(openapi.body.paths as object).includes('/v1/payments'));
  });
});
