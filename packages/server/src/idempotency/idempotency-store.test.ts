import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { type KyselyPlugin, sql } from 'kysely';
import { platformMigrations } from '../db/migrations/index.ts';
import type { PlatformDb } from '../db/platform-db.ts';
import { databaseUrlFor, forEachDialect, openForTest, platformDbFor } from '../db/testing.ts';
import {
  createIdempotencyStore,
  type IdempotencyRequest,
  IdempotencyStateError,
  idempotencyKeyMaxLength,
  idempotencyRetentionMs,
  type IdempotencyStore,
  InvalidIdempotencyKeyError,
  isValidIdempotencyKey,
} from './idempotency-store.ts';
import { testCipher } from '../privacy/personal-data-cipher.ts';

const request: IdempotencyRequest = {
  principal: 'user:0190f3d2-0000-7000-8000-000000000001',
  key: 'retry-me-7f3a',
  method: 'POST',
  path: '/v1/payments',
  requestHash: 'sha256:aaaa',
};

const response = {
  status: 201,
  headers: { 'content-type': 'application/json', location: '/v1/payments/p1' },
  body: '{"id":"p1"}',
};

const t0Ms = 1_750_000_000_000;
/** One master key for every store of a test, as every node of a platform shares one. */
const cipher = testCipher();

/** A store over a fresh database with a clock the test moves. */
async function setUp(t: TestContext, dialect: PlatformDb['dialect']) {
  const platformDb = await platformDbFor(t, dialect);
  const clock = { nowMs: t0Ms };
  const store = createIdempotencyStore(platformDb, { clock: () => clock.nowMs, cipher });
  return { platformDb, clock, store };
}

async function completeOnce(store: IdempotencyStore, req: IdempotencyRequest = request) {
  assert.deepEqual(await store.begin(req), { outcome: 'started' });
  await store.complete({ principal: req.principal, key: req.key, ...response });
}

forEachDialect('the idempotency store', (dialect, it) => {
  it(`begin, complete, then replay`, async (t) => {
    const setup = await setUp(t, dialect);
    const { store } = setup;
    assert.deepEqual(await store.begin(request), { outcome: 'started' });
    assert.deepEqual(await store.begin(request), { outcome: 'inProgress' });
    await store.complete({ principal: request.principal, key: request.key, ...response });
    assert.deepEqual(await store.begin(request), { outcome: 'replay', ...response });
    assert.deepEqual(await store.begin(request), { outcome: 'replay', ...response });
  });

  it(`a kept response is stored encrypted, bound to its record`, async (t) => {
    const setup = await setUp(t, dialect);
    const { store, platformDb } = setup;
    const secret = 'mite_k_s3cr3t-shown-once';
    const iban = 'DE89370400440532013000';
    const sent = { ...response, body: JSON.stringify({ secret, iban }) };
    const other = { ...request, key: 'another-key' };
    for (const req of [request, other]) {
      await store.begin(req);
      await store.complete({ principal: req.principal, key: req.key, ...sent });
    }
    const rows = await platformDb.db.selectFrom('idempotency_records').selectAll().execute();
    const stored = JSON.stringify(rows, (_key, value: unknown) =>
      typeof value === 'bigint' ? value.toString() : value,
    );
    for (const clear of [secret, iban, 'application/json', '/v1/payments/p1']) {
      assert.ok(!stored.includes(clear), `${clear} is stored in the clear`);
    }
    assert.deepEqual(await store.begin(request), { outcome: 'replay', ...sent });
    // A ciphertext copied onto another record does not open there.
    const first = rows.find((row) => row.idempotency_key === request.key);
    await platformDb.db
      .updateTable('idempotency_records')
      .set({ response_body: first?.response_body ?? null })
      .where('idempotency_key', '=', other.key)
      .execute();
    await assert.rejects(store.begin(other));
  });

  it(`responses kept in the clear by earlier versions are sealed once`, async (t) => {
    const setup = await setUp(t, dialect);
    const { store, platformDb } = setup;
    const body = JSON.stringify({ secret: 'whsec_shown-once' });
    await platformDb.db
      .insertInto('idempotency_records')
      .values({
        principal: request.principal,
        idempotency_key: request.key,
        method: request.method,
        path: request.path,
        request_hash: request.requestHash,
        state: 'completed',
        response_status: 201,
        response_headers: JSON.stringify(response.headers),
        response_body: body,
        created_at: BigInt(t0Ms),
        expires_at: BigInt(t0Ms + idempotencyRetentionMs),
      })
      .execute();
    assert.equal(await store.sealPlaintextResponses(), 1);
    const rows = await platformDb.db.selectFrom('idempotency_records').selectAll().execute();
    assert.ok(!JSON.stringify(rows, (_k, v: unknown) => String(v)).includes('whsec_'));
    assert.deepEqual(await store.begin(request), { outcome: 'replay', ...response, body });
    assert.equal(await store.sealPlaintextResponses(), 0, 'once');
  });

  it(`another method, path or body under one key is a mismatch`, async (t) => {
    const setup = await setUp(t, dialect);
    const { store } = setup;
    assert.deepEqual(await store.begin(request), { outcome: 'started' });
    const others = [{ method: 'PUT' }, { path: '/v1/refunds' }, { requestHash: 'sha256:bbbb' }];
    // While the first runs, and after it completed.
    for (const other of others) {
      assert.deepEqual(await store.begin({ ...request, ...other }), { outcome: 'mismatch' });
    }
    await store.complete({ principal: request.principal, key: request.key, ...response });
    for (const other of others) {
      assert.deepEqual(await store.begin({ ...request, ...other }), { outcome: 'mismatch' });
    }
  });

  it(`keys are scoped per principal`, async (t) => {
    const setup = await setUp(t, dialect);
    const { store } = setup;
    await completeOnce(store);
    const other = { ...request, principal: 'merchant:m1', requestHash: 'sha256:cccc' };
    assert.deepEqual(await store.begin(other), { outcome: 'started' });
  });

  it(`abandon frees the key; a completed record stays`, async (t) => {
    const setup = await setUp(t, dialect);
    const { store } = setup;
    const key = { principal: request.principal, key: request.key };
    assert.deepEqual(await store.begin(request), { outcome: 'started' });
    assert.equal(await store.abandon(key), true);
    assert.equal(await store.abandon(key), false);
    assert.deepEqual(await store.begin(request), { outcome: 'started' });
    await store.complete({ ...key, ...response });
    assert.equal(await store.abandon(key), false);
    assert.deepEqual(await store.begin(request), { outcome: 'replay', ...response });
  });

  it(`complete needs an in-progress record`, async (t) => {
    const setup = await setUp(t, dialect);
    const { store } = setup;
    const key = { principal: request.principal, key: request.key };
    await assert.rejects(store.complete({ ...key, ...response }), IdempotencyStateError);
    await completeOnce(store);
    const second = { ...key, ...response, body: 'other' };
    await assert.rejects(store.complete(second), IdempotencyStateError);
    assert.deepEqual(await store.begin(request), { outcome: 'replay', ...response });
    await assert.rejects(store.complete({ ...key, ...response, status: 1000 }), RangeError);
  });

  it(`20 concurrent begins with one key: exactly one starts`, async (t) => {
    const url = await databaseUrlFor(dialect);
    const clock = { nowMs: t0Ms };
    // PostgreSQL: two handles, as two API nodes have. SQLite: one, as one process has (its
    // busy wait would block the event loop the other handle's open transaction needs); its 20
    // begins share batched transactions instead.
    const first = await openForTest(t, url);
    const handles = dialect === 'postgres' ? [first, await openForTest(t, url)] : [first, first];
    const stores = handles.map((platformDb) =>
      createIdempotencyStore(platformDb, { clock: () => clock.nowMs, cipher }),
    );
    const beginAll = async (req: IdempotencyRequest) => {
      const begun = Array.from({ length: 20 }, (_, i) => stores[i % 2]?.begin(req));
      const outcomes = (await Promise.all(begun)).map((result) => result?.outcome);
      assert.equal(outcomes.filter((outcome) => outcome === 'started').length, 1);
      return outcomes.filter((outcome) => outcome !== 'started');
    };
    assert.deepEqual(await beginAll(request), Array(19).fill('inProgress'));
    // Taking over an expired record is just as exclusive.
    clock.nowMs += idempotencyRetentionMs;
    const other = { ...request, requestHash: 'sha256:eeee' };
    assert.deepEqual(await beginAll(other), Array(19).fill('inProgress'));
  });

  it(`an expired record behaves as absent`, async (t) => {
    const setup = await setUp(t, dialect);
    const { store, clock } = setup;
    await completeOnce(store);
    clock.nowMs = t0Ms + idempotencyRetentionMs - 1;
    assert.deepEqual(await store.begin(request), { outcome: 'replay', ...response });
    clock.nowMs = t0Ms + idempotencyRetentionMs;
    // Even a different request may take the key over once it expired.
    const other = { ...request, requestHash: 'sha256:dddd' };
    assert.deepEqual(await store.begin(other), { outcome: 'started' });
    assert.deepEqual(await store.begin(request), { outcome: 'mismatch' });
    // A stuck in-progress record expires too.
    clock.nowMs += idempotencyRetentionMs;
    assert.deepEqual(await store.begin(request), { outcome: 'started' });
  });

  it(`a response is kept for the retention after it completed`, async (t) => {
    const setup = await setUp(t, dialect);
    const { store, clock } = setup;
    assert.deepEqual(await store.begin(request), { outcome: 'started' });
    clock.nowMs = t0Ms + 60_000; // a slow request
    await store.complete({ principal: request.principal, key: request.key, ...response });
    clock.nowMs = t0Ms + idempotencyRetentionMs + 59_999;
    assert.deepEqual(await store.begin(request), { outcome: 'replay', ...response });
  });

  it(`purgeExpired deletes what expired, only that`, async (t) => {
    const setup = await setUp(t, dialect);
    const { store, clock, platformDb } = setup;
    await completeOnce(store, { ...request, key: 'a' });
    assert.deepEqual(await store.begin({ ...request, key: 'b' }), { outcome: 'started' });
    clock.nowMs = t0Ms + 1_000;
    await completeOnce(store, { ...request, key: 'c' });
    assert.equal(await store.purgeExpired(), 0);
    clock.nowMs = t0Ms + idempotencyRetentionMs;
    assert.equal(await store.purgeExpired(), 2);
    const rows = await platformDb.db.selectFrom('idempotency_records').select('idempotency_key');
    assert.deepEqual(
      (await rows.execute()).map((row) => row.idempotency_key),
      ['c'],
    );
    assert.deepEqual(await store.begin({ ...request, key: 'c' }), {
      outcome: 'replay',
      ...response,
    });
    assert.equal(await store.purgeExpired(), 0);
  });

  it(`purgeExpired deletes in bounded batches, each statement at most its batch`, async (t) => {
    const platformDb = await platformDbFor(t, dialect);
    const clock = { nowMs: t0Ms };
    const deletesPerStatement: number[] = [];
    const deleteCounter: KyselyPlugin = {
      transformQuery: (args) => args.node,
      transformResult: (args) => {
        const deleted = args.result.numAffectedRows;
        if (deleted !== undefined) deletesPerStatement.push(Number(deleted));
        return Promise.resolve(args.result);
      },
    };
    const store = createIdempotencyStore(
      { ...platformDb, db: platformDb.db.withPlugin(deleteCounter) },
      { clock: () => clock.nowMs, cipher, purgeBatchRecords: 2 },
    );
    for (const key of ['a', 'b', 'c', 'd', 'e']) {
      await completeOnce(store, { ...request, key });
      clock.nowMs += 1;
    }
    clock.nowMs = t0Ms + idempotencyRetentionMs + 2; // a, b and c expired; d and e not yet
    deletesPerStatement.length = 0;
    assert.equal(await store.purgeExpired(), 3);
    assert.deepEqual(deletesPerStatement, [2, 1]);
    const left = await platformDb.db.selectFrom('idempotency_records').select('idempotency_key');
    assert.deepEqual(
      (await left.orderBy('idempotency_key').execute()).map((row) => row.idempotency_key),
      ['d', 'e'],
    );
    clock.nowMs += 10;
    deletesPerStatement.length = 0;
    assert.equal(await store.purgeExpired(), 2);
    assert.deepEqual(deletesPerStatement, [2, 0], 'a full batch, then one that finds nothing');
    assert.throws(
      () => createIdempotencyStore(platformDb, { cipher, purgeBatchRecords: 0 }),
      /purgeBatchRecords/,
    );
  });

  it(`records survive a reopen, which migrates nothing again`, async (t) => {
    const url = await databaseUrlFor(dialect);
    const first = await openForTest(t, url);
    await completeOnce(createIdempotencyStore(first, { cipher }));
    await first.close();
    const second = await openForTest(t, url);
    const { rows } = await sql<{ name: string }>`select name from platform_migrations`.execute(
      second.db,
    );
    assert.deepEqual(rows.map((row) => row.name).sort(), Object.keys(platformMigrations).sort());
    const store = createIdempotencyStore(second, { cipher });
    assert.deepEqual(await store.begin(request), { outcome: 'replay', ...response });
  });

  it(`begin refuses an invalid key`, async (t) => {
    const setup = await setUp(t, dialect);
    const tooLong = 'k'.repeat(idempotencyKeyMaxLength + 1);
    for (const key of ['', 'has space', tooLong]) {
      await assert.rejects(setup.store.begin({ ...request, key }), InvalidIdempotencyKeyError);
    }
  });
});

test('isValidIdempotencyKey accepts 1..255 visible ASCII characters only', () => {
  assert.equal(idempotencyKeyMaxLength, 255);
  for (const key of ['a', '~', '!#$%&()*+,-./:;<=>?@[\\]^_`{|}', 'k'.repeat(255)]) {
    assert.equal(isValidIdempotencyKey(key), true, key);
  }
  for (const key of ['', ' ', 'a b', 'tab\t', 'new\nline', 'é', '\x7f', 'k'.repeat(256)]) {
    assert.equal(isValidIdempotencyKey(key), false, JSON.stringify(key));
  }
});

test('retention is at least 24 hours', async (t) => {
  const platformDb = await platformDbFor(t, 'sqlite');
  assert.ok(idempotencyRetentionMs >= 24 * 60 * 60 * 1000);
  assert.throws(
    () => createIdempotencyStore(platformDb, { retentionMs: 3_600_000, cipher: testCipher() }),
    RangeError,
  );
  createIdempotencyStore(platformDb, { retentionMs: 2 * idempotencyRetentionMs, cipher });
});
