/**
 * The real thing on loopback, for end-to-end.test.ts: the Mite platform (`@mite/server` on
 * embedded SQLite) driven only through its HTTP API, a user whose wallet is topped up by card,
 * and merchant sites behind this package's adapters (node:http and Express), each with its own
 * merchant, challenge secret and a clock the test can move. Not exported from the package.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Challenge,
  challengeEcho,
  parseAmount,
  parseChallengeHeader,
  type ReceiptClaims,
} from '@mite/protocol';
import { createPlatform, noRiskRules, type Platform, type PlatformOptions } from '@mite/server';
import { tempDir } from '@mite/testkit';
import express from 'express';
import pino from 'pino';
import { createPaywall, type PaidOutcome, type PaywallOptions } from './core.ts';
import { expressPaywall } from './express.ts';
import { withPaywall } from './node-http.ts';
import type { PricedRoute } from './routes.ts';

export interface ApiAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

export interface ApiCall {
  readonly bearer?: string;
  readonly body?: unknown;
}

/** What `POST /v1/payments` answers for a challenge. */
export interface PlatformPayment {
  readonly paymentId: string;
  readonly receipt: string;
  readonly claims: ReceiptClaims;
}

export interface LivePlatform {
  readonly platform: Platform;
  /** The platform's base URL ("http://127.0.0.1:PORT"). */
  readonly url: string;
  readonly adminKey: string;
  api(method: string, path: string, call?: ApiCall): Promise<ApiAnswer>;
  /** A merchant made through the API with the admin key, and its ledger account. */
  createMerchant(name: string, feeBasisPoints: number): Promise<LiveMerchant>;
  /** An API key of the merchant's with these scopes, issued with the admin key; its secret. */
  createApiKey(merchant: LiveMerchant, scopes: readonly string[]): Promise<string>;
  /** Signs a user up and logs them in through the API; the session token. */
  signUp(email: string): Promise<string>;
  /** Tops the wallet up through the API with the sandbox's always-good card. */
  topUp(token: string, amount: string): Promise<void>;
  /** `GET /v1/wallet`: what the wallet can spend, in micro-units, when nothing is held. */
  walletMicros(token: string): Promise<bigint>;
  /** `GET /v1/wallet`: what the wallet can spend and what is held from it (sessions' deposits). */
  wallet(token: string): Promise<LiveWallet>;
  /** A merchant's posted balance, from the platform's ledger. */
  merchantMicros(merchant: LiveMerchant): Promise<bigint>;
  /** Pays a challenge as a client would: `POST /v1/payments { challenge }`. */
  payChallenge(token: string, challenge: Challenge): Promise<PlatformPayment>;
  close(): Promise<void>;
}

export interface LiveWallet {
  readonly balanceMicros: bigint;
  readonly reservedMicros: bigint;
}

export interface LiveMerchant {
  readonly merchantId: string;
  readonly accountId: bigint;
}

function micros(text: unknown): bigint {
  const parsed = parseAmount(String(text));
  assert.ok(parsed.ok, `an amount: ${String(text)}`);
  return parsed.value;
}

/**
 * Starts the platform on loopback. Options go to createPlatform: the token denominations, the
 * deployment's policy (a test's: one that challenges, say), a clock the test moves, and whether
 * the background jobs run (not where the test moves the clock and runs what it needs itself).
 */
export async function startLivePlatform(
  options: Pick<
    PlatformOptions,
    'tokenDenominationsMicros' | 'policy' | 'clock' | 'backgroundJobs'
  > = {},
): Promise<LivePlatform> {
  const platform = await createPlatform({
    dataDir: tempDir('mite-e2e-'),
    env: {},
    logger: pino({ level: 'silent' }),
    funding: { provider: 'sandbox' },
    // One reader pays many times a minute here: the adapters are under test, not the risk rules.
    riskRules: noRiskRules,
    ...options,
  });
  let url: string;
  try {
    url = await platform.app.listen({ port: 0, host: '127.0.0.1' });
  } catch (error) {
    await platform.close();
    throw error;
  }
  const api = async (method: string, path: string, call: ApiCall = {}): Promise<ApiAnswer> => {
    const headers: Record<string, string> = {};
    if (call.bearer !== undefined) headers['authorization'] = `Bearer ${call.bearer}`;
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET') headers['idempotency-key'] = randomUUID();
    const response = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
    });
    const text = await response.text();
    const body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    return { status: response.status, body, headers: response.headers };
  };
  const admin = await platform.bootstrapAdminKey();
  assert.ok(admin, 'a fresh platform makes its first admin key');
  const adminKey = admin.secret;
  const wallet = async (token: string): Promise<LiveWallet> => {
    const answer = await api('GET', '/v1/wallet', { bearer: token });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return {
      balanceMicros: micros(answer.body['balance']),
      reservedMicros: micros(answer.body['reserved']),
    };
  };

  return {
    platform,
    url,
    adminKey,
    api,
    async createMerchant(name, feeBasisPoints) {
      const created = await api('POST', '/v1/merchants', {
        bearer: adminKey,
        body: { name, feeBasisPoints, payoutThreshold: '10.00' },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const merchantId = String(created.body['merchantId']);
      const row = await platform.platformDb.db
        .selectFrom('merchants')
        .select('account_id')
        .where('id', '=', merchantId)
        .executeTakeFirstOrThrow();
      return { merchantId, accountId: BigInt(row.account_id) };
    },
    async createApiKey(merchant, scopes) {
      const key = await api('POST', `/v1/merchants/${merchant.merchantId}/api-keys`, {
        bearer: adminKey,
        body: { scopes },
      });
      assert.equal(key.status, 201, JSON.stringify(key.body));
      return String(key.body['secret']);
    },
    async signUp(email) {
      const credentials = { email, password: 'a long enough passphrase' };
      const signedUp = await api('POST', '/v1/users', { body: credentials });
      assert.equal(signedUp.status, 201, JSON.stringify(signedUp.body));
      const session = await api('POST', '/v1/sessions', { body: credentials });
      assert.equal(session.status, 201, JSON.stringify(session.body));
      return String(session.body['token']);
    },
    async topUp(token, amount) {
      const card = { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' };
      const topped = await api('POST', '/v1/topups', { bearer: token, body: { amount, card } });
      assert.equal(topped.status, 201, JSON.stringify(topped.body));
      assert.equal(topped.body['state'], 'succeeded');
    },
    async walletMicros(token) {
      const { balanceMicros, reservedMicros } = await wallet(token);
      assert.equal(reservedMicros, 0n, 'nothing is left on hold');
      return balanceMicros;
    },
    wallet,
    async merchantMicros(merchant) {
      const [account] = await platform.ledger.lookupAccounts([merchant.accountId]);
      assert.ok(account, 'the merchant has a ledger account');
      return account.creditsPosted - account.debitsPosted;
    },
    async payChallenge(token, challenge) {
      const paid = await api('POST', '/v1/payments', {
        bearer: token,
        body: { challenge: challengeEcho(challenge) },
      });
      assert.equal(paid.status, 201, JSON.stringify(paid.body));
      return paid.body as unknown as PlatformPayment;
    },
    close: () => platform.close(),
  };
}

export type ShopKind = 'node:http' | 'Express';

export const articlePrice = '0.02';
export const answerPrice = '0.001';
export const summaryPrice = '0.01';
export const fullReportPrice = '0.05';

/**
 * What every shop sells: articles (a day's access each), a single-use API answer, and reports
 * whose price depends on the edition asked for (a header), so one resource has two prices.
 */
export const shopRoutes: readonly PricedRoute[] = [
  {
    method: 'GET',
    path: '/articles/:id',
    price: articlePrice,
    description: 'An article',
    category: 'news',
    accessPeriodSeconds: 86_400,
  },
  { method: 'GET', path: '/api/answer', price: answerPrice, description: 'One answer' },
  {
    method: 'GET',
    path: '/reports/:id',
    price: (request) => (request.headers['x-edition'] === 'full' ? fullReportPrice : summaryPrice),
    description: 'A report',
    accessPeriodSeconds: 3_600,
  },
];

export interface LiveShop {
  readonly kind: ShopKind;
  /** The shop's base URL ("http://127.0.0.1:PORT"). */
  readonly url: string;
  readonly merchant: LiveMerchant;
  /** Moves the shop's clock (what its challenges say and how it judges times) from real time. */
  setClockOffsetSeconds(seconds: number): void;
  /** The shop's clock, in seconds. */
  nowSeconds(): number;
  close(): Promise<void>;
}

function payerOf(paid: PaidOutcome | undefined): string {
  return paid?.receipt.payer ?? 'nobody';
}

/** The node:http shop's own little router. */
async function nodeShop(
  request: IncomingMessage,
  response: ServerResponse,
  paid: PaidOutcome | undefined,
): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://shop.invalid').pathname;
  const send = (status: number, text: string) => {
    response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
    response.end(text);
  };
  const article = /^\/articles\/([^/]+)$/.exec(path);
  const report = /^\/reports\/([^/]+)$/.exec(path);
  if (path === '/free') send(200, 'free for all');
  else if (article !== null) send(200, `article ${article[1]} for ${payerOf(paid)}`);
  else if (path === '/api/answer') send(200, `42 for ${payerOf(paid)}`);
  else if (report !== null) {
    const edition = request.headers['x-edition'] === 'full' ? 'full' : 'summary';
    send(200, `${edition} report ${report[1]} for ${payerOf(paid)}`);
  } else send(404, 'not found');
}

function expressShop(paywall: ReturnType<typeof createPaywall>): Server {
  const app = express();
  app.use(expressPaywall(paywall));
  app.get('/free', (_request, response) => void response.send('free for all'));
  app.get('/articles/:id', (request, response) => {
    response.send(`article ${String(request.params['id'])} for ${request.miteReceipt?.payer}`);
  });
  app.get('/api/answer', (request, response) => {
    response.send(`42 for ${request.miteReceipt?.payer}`);
  });
  app.get('/reports/:id', (request, response) => {
    const edition = request.get('x-edition') === 'full' ? 'full' : 'summary';
    const id = String(request.params['id']);
    response.send(`${edition} report ${id} for ${request.miteReceipt?.payer}`);
  });
  return createServer(app);
}

export async function startShop(
  kind: ShopKind,
  platformUrl: string,
  merchant: LiveMerchant,
  options: Pick<PaywallOptions, 'origin' | 'tokens'> = {},
): Promise<LiveShop> {
  let offsetMs = 0;
  const paywall = createPaywall({
    merchantId: merchant.merchantId,
    realm: kind === 'Express' ? 'express-news.example' : 'node-news.example',
    platformUrl,
    challengeSecret: new Uint8Array(randomBytes(32)),
    clock: () => Date.now() + offsetMs,
    routes: shopRoutes,
    ...options,
  });
  const server =
    kind === 'Express' ? expressShop(paywall) : createServer(withPaywall(paywall, nodeShop));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    kind,
    url: `http://127.0.0.1:${port}`,
    merchant,
    setClockOffsetSeconds: (seconds) => void (offsetMs = seconds * 1000),
    nowSeconds: () => Math.floor((Date.now() + offsetMs) / 1000),
    close() {
      // fetch keeps connections alive, which would hold close() open.
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The Mite challenge of a 402, read as a client would at `nowSeconds`. */
export function challengeOf(response: Response, nowSeconds = Math.floor(Date.now() / 1000)) {
  const header = response.headers.get('www-authenticate');
  assert.ok(header !== null, 'a 402 carries WWW-Authenticate');
  const challenge = parseChallengeHeader(header, { nowSeconds });
  assert.ok(challenge.ok, `a usable challenge: ${challenge.ok ? '' : challenge.detail}`);
  return challenge.value;
}
