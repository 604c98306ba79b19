/**
 * Every route of the OpenAPI document, fed hostile requests generated from its own schemas
 * (hostile-requests.ts), on a real platform over HTTP, on SQLite and PostgreSQL, authenticated as
 * each kind of caller the route takes: each answer is a 4xx problem+json, the server stays up,
 * and nothing changes (the platform's rows, the ledger's balances, the ledger's invariants).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { defaultHttpLimits } from './http/limits.ts';
import {
  type Caller,
  type HostileRequest,
  hostileRequests,
  type KnownIds,
  operationsOf,
} from './hostile-requests.ts';
import { platformAccountIds } from './ledger/chart-of-accounts.ts';
import type { Platform } from './platform.ts';
import {
  type PlatformUnderTest,
  type Shop,
  setUpShop,
  startPlatformUnderTest,
} from './platform-testing.ts';
import { forEachDialect } from './db/testing.ts';

/** Hostile requests per route: bounded so that both databases take well under a minute. */
const runsPerRoute = 100;

/** Routes that take no input and no credential: nothing about a request to them can be wrong. */
const routesWithoutInput = new Set([
  'GET /healthz',
  'GET /v1/keys',
  'GET /v1/token-keys',
  'GET /v1/privacy/retention',
]);

/** Tables a refused request may write to: the idempotency record of its refusal. */
const tablesWrittenOnRefusal = new Set(['idempotency_records']);

const platformTables = [
  'users',
  'sessions',
  'admin_keys',
  'api_keys',
  'merchants',
  'merchant_bank_accounts',
  'offers',
  'offer_splits',
  'payments',
  'refunds',
  'topups',
  'payouts',
  'payout_batches',
  'webhook_endpoints',
  'webhook_events',
  'webhook_deliveries',
  'webhook_attempts',
] as const;

/** What a refused request must leave as it was: row counts and ledger balances. */
async function snapshot(platform: Platform, accountIds: readonly bigint[]): Promise<string> {
  const { db } = platform.platformDb;
  const counts: Record<string, number> = {};
  for (const table of platformTables) {
    if (tablesWrittenOnRefusal.has(table)) continue;
    const row = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('rows'))
      .executeTakeFirstOrThrow();
    counts[table] = Number(row.rows);
  }
  const accounts = await platform.ledger.lookupAccounts(accountIds);
  return JSON.stringify({ counts, accounts }, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}

function credentialOf(caller: Caller, env: PlatformUnderTest, shop: Shop): string | undefined {
  switch (caller) {
    case 'user':
      return shop.user;
    case 'merchant':
      return shop.apiKey;
    case 'operator':
      return env.admin;
    case 'bogus':
      return 'mite_not_a_real_credential_0000000000000000';
    case 'none':
      return undefined;
  }
}

async function send(
  env: PlatformUnderTest,
  shop: Shop,
  method: string,
  request: HostileRequest,
): Promise<{ status: number; contentType: string; text: string }> {
  const credential = credentialOf(request.caller, env, shop);
  const headers: Record<string, string> = { ...request.headers };
  if (credential !== undefined) headers.authorization = `Bearer ${credential}`;
  const response = await fetch(`${env.baseUrl}${request.url}`, {
    method,
    headers,
    ...(request.body === undefined ? {} : { body: request.body }),
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    text: await response.text(),
  };
}

forEachDialect('hostile input on every route', (backend, it) => {
  it('is refused with 4xx problem+json and changes nothing', async (t) => {
    const env = await startPlatformUnderTest(t, backend, {
      // The per-client and per-IP limits would only answer 429 after a while; routes' own
      // limits (log-in, sign-up, top-ups) still do, which is a refusal too.
      limits: { ...defaultHttpLimits, rateLimitPerClientMax: 1e6, rateLimitPerIpMax: 1e6 },
      // No webhook worker or job writing meanwhile: what changes would be the requests' doing.
      backgroundJobs: false,
    });
    const shop = await setUpShop(env);
    const known: KnownIds = {
      merchantId: shop.merchantId,
      offerId: shop.offerId,
      paymentId: shop.paymentId,
      topUpId: shop.topUpId,
      endpointId: shop.webhookEndpointId,
      slug: 'not-found',
    };
    const profile = await env.platform.services.users.profile(shop.userId);
    assert.ok(profile);
    const accountIds = [...Object.values(platformAccountIds), profile.walletAccountId];
    // The top-up's and payment's own writes are committed before the picture is taken.
    await env.platform.services.batcher.drain();
    const before = await snapshot(env.platform, accountIds);
    const document = (await env.call('GET', '/v1/openapi.json')).body;
    const operations = operationsOf(document as Parameters<typeof operationsOf>[0]);
    assert.ok(operations.length > 25, 'the document lists the routes');
    for (const operation of operations) {
      const name = `${operation.method} ${operation.path}`;
      const requests = hostileRequests(operation, known);
      if (requests === undefined) {
        assert.ok(routesWithoutInput.has(name), `${name} has nothing to attack`);
        continue;
      }
      await fc.assert(
        fc.asyncProperty(requests, async (request) => {
          const answer = await send(env, shop, operation.method, request);
          const what = `${name} (${request.attack}, as ${request.caller}): ${request.url.slice(0, 200)} -> ${answer.status} ${answer.text.slice(0, 300)}`;
          assert.ok(answer.status >= 400 && answer.status < 500, what);
          assert.match(answer.contentType, /^application\/problem\+json/, what);
        }),
        { numRuns: runsPerRoute },
      );
      assert.equal(await snapshot(env.platform, accountIds), before, `${name} changed something`);
    }
    assert.equal((await env.call('GET', '/healthz')).status, 200);
    assert.deepEqual((await env.platform.ledger.verify()).problems, []);
  });
});
