import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type {
  IdempotencyBeginInput,
  IdempotencyBeginOutcome,
  IdempotencyGuard,
  IdempotencyRecordKey,
  IdempotentResponse,
} from './idempotency.ts';
import { requestHashOf } from './idempotency-plugin.ts';
import { sendProblem } from './problems.ts';
import { call, createTestApp } from './test-routes.ts';
import { type ListeningApp, listenOnLoopback } from './testing.ts';

interface MemoryRecord {
  readonly method: string;
  readonly path: string;
  readonly requestHash: string;
  response?: IdempotentResponse;
}

/** The IdempotencyGuard contract, in memory: what the database store does across nodes. */
class MemoryIdempotencyGuard implements IdempotencyGuard {
  readonly records = new Map<string, MemoryRecord>();
  readonly begun: IdempotencyBeginInput[] = [];

  async begin(input: IdempotencyBeginInput): Promise<IdempotencyBeginOutcome> {
    this.begun.push(input);
    const found = await this.lookup(input);
    if (found !== undefined) return found;
    const { method, path, requestHash } = input;
    this.records.set(`${input.principal}\n${input.key}`, { method, path, requestHash });
    return { outcome: 'started' };
  }

  async lookup(input: IdempotencyBeginInput): Promise<IdempotencyBeginOutcome | undefined> {
    const record = this.records.get(`${input.principal}\n${input.key}`);
    if (record === undefined) return undefined;
    const same =
      record.method === input.method &&
      record.path === input.path &&
      record.requestHash === input.requestHash;
    if (!same) return { outcome: 'mismatch' };
    if (record.response === undefined) return { outcome: 'inProgress' };
    return { outcome: 'replay', ...record.response };
  }

  async complete(input: IdempotencyRecordKey & IdempotentResponse): Promise<void> {
    const { principal, key, ...response } = input;
    const record = this.records.get(`${principal}\n${key}`);
    if (record === undefined || record.response !== undefined) throw new Error('not in progress');
    record.response = response;
  }

  async abandon(input: IdempotencyRecordKey): Promise<boolean> {
    return this.records.delete(`${input.principal}\n${input.key}`);
  }
}

/** What the sample payment route did, so that tests can tell a replay from a second run. */
const effects = {
  runs: 0,
  failNext: false,
  gate: undefined as Promise<void> | undefined,
  /** Called as a run of the payment handler starts. */
  onRun: undefined as (() => void) | undefined,
};

const paymentRoutes: FastifyPluginAsyncZod = async (api) => {
  api.post(
    '/v1/payments',
    {
      schema: {
        body: z.object({ offerId: z.string(), amountMicros: z.number().int().positive() }),
      },
      config: {
        auth: { kinds: ['user', 'merchant'], scopes: ['widgets:write'] },
        idempotent: true,
      },
    },
    async (request, reply) => {
      effects.runs += 1;
      effects.onRun?.();
      if (effects.gate !== undefined) await effects.gate;
      if (effects.failNext) {
        effects.failNext = false;
        throw new Error('the ledger is down');
      }
      if (request.body.amountMicros > 1_000) return sendProblem(reply, 'insufficientFunds');
      reply.header('location', `/v1/payments/${effects.runs}`);
      return reply.code(201).send({ paymentId: randomUUID(), run: effects.runs });
    },
  );
  api.post('/v1/quotes', { config: { auth: 'public', idempotent: false } }, async () => ({
    quoteId: randomUUID(),
  }));
};

/**
 * A route whose handler makes the request idempotent itself (`inHandler`), as the purchase route
 * does with the payment's unique (payer, key): the plugin checks the key and keeps no record.
 */
const purchaseRoutes: FastifyPluginAsyncZod = async (api) => {
  api.post(
    '/v1/purchases',
    {
      schema: { body: z.object({ offerId: z.string() }) },
      config: { auth: { kinds: ['user'] }, idempotent: 'inHandler' },
    },
    async (request) => {
      effects.runs += 1;
      return { key: request.headers['idempotency-key'], run: effects.runs };
    },
  );
};

const user = { authorization: 'Bearer user-token' };
const merchant = { authorization: 'Bearer merchant-token' };
const payment = { offerId: 'o1', amountMicros: 250 };

describe('the idempotency plugin', () => {
  const guard = new MemoryIdempotencyGuard();
  let server: ListeningApp;

  before(async () => {
    const app = createTestApp({ idempotency: guard });
    void app.register(paymentRoutes);
    void app.register(purchaseRoutes);
    server = await listenOnLoopback(app);
  });
  after(() => server.close());
  beforeEach(() => {
    effects.runs = 0;
    effects.failNext = false;
    effects.gate = undefined;
    effects.onRun = undefined;
  });

  function pay(key: string | undefined, body: unknown = payment, headers = user) {
    const withKey = key === undefined ? headers : { ...headers, 'idempotency-key': key };
    return call(server.baseUrl, 'POST', '/v1/payments', { body, headers: withKey });
  }

  test('a retry gets the first response again, byte for byte, without running', async () => {
    const key = randomUUID();
    const first = await pay(key);
    assert.equal(first.status, 201);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    const reordered = { amountMicros: payment.amountMicros, offerId: payment.offerId };
    const retry = await pay(key, reordered);
    assert.equal(retry.status, 201);
    assert.equal(retry.text, first.text);
    assert.equal(retry.headers.get('content-type'), first.headers.get('content-type'));
    assert.equal(retry.headers.get('location'), first.headers.get('location'));
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.equal(effects.runs, 1);
    const begun = guard.begun.at(-1);
    assert.equal(begun?.principal, 'user:u1');
    assert.equal(begun?.path, '/v1/payments');
    assert.equal(begun?.requestHash, requestHashOf('POST', '/v1/payments', payment));
  });

  test('the same key on a different request is refused', async () => {
    const key = randomUUID();
    assert.equal((await pay(key)).status, 201);
    const other = await pay(key, { ...payment, amountMicros: 251 });
    assert.equal(other.status, 422);
    assert.equal(other.json().type, '/v1/problems/idempotency-key-reused');
    assert.equal(effects.runs, 1);
  });

  test('a retry while the first request runs is told to wait', async () => {
    const key = randomUUID();
    let open = () => {};
    effects.gate = new Promise((resolve) => (open = resolve));
    const started = new Promise<void>((resolve) => (effects.onRun = resolve));
    const first = pay(key);
    await started;
    const concurrent = await pay(key);
    assert.equal(concurrent.status, 409);
    assert.equal(concurrent.json().type, '/v1/problems/idempotency-request-in-progress');
    open();
    assert.equal((await first).status, 201);
    assert.equal((await pay(key)).headers.get('idempotent-replayed'), 'true');
    assert.equal(effects.runs, 1);
  });

  test('the key is required, and must be 1 to 255 visible ASCII characters', async () => {
    const missing = await pay(undefined);
    assert.equal(missing.status, 400);
    assert.equal(missing.json().type, '/v1/problems/idempotency-key-required');
    for (const key of ['', 'has space', 'k'.repeat(256), 'caf\u00e9']) {
      const invalid = await pay(key);
      assert.equal(invalid.status, 400, JSON.stringify(key));
      assert.equal(invalid.json().type, '/v1/problems/idempotency-key-invalid');
    }
    assert.equal((await pay('k'.repeat(255))).status, 201);
    assert.equal(effects.runs, 1);
  });

  test('client errors are kept and replayed; server errors are forgotten', async () => {
    const refusedKey = randomUUID();
    const refused = await pay(refusedKey, { ...payment, amountMicros: 5_000 });
    assert.equal(refused.status, 409);
    const again = await pay(refusedKey, { ...payment, amountMicros: 5_000 });
    assert.equal(again.text, refused.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    const failedKey = randomUUID();
    effects.failNext = true;
    assert.equal((await pay(failedKey)).status, 500);
    const retried = await pay(failedKey);
    assert.equal(retried.status, 201);
    assert.equal(retried.headers.get('idempotent-replayed'), null);
    assert.equal(effects.runs, 3);
  });

  test('a refused request uses up no key, and keys are per principal', async () => {
    const key = randomUUID();
    assert.equal((await pay(key, { offerId: 'o1' })).status, 400);
    assert.equal((await pay(key, payment, { authorization: 'Bearer nobody' })).status, 401);
    const mine = await pay(key);
    const theirs = await pay(key, payment, merchant);
    assert.equal(mine.status, 201);
    assert.equal(theirs.status, 201);
    assert.notEqual(mine.text, theirs.text);
    assert.equal(effects.runs, 2);
  });

  test('the OpenAPI document and the docs page show the header', async () => {
    const document = (await call(server.baseUrl, 'GET', '/v1/openapi.json')).json();
    const paths = document.paths as Record<string, Record<string, Record<string, unknown>>>;
    const operation = paths['/v1/payments']?.post;
    assert.equal(operation?.['x-mite-idempotent'], true);
    const parameters = operation?.parameters as Record<string, unknown>[];
    const header = parameters.find((parameter) => parameter.name === 'Idempotency-Key');
    assert.deepEqual(
      { in: header?.in, required: header?.required },
      { in: 'header', required: true },
    );
    const docs = await call(server.baseUrl, 'GET', '/v1/docs/json');
    assert.deepEqual(docs.json(), document, 'the docs page shows the same document');
  });

  test('a route that keeps the request idempotent itself gets a checked key, and no record', async () => {
    const buy = (headers: Record<string, string>) =>
      call(server.baseUrl, 'POST', '/v1/purchases', {
        body: { offerId: 'o1' },
        headers: { ...user, ...headers },
      });
    assert.equal((await buy({})).json().type, '/v1/problems/idempotency-key-required');
    assert.equal((await buy({ 'idempotency-key': 'has space' })).status, 400);
    const begun = guard.begun.length;
    const key = randomUUID();
    const first = await buy({ 'idempotency-key': key });
    const second = await buy({ 'idempotency-key': key });
    assert.deepEqual(
      [first.json(), second.json()],
      [
        { key, run: 1 },
        { key, run: 2 },
      ],
    );
    assert.equal(second.headers.get('idempotent-replayed'), null, 'the plugin replays nothing');
    assert.equal(guard.begun.length, begun, 'and begins no record');
    const operation = (await call(server.baseUrl, 'GET', '/v1/openapi.json')).json()
      .paths as Record<string, Record<string, Record<string, unknown>>>;
    assert.equal(operation['/v1/purchases']?.post?.['x-mite-idempotent'], true);
  });

  test('routes that do not opt in ignore the header', async () => {
    const headers = { 'idempotency-key': 'same' };
    const first = await call(server.baseUrl, 'POST', '/v1/quotes', { headers });
    const second = await call(server.baseUrl, 'POST', '/v1/quotes', { headers });
    assert.equal(first.status, 200);
    assert.notEqual(first.text, second.text);
  });
});

test('the request hash ignores key order but not values', () => {
  assert.equal(
    requestHashOf('POST', '/a', { b: 1, a: [{ d: 2, c: 3 }] }),
    requestHashOf('POST', '/a', { a: [{ c: 3, d: 2 }], b: 1 }),
  );
  assert.equal(requestHashOf('POST', '/a', undefined), requestHashOf('POST', '/a', undefined));
  assert.notEqual(requestHashOf('POST', '/a', { x: 1 }), requestHashOf('POST', '/a', { x: 2 }));
  assert.notEqual(requestHashOf('POST', '/a', { x: 1 }), requestHashOf('PUT', '/a', { x: 1 }));
});
