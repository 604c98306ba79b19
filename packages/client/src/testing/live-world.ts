/**
 * The real thing on loopback, for the interop tests of stock clients: the Mite platform
 * (`@mite/server`, on SQLite or PostgreSQL) driven only through its HTTP API, a user whose wallet
 * is topped up by card, and a merchant site behind `@mite/middleware` (node:http) whose clock the
 * test holds still, so that its challenges repeat as they do within one second. Test-only code.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPaywall, type PaidOutcome, type PricedRoute, withPaywall } from '@mite/middleware';
import { parseAmount } from '@mite/protocol';
import { createPlatform, noRiskRules } from '@mite/server';
import { requirePgDatabase, tempDir } from '@mite/testkit';
import pino from 'pino';

export type Dialect = 'sqlite' | 'postgres';

export const articlePrice = '0.02';
export const answerPrice = '0.001';

/** Articles open for a day once bought; an API answer is sold once per purchase. */
export const liveRoutes: readonly PricedRoute[] = [
  {
    method: 'GET',
    path: '/articles/:id',
    price: articlePrice,
    description: 'An article',
    category: 'news',
    accessPeriodSeconds: 86_400,
  },
  { method: 'GET', path: '/api/answer', price: answerPrice, description: 'One answer' },
];

export interface ApiAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface LiveWorld {
  /** The platform's base URL ("http://127.0.0.1:PORT"). */
  readonly platformUrl: string;
  /** The merchant site's base URL. */
  readonly shopUrl: string;
  readonly merchantId: string;
  /** The reader's session token. */
  readonly token: string;
  api(method: string, path: string, body?: unknown): Promise<ApiAnswer>;
  /** What the reader's wallet can spend, in micro-units. */
  walletMicros(): Promise<bigint>;
  /** Moves the site's clock (its challenges and its judgement of times) by whole seconds. */
  advanceShopSeconds(seconds: number): void;
  close(): Promise<void>;
}

function micros(text: unknown): bigint {
  const parsed = parseAmount(String(text));
  assert.ok(parsed.ok, `an amount: ${String(text)}`);
  return parsed.value;
}

function shopHandler(
  request: IncomingMessage,
  response: ServerResponse,
  paid: PaidOutcome | undefined,
): void {
  const path = new URL(request.url ?? '/', 'http://shop.invalid').pathname;
  const article = /^\/articles\/([^/]+)$/.exec(path);
  const text =
    article !== null ? `article ${article[1]}` : path === '/api/answer' ? '42' : undefined;
  response.writeHead(text === undefined ? 404 : 200, { 'content-type': 'text/plain' });
  response.end(text === undefined ? 'not found' : `${text} for ${paid?.receipt.payer ?? '?'}`);
}

async function startShop(
  platformUrl: string,
  merchantId: string,
  clock: () => number,
  tokensApiKey: string | undefined,
) {
  const paywall = createPaywall({
    ...(tokensApiKey === undefined ? {} : { tokens: { apiKey: tokensApiKey } }),
    merchantId,
    realm: 'interop-news.example',
    platformUrl,
    challengeSecret: new Uint8Array(randomBytes(32)),
    clock,
    routes: liveRoutes,
  });
  const server = createServer(withPaywall(paywall, shopHandler));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () => {
    // fetch keeps connections alive, which would hold close() open.
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url: `http://127.0.0.1:${port}`, close };
}

/** Starts the platform on `dialect`, a merchant, a reader with `balance`, and the merchant's site. */
export async function startLiveWorld(
  dialect: Dialect,
  balance = '1.00',
  extra: {
    readonly tokenDenominationsMicros?: readonly bigint[];
    /** The site takes tokens too (a second, "mite-token" challenge; deposits with its key). */
    readonly shopTakesTokens?: boolean;
  } = {},
): Promise<LiveWorld> {
  const { shopTakesTokens, ...platformOptions } = extra;
  const databaseUrl = dialect === 'postgres' ? await requirePgDatabase() : undefined;
  const platform = await createPlatform({
    dataDir: tempDir('mite-interop-'),
    env: {},
    logger: pino({ level: 'silent' }),
    funding: { provider: 'sandbox' },
    ...(databaseUrl === undefined ? {} : { databaseUrl }),
    // One reader pays many times a minute here: the clients are under test, not the risk rules.
    riskRules: noRiskRules,
    ...platformOptions,
  });
  const platformUrl = await platform.app.listen({ port: 0, host: '127.0.0.1' });
  const call = async (method: string, path: string, bearer?: string, body?: unknown) => {
    const headers: Record<string, string> = {};
    if (method !== 'GET') headers['idempotency-key'] = randomUUID();
    if (bearer !== undefined) headers['authorization'] = `Bearer ${bearer}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${platformUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const expect = async (answer: Promise<ApiAnswer>, status: number) => {
    const { status: got, body } = await answer;
    assert.equal(got, status, JSON.stringify(body));
    return body;
  };
  const admin = await platform.bootstrapAdminKey();
  assert.ok(admin, 'a fresh platform makes its first admin key');
  const merchant = await expect(
    call('POST', '/v1/merchants', admin.secret, {
      name: 'Interop News',
      feeBasisPoints: 1_000,
      payoutThreshold: '10.00',
    }),
    201,
  );
  const merchantId = String(merchant['merchantId']);
  const credentials = { email: 'reader@example.com', password: 'a long enough passphrase' };
  await expect(call('POST', '/v1/users', undefined, credentials), 201);
  const token = String(
    (await expect(call('POST', '/v1/sessions', undefined, credentials), 201))['token'],
  );
  const card = { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' };
  await expect(call('POST', '/v1/topups', token, { amount: balance, card }), 201);
  const tokensApiKey =
    shopTakesTokens === true
      ? String(
          (
            await expect(
              call('POST', `/v1/merchants/${merchantId}/api-keys`, admin.secret, {
                scopes: ['tokens:deposit'],
              }),
              201,
            )
          )['secret'],
        )
      : undefined;
  let shopNowMs = Date.now();
  const shop = await startShop(platformUrl, merchantId, () => shopNowMs, tokensApiKey);
  return {
    platformUrl,
    shopUrl: shop.url,
    merchantId,
    token,
    api: (method, path, body) => call(method, path, token, body),
    async walletMicros() {
      const wallet = await expect(call('GET', '/v1/wallet', token), 200);
      return micros(wallet['balance']);
    },
    advanceShopSeconds: (seconds) => void (shopNowMs += seconds * 1000),
    async close() {
      await shop.close();
      await platform.close();
    },
  };
}
