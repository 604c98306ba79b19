/**
 * Test worlds built from the composition root `mite serve` uses (createPlatform), with overrides:
 * a whole platform for service tests (platformFor), or one listening on loopback for tests over
 * real HTTP (startPlatformUnderTest).
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { requirePgDatabase, tempDir } from '@mite/testkit';
import pino from 'pino';
import { apiKeyScopes } from './auth/scopes.ts';
import type { PlatformDialect } from './db/platform-db.ts';
import { createPlatform, type Platform, type PlatformOptions, storeUrls } from './platform.ts';

export type Backend = PlatformDialect;

import { noRiskRules } from './risk/rule-set.ts';

export { noRiskRules };

/**
 * What a test may set on its platform; the rest is as `mite serve` has it with an empty
 * environment: a data directory of its own, a silent logger, no card processor.
 */
export type PlatformOverrides = Partial<Omit<PlatformOptions, 'databaseUrl'>>;

/** A platform for a test, and the URL of its platform database, for a second connection. */
export type TestPlatform = Platform & { readonly platformUrl: string };

/**
 * Stores as a platform's first start leaves them, before any request: the ledger's and the
 * platform database's migrations run, the platform's ledger accounts made, the start-up data
 * upgrades recorded (with nothing to upgrade). Made once per test process and dialect by
 * createPlatform itself, then copied for each world, so that a world costs a file copy (SQLite)
 * or `CREATE DATABASE ... TEMPLATE` (PostgreSQL) instead of every migration and the first
 * start's writes (each a durable commit). A world is then a platform started again on stores it
 * started on once, as after a restart; its keys are its own (they are not in the stores).
 */
const migratedTemplates = new Map<PlatformDialect, Promise<string>>();

async function migrate(location: { dataDir: string; databaseUrl?: string }): Promise<void> {
  const platform = await createPlatform({
    ...location,
    env: {},
    logger: pino({ level: 'silent' }),
    backgroundJobs: false,
  });
  // The platform's root key is wrapped under this start's master key, which the worlds copied
  // from here do not have: each world makes its own root at its first start, as a new install.
  await platform.platformDb.db.deleteFrom('data_keys').execute();
  await platform.close();
}

/** The migrated template of a dialect: a data directory (SQLite) or a database URL. */
function migratedTemplate(dialect: PlatformDialect): Promise<string> {
  let template = migratedTemplates.get(dialect);
  if (template === undefined) {
    template = (async () => {
      if (dialect === 'postgres') {
        const databaseUrl = await requirePgDatabase();
        await migrate({ dataDir: tempDir('mite-template-'), databaseUrl });
        return databaseUrl;
      }
      const dataDir = tempDir('mite-template-');
      await migrate({ dataDir });
      return dataDir;
    })();
    migratedTemplates.set(dialect, template);
  }
  return template;
}

/** SQLite's store files in a data directory (storeUrls); closed, each is one whole file. */
const sqliteStoreFiles = ['ledger.sqlite', 'platform.sqlite'] as const;

/** A fresh data directory, and on PostgreSQL a fresh database, both holding migrated stores. */
async function migratedStores(
  dialect: PlatformDialect,
): Promise<{ dataDir: string; databaseUrl?: string }> {
  const template = await migratedTemplate(dialect);
  const dataDir = tempDir('mite-platform-');
  if (dialect === 'postgres') {
    return { dataDir, databaseUrl: await requirePgDatabase({ template }) };
  }
  for (const file of sqliteStoreFiles) {
    // A clean close checkpoints the write-ahead log into the file and removes it.
    if (existsSync(join(template, `${file}-wal`))) throw new Error(`${file} was left open`);
    // copyFileSync keeps the template's owner-only mode.
    copyFileSync(join(template, file), join(dataDir, file));
  }
  return { dataDir };
}

/**
 * A platform built by createPlatform for a test registered by forEachDialect (db/testing.ts),
 * closed when the test ends. On PostgreSQL, the ledger and the platform tables share one fresh
 * database, as in production; on SQLite, both are files in a fresh data directory. Either starts
 * as a copy of migrated stores (migratedTemplate).
 */
export async function platformFor(
  t: TestContext,
  dialect: PlatformDialect,
  overrides: PlatformOverrides = {},
): Promise<TestPlatform> {
  const stores = await migratedStores(dialect);
  const platform = await createPlatform({
    ...stores,
    env: {},
    logger: pino({ level: process.env.MITE_TEST_LOG ?? 'silent' }),
    // Test worlds pay many times a minute from one address, which the default risk rules rightly
    // challenge: they have their own tests (risk/), which ask for them (`riskRules`).
    riskRules: noRiskRules,
    ...overrides,
  });
  t.after(() => platform.close());
  return { ...platform, platformUrl: storeUrls(stores).platformUrl };
}

export interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  readonly body: Record<string, unknown> | undefined;
}

export interface CallOptions {
  /** A bearer credential. */
  readonly auth?: string | undefined;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Sent as is, with `content-type: application/json`. */
  readonly rawBody?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface PlatformUnderTest {
  readonly platform: Platform;
  readonly baseUrl: string;
  /** The operator's admin key. */
  readonly admin: string;
  /** Mutating calls get a fresh Idempotency-Key unless `headers` give one. */
  call(method: string, path: string, options?: CallOptions): Promise<Answer>;
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * Starts a platform listening on loopback, closed after the test, for a test registered by
 * forEachDialect. Top-ups through the sandbox card processor, and its webhook route, are under
 * test too.
 */
export async function startPlatformUnderTest(
  t: TestContext,
  backend: Backend,
  overrides: PlatformOverrides = {},
): Promise<PlatformUnderTest> {
  const platform = await platformFor(t, backend, {
    funding: { provider: 'sandbox' },
    ...overrides,
  });
  const baseUrl = await platform.app.listen({ port: 0, host: '127.0.0.1' });
  const admin = await platform.bootstrapAdminKey();
  if (admin === undefined) throw new Error('a fresh platform makes its first admin key');
  let keys = 0;
  const call = async (method: string, path: string, callOptions: CallOptions = {}) => {
    const headers: Record<string, string> = {};
    if (callOptions.auth !== undefined) headers.authorization = `Bearer ${callOptions.auth}`;
    if (method !== 'GET') headers['idempotency-key'] = `key-${++keys}`;
    const body =
      callOptions.rawBody ??
      (callOptions.body === undefined ? undefined : JSON.stringify(callOptions.body));
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { ...headers, ...callOptions.headers },
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      text,
      body: parseJson(text),
    };
  };
  return { platform, baseUrl, admin: admin.secret, call };
}

export interface Shop {
  readonly merchantId: string;
  /** A merchant API key with every scope. */
  readonly apiKey: string;
  readonly offerId: string;
  readonly userId: string;
  /** The user's session token. */
  readonly user: string;
  readonly topUpId: string;
  readonly paymentId: string;
  readonly webhookEndpointId: string;
}

/** The body of an answer of this status; else an error naming what was asked and what came back. */
export function expectStatus(
  answer: Answer,
  status: number,
  what: string,
): Record<string, unknown> {
  if (answer.status !== status || answer.body === undefined) {
    throw new Error(`${what}: expected ${status}, got ${answer.status} ${answer.text}`);
  }
  return answer.body;
}

/** A merchant the operator made, and an API key of these scopes (every one by default). */
export async function createMerchantWithKey(
  env: PlatformUnderTest,
  options: {
    readonly name: string;
    readonly feeBasisPoints?: number;
    readonly scopes?: readonly string[];
  },
): Promise<{ readonly merchantId: string; readonly apiKey: string }> {
  const { call, admin } = env;
  const merchant = expectStatus(
    await call('POST', '/v1/merchants', {
      auth: admin,
      body: {
        name: options.name,
        feeBasisPoints: options.feeBasisPoints ?? 1000,
        payoutThreshold: '10.00',
      },
    }),
    201,
    'merchant',
  );
  const merchantId = String(merchant.merchantId);
  const key = expectStatus(
    await call('POST', `/v1/merchants/${merchantId}/api-keys`, {
      auth: admin,
      body: { scopes: [...(options.scopes ?? apiKeyScopes)] },
    }),
    201,
    'api key',
  );
  return { merchantId, apiKey: String(key.secret) };
}

/** A person signed up and logged in (their session token), who topped up by card. */
export async function signUpAndTopUp(
  env: PlatformUnderTest,
  person: {
    readonly email: string;
    readonly password: string;
    readonly topUp: string;
    readonly cardNumber?: string;
  },
): Promise<{ readonly userId: string; readonly user: string; readonly topUpId: string }> {
  const { call } = env;
  const credentials = { email: person.email, password: person.password };
  const signedUp = expectStatus(
    await call('POST', '/v1/users', { body: credentials }),
    201,
    'user',
  );
  const session = expectStatus(
    await call('POST', '/v1/sessions', { body: credentials }),
    201,
    'log in',
  );
  const user = String(session.token);
  const card = {
    number: person.cardNumber ?? '4242424242424242',
    expMonth: 12,
    expYear: 2099,
    cvc: '123',
  };
  const topUp = expectStatus(
    await call('POST', '/v1/topups', { auth: user, body: { amount: person.topUp, card } }),
    201,
    'top-up',
  );
  return { userId: String(signedUp.userId), user, topUpId: String(topUp.id) };
}

/**
 * A merchant with a key and an offer, a user who topped up by card and bought it once, and a
 * webhook endpoint: one of each thing the API has ids for.
 */
export async function setUpShop(env: PlatformUnderTest): Promise<Shop> {
  const { call } = env;
  const { merchantId, apiKey } = await createMerchantWithKey(env, { name: 'Daily News' });
  const offer = expectStatus(
    await call('POST', '/v1/offers', {
      auth: apiKey,
      body: {
        resource: '/articles/1',
        title: 'One',
        price: '0.02',
        category: 'content',
        accessPeriodSeconds: 86400,
      },
    }),
    201,
    'offer',
  );
  const { userId, user, topUpId } = await signUpAndTopUp(env, {
    email: 'ada@example.com',
    password: 'a long passphrase',
    topUp: '5.00',
  });
  const payment = expectStatus(
    await call('POST', '/v1/payments', { auth: user, body: { offerId: String(offer.id) } }),
    201,
    'payment',
  );
  const endpoint = expectStatus(
    await call('POST', '/v1/webhook-endpoints', {
      auth: apiKey,
      body: { url: 'https://example.com/hooks', eventTypes: ['payment.succeeded'] },
    }),
    201,
    'webhook endpoint',
  );
  return {
    merchantId,
    apiKey,
    offerId: String(offer.id),
    userId,
    user,
    topUpId,
    paymentId: String(payment.paymentId ?? payment.id),
    webhookEndpointId: String(endpoint.id ?? endpoint.endpointId),
  };
}

/** A person logged in to a dashboard or the console: their session token, as a bearer. */
export interface StaffLogin {
  readonly userId: string;
  readonly token: string;
}

/**
 * A person who signs up as a merchant through the API (its owner) and logs in to its dashboard:
 * the session acts as the merchant, like an API key with every scope and the members' scopes.
 */
export async function logInMerchantPerson(
  env: PlatformUnderTest,
  input: { email: string; password?: string; merchantName: string },
): Promise<StaffLogin & { readonly merchantId: string }> {
  const credentials = { email: input.email, password: input.password ?? 'a long passphrase' };
  const signedUp = expectStatus(
    await env.call('POST', '/v1/merchant-signups', {
      body: { ...credentials, merchantName: input.merchantName },
    }),
    201,
    'merchant sign-up',
  );
  const merchantId = String(signedUp.merchantId);
  const session = expectStatus(
    await env.call('POST', '/v1/merchant-sessions', { body: { ...credentials, merchantId } }),
    201,
    'dashboard log-in',
  );
  return { userId: String(signedUp.userId), merchantId, token: String(session.token) };
}

/** The platform's first operator person, made as setup makes it, logged in to the console. */
export async function logInOperatorPerson(
  env: PlatformUnderTest,
  email = 'operator@example.com',
): Promise<StaffLogin & { readonly email: string; readonly password: string }> {
  const first = await env.platform.bootstrapOperator(email);
  if (first === undefined) throw new Error('the platform has an operator already');
  const session = expectStatus(
    await env.call('POST', '/v1/operator-sessions', { body: first }),
    201,
    'console log-in',
  );
  const me = expectStatus(
    await env.call('GET', '/v1/operator-session', { auth: String(session.token) }),
    200,
    'console session',
  );
  return { ...first, userId: String(me.userId), token: String(session.token) };
}
