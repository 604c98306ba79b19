import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Transaction } from 'kysely';
import { Webhook } from 'standardwebhooks';
import type { PlatformSchema } from '../db/schema.ts';
import type { PlatformDb, PlatformDialect } from '../db/platform-db.ts';
import { forEachDialect, openForTest } from '../db/testing.ts';
import { platformFor } from '../platform-testing.ts';
import { looksEncrypted } from '../privacy/personal-data-cipher.ts';
import { enqueueWebhookEvent, type WebhookEventType, type WebhookPayload } from './outbox.ts';
import { openWebhookSecret, sealWebhookSecretsUpgrade } from './sealed-webhook-secrets.ts';
import { startReceiver } from './test-receiver.ts';
import {
  createWebhookService,
  defaultWebhookBackoff,
  type WebhookServiceDeps,
  webhookBatchSizeMax,
  webhookRetryDelayMs,
} from './webhook-service.ts';

type Dialect = PlatformDialect;

const base = defaultWebhookBackoff.baseMs;

/**
 * A platform as `mite serve` builds it, on a clock the test moves, with no background jobs (the
 * tests deliver themselves), and two merchants made through its services. `service` makes webhook
 * services over the platform's database and master key: every node of a platform has the same;
 * with no jitter, so that retries are due exactly on the backoff, and with webhooks allowed to the
 * receivers on loopback.
 */
async function world(t: TestContext, dialect: Dialect) {
  // Near the real time: receivers verify the signed timestamp against their own clock.
  const clock = { nowMs: Date.now() };
  const {
    platformDb: platform,
    platformUrl: url,
    services,
  } = await platformFor(t, dialect, { clock: () => clock.nowMs, backgroundJobs: false });
  const { cipher } = services;
  const options: Omit<WebhookServiceDeps, 'platform'> = {
    clock: () => clock.nowMs,
    cipher,
    random: () => 0, // no jitter: retries are due exactly on the backoff
    allowPrivateNetworks: true, // the receivers listen on loopback
  };
  const service = (overrides: Partial<WebhookServiceDeps> = {}) =>
    createWebhookService({ platform, ...options, ...overrides });
  const webhooks = service();
  const merchant = async (name: string) =>
    (
      await services.merchants.createMerchant({
        name,
        feeBasisPoints: 0,
        payoutThresholdMicros: 0n,
      })
    ).merchantId;
  const merchantA = await merchant('A');
  const merchantB = await merchant('B');
  const receiver = await startReceiver(t);
  const emit = (
    merchantId: string,
    type: WebhookEventType = 'payment.succeeded',
    payload: WebhookPayload = { paymentId: 'pay_1', amount: '0.02' },
  ) =>
    platform.db
      .transaction()
      .execute((tx) => enqueueWebhookEvent(tx, { merchantId, type, payload, nowMs: clock.nowMs }));
  const endpoint = async (
    merchantId: string,
    eventTypes: WebhookEventType[] = ['payment.succeeded'],
    url = receiver.url,
  ) => {
    const created = await webhooks.createEndpoint(merchantId, { url, eventTypes });
    assert.ok(created.ok, created.ok ? '' : created.detail);
    return created.value;
  };
  const delivery = (eventId: string, endpointId: string) =>
    platform.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('event_id', '=', eventId)
      .where('endpoint_id', '=', endpointId)
      .executeTakeFirstOrThrow();
  const storedSecrets = async () => {
    const rows = await platform.db
      .selectFrom('webhook_endpoints')
      .select(['id', 'secret'])
      .execute();
    return new Map(rows.map((row) => [row.id, row.secret]));
  };
  const count = async (table: 'webhook_events' | 'webhook_deliveries' | 'webhook_attempts') => {
    const row = await platform.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  return {
    url,
    platform,
    clock,
    cipher,
    service,
    webhooks,
    merchantA,
    merchantB,
    receiver,
    emit,
    endpoint,
    delivery,
    storedSecrets,
    count,
  };
}

/** A URL on which nothing listens. */
async function deadUrl(t: TestContext): Promise<string> {
  const receiver = await startReceiver(t);
  return receiver.url.replace(/:\d+\//, ':1/');
}

describe('webhook retry delays', () => {
  it('double from the base up to the cap, less at most the jitter ratio', () => {
    const noJitter = () => 0;
    assert.equal(webhookRetryDelayMs(1, defaultWebhookBackoff, noJitter), 5_000);
    assert.equal(webhookRetryDelayMs(2, defaultWebhookBackoff, noJitter), 10_000);
    assert.equal(webhookRetryDelayMs(4, defaultWebhookBackoff, noJitter), 40_000);
    assert.equal(webhookRetryDelayMs(11, defaultWebhookBackoff, noJitter), 3_600_000);
    assert.equal(webhookRetryDelayMs(500, defaultWebhookBackoff, noJitter), 3_600_000);
    const most = webhookRetryDelayMs(3, defaultWebhookBackoff, () => 0.999_999);
    assert.ok(most >= 20_000 * 0.8 && most < 20_000, String(most));
  });
});

forEachDialect('webhooks', (dialect, it) => {
  it('writes an event only with the transaction that announces it', async (t) => {
    const w = await world(t, dialect);
    const paid = await w.endpoint(w.merchantA, ['payment.succeeded']);
    const topups = await w.endpoint(w.merchantA, ['topup.succeeded', 'topup.failed']);
    await w.endpoint(w.merchantB, ['payment.succeeded']);

    await assert.rejects(
      w.platform.db.transaction().execute(async (tx) => {
        await enqueueWebhookEvent(tx, {
          merchantId: w.merchantA,
          type: 'payment.succeeded',
          payload: { paymentId: 'pay_rolled_back' },
          nowMs: w.clock.nowMs,
        });
        throw new Error('the change failed');
      }),
      /the change failed/,
    );
    assert.equal(await w.count('webhook_events'), 0);
    assert.equal(await w.count('webhook_deliveries'), 0);
    const report = await w.webhooks.deliverDue();
    assert.equal(report.attempted, 0);
    assert.equal(w.receiver.received.length, 0);

    // Outside a transaction it refuses to run.
    await assert.rejects(
      enqueueWebhookEvent(w.platform.db as unknown as Transaction<PlatformSchema>, {
        merchantId: w.merchantA,
        type: 'payment.succeeded',
        payload: {},
        nowMs: w.clock.nowMs,
      }),
      /in the transaction/,
    );

    // Committed: one delivery, to the merchant's endpoint subscribed to the type only.
    const eventId = await w.emit(w.merchantA, 'payment.succeeded');
    assert.equal(await w.count('webhook_events'), 1);
    const deliveries = await w.platform.db.selectFrom('webhook_deliveries').selectAll().execute();
    assert.deepEqual(
      deliveries.map((row) => [row.event_id, row.endpoint_id, row.state, row.attempts]),
      [[eventId, paid.endpoint.id, 'pending', 0]],
    );
    await w.emit(w.merchantA, 'topup.failed');
    assert.equal(
      (
        await w.platform.db
          .selectFrom('webhook_deliveries')
          .select('endpoint_id')
          .where('endpoint_id', '=', topups.endpoint.id)
          .execute()
      ).length,
      1,
    );
  });

  it('keeps deliveries off private networks unless the operator allows them', async (t) => {
    const w = await world(t, dialect);
    const guarded = w.service({
      allowPrivateNetworks: false,
      resolve: async () => ['127.0.0.1'],
    });
    const eventTypes: WebhookEventType[] = ['payment.succeeded'];
    const literal = await guarded.createEndpoint(w.merchantA, {
      url: w.receiver.url,
      eventTypes,
    });
    assert.equal(literal.ok ? '' : literal.code, 'validationFailed');
    // A name passes at creation; at the attempt it resolves to loopback and nothing is sent.
    const named = w.receiver.url.replace('127.0.0.1', 'hooks.example.test');
    const created = await guarded.createEndpoint(w.merchantA, { url: named, eventTypes });
    assert.ok(created.ok);
    const eventId = await w.emit(w.merchantA);
    assert.equal((await guarded.deliverDue()).attempted, 1);
    assert.equal(w.receiver.received.length, 0);
    const row = await w.delivery(eventId, created.value.endpoint.id);
    assert.match(row.last_error ?? '', /resolves to 127\.0\.0\.1/);
  });

  it('connects only to the address it checked (DNS rebinding gets no connection)', async (t) => {
    const w = await world(t, dialect);
    const guarded = w.service({
      allowPrivateNetworks: false,
      // The check before the attempt sees a public address...
      resolve: async () => ['93.184.216.34'],
      // ...and the connection's own lookup, asked a moment later, loopback.
      connectLookup: (_host, _options, callback) =>
        callback(null, [{ address: '127.0.0.1', family: 4 }]),
    });
    const named = w.receiver.url.replace('127.0.0.1', 'rebind.example.test');
    const created = await guarded.createEndpoint(w.merchantA, {
      url: named,
      eventTypes: ['payment.succeeded'],
    });
    assert.ok(created.ok);
    const eventId = await w.emit(w.merchantA);
    assert.equal((await guarded.deliverDue()).attempted, 1);
    assert.equal(w.receiver.received.length, 0);
    const row = await w.delivery(eventId, created.value.endpoint.id);
    assert.match(row.last_error ?? '', /resolved to 127\.0\.0\.1 when connecting/);
  });

  it('delivers a signed event that the receiver verifies with the secret', async (t) => {
    const w = await world(t, dialect);
    const { endpoint, secret } = await w.endpoint(w.merchantA);
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{32}$/);
    assert.equal(Buffer.from(secret.slice('whsec_'.length), 'base64').length, 24);
    const eventId = await w.emit(w.merchantA, 'payment.succeeded', { paymentId: 'pay_42' });

    const report = await w.webhooks.deliverDue();
    assert.deepEqual(report, { attempted: 1, succeeded: 1, retrying: 0, failed: 0 });
    assert.equal(w.receiver.received.length, 1);
    const [message] = w.receiver.received;
    assert.ok(message);
    assert.equal(message.headers['webhook-id'], eventId);
    assert.equal(message.headers['content-type'], 'application/json');
    assert.equal(message.headers['webhook-timestamp'], String(Math.floor(w.clock.nowMs / 1000)));
    const verified = new Webhook(secret).verify(message.body, message.headers);
    assert.deepEqual(verified, {
      type: 'payment.succeeded',
      timestamp: new Date(w.clock.nowMs).toISOString(),
      data: { paymentId: 'pay_42' },
    });
    assert.throws(() =>
      new Webhook(`whsec_${Buffer.alloc(24, 7).toString('base64')}`).verify(
        message.body,
        message.headers,
      ),
    );
    assert.throws(() =>
      new Webhook(secret).verify(message.body.replace('pay_42', 'pay_43'), message.headers),
    );

    const row = await w.delivery(eventId, endpoint.id);
    assert.equal(row.state, 'succeeded');
    assert.equal(row.attempts, 1);
    assert.equal(row.last_status, 200);
    assert.deepEqual(await w.webhooks.deliverDue(), {
      attempted: 0,
      succeeded: 0,
      retrying: 0,
      failed: 0,
    });
    assert.equal(w.receiver.received.length, 1);
  });

  it('stores the signing secret sealed, bound to its endpoint', async (t) => {
    const w = await world(t, dialect);
    const first = await w.endpoint(w.merchantA);
    const second = await w.endpoint(w.merchantA);
    const stored = await w.storedSecrets();
    for (const { endpoint, secret } of [first, second]) {
      const sealed = stored.get(endpoint.id) ?? '';
      assert.ok(looksEncrypted(sealed), sealed);
      assert.ok(!sealed.includes(secret.slice('whsec_'.length)), 'the secret is in the clear');
      assert.equal(openWebhookSecret(w.cipher, endpoint.id, sealed), secret);
    }

    // The first endpoint's ciphertext moved to the second does not open: its attempt fails, and
    // says why; the first endpoint's event is still signed with its own secret.
    const moved = stored.get(first.endpoint.id) ?? '';
    assert.throws(() => openWebhookSecret(w.cipher, second.endpoint.id, moved));
    await w.platform.db
      .updateTable('webhook_endpoints')
      .set({ secret: moved })
      .where('id', '=', second.endpoint.id)
      .execute();
    const eventId = await w.emit(w.merchantA);
    const report = await w.webhooks.deliverDue();
    assert.deepEqual(report, { attempted: 2, succeeded: 1, retrying: 1, failed: 0 });
    assert.equal(w.receiver.received.length, 1);
    const [message] = w.receiver.received;
    assert.ok(message);
    assert.doesNotThrow(() => new Webhook(first.secret).verify(message.body, message.headers));
    const refused = await w.delivery(eventId, second.endpoint.id);
    assert.equal(refused.state, 'pending');
    assert.equal(refused.last_status, null);
    assert.match(refused.last_error ?? '', /signing secret .* could not be decrypted/);
  });

  it('seals the secrets an older version stored in the clear, once, and signs with them', async (t) => {
    const w = await world(t, dialect);
    const ofA = await w.endpoint(w.merchantA);
    const ofB = await w.endpoint(w.merchantB);
    // As the version before this one wrote them: in the clear, and no upgrade recorded.
    for (const { endpoint, secret } of [ofA, ofB]) {
      await w.platform.db
        .updateTable('webhook_endpoints')
        .set({ secret })
        .where('id', '=', endpoint.id)
        .execute();
    }
    await w.platform.db
      .deleteFrom('data_upgrades')
      .where('name', '=', sealWebhookSecretsUpgrade)
      .execute();

    // Two nodes starting at once (one reading an endpoint a query): each secret sealed once.
    const counts = await Promise.all([
      w.webhooks.sealPlaintextSecrets(),
      w.service({ sealPageRows: 1 }).sealPlaintextSecrets(),
    ]);
    assert.equal(counts[0] + counts[1], 2);
    const stored = await w.storedSecrets();
    for (const { endpoint, secret } of [ofA, ofB]) {
      const sealed = stored.get(endpoint.id) ?? '';
      assert.ok(looksEncrypted(sealed), sealed);
      assert.ok(!sealed.includes(secret.slice('whsec_'.length)), 'the secret is in the clear');
    }
    // Recorded as done: a second start leaves everything as it is.
    assert.equal(await w.webhooks.sealPlaintextSecrets(), 0);
    assert.deepEqual(await w.storedSecrets(), stored);

    // Each endpoint's events are signed with the secret shown at its creation.
    await w.emit(w.merchantA);
    await w.emit(w.merchantB);
    assert.equal((await w.webhooks.deliverDue()).succeeded, 2);
    assert.equal(w.receiver.received.length, 2);
    for (const message of w.receiver.received) {
      const verifiers = [ofA, ofB].map(({ secret }) => new Webhook(secret));
      const verifying = verifiers.filter((verifier) => {
        try {
          verifier.verify(message.body, message.headers);
          return true;
        } catch {
          return false;
        }
      });
      assert.equal(verifying.length, 1, 'signed with one endpoint\u2019s secret');
    }
  });

  it('retries a failed attempt after the backoff, and lists the attempts newest first', async (t) => {
    const w = await world(t, dialect);
    const { endpoint, secret } = await w.endpoint(w.merchantA);
    const eventId = await w.emit(w.merchantA);
    w.receiver.answer = () => 500;
    const first = await w.webhooks.deliverDue();
    assert.deepEqual(first, { attempted: 1, succeeded: 0, retrying: 1, failed: 0 });
    const failed = await w.delivery(eventId, endpoint.id);
    assert.equal(failed.state, 'pending');
    assert.equal(failed.attempts, 1);
    assert.equal(failed.last_status, 500);
    assert.equal(failed.next_attempt_at, BigInt(w.clock.nowMs + base));

    w.receiver.answer = () => 200;
    w.clock.nowMs += base - 1;
    assert.equal((await w.webhooks.deliverDue()).attempted, 0, 'not before the backoff');
    assert.equal(w.receiver.received.length, 1);
    w.clock.nowMs += 1;
    assert.equal((await w.webhooks.deliverDue()).succeeded, 1);
    assert.equal(w.receiver.received.length, 2);
    const [firstTry, retry] = w.receiver.received;
    assert.equal(retry?.body, firstTry?.body, 'the same event');
    assert.equal(retry?.headers['webhook-id'], eventId);
    assert.ok(retry !== undefined);
    new Webhook(secret).verify(retry.body, retry.headers);
    assert.equal((await w.delivery(eventId, endpoint.id)).state, 'succeeded');

    const listed = await w.webhooks.listAttempts(w.merchantA, endpoint.id, { limit: 10 });
    assert.ok(listed.ok);
    assert.deepEqual(
      listed.value.items.map((item) => [item.eventId, item.eventType, item.status, item.error]),
      [
        [eventId, 'payment.succeeded', 200, null],
        [eventId, 'payment.succeeded', 500, null],
      ],
    );
    assert.equal(listed.value.items[0]?.attemptedAtMs, w.clock.nowMs);
    assert.equal(listed.value.nextCursor, null);

    const firstPage = await w.webhooks.listAttempts(w.merchantA, endpoint.id, { limit: 1 });
    assert.ok(firstPage.ok);
    assert.deepEqual(
      firstPage.value.items.map((item) => item.status),
      [200],
    );
    assert.ok(firstPage.value.nextCursor !== null);
    const cursor = JSON.parse(Buffer.from(firstPage.value.nextCursor, 'base64url').toString()) as {
      attemptedAt: string;
      id: string;
    };
    const secondPage = await w.webhooks.listAttempts(w.merchantA, endpoint.id, {
      limit: 1,
      cursor,
    });
    assert.ok(secondPage.ok);
    assert.deepEqual(
      secondPage.value.items.map((item) => item.status),
      [500],
    );
    assert.equal(secondPage.value.nextCursor, null);

    assert.deepEqual(await w.webhooks.listAttempts(w.merchantB, endpoint.id, { limit: 10 }), {
      ok: false,
      code: 'notFound',
      detail: 'No such webhook endpoint.',
    });
  });

  it('gives a delivery up after maxAttempts, recording network errors and timeouts', async (t) => {
    const w = await world(t, dialect);
    const webhooks = w.service({ maxAttempts: 3, timeoutMs: 200 });
    const refusing = await w.endpoint(w.merchantA, ['payout.paid'], await deadUrl(t));
    const failing = await w.endpoint(w.merchantA, ['payout.paid']);
    const eventId = await w.emit(w.merchantA, 'payout.paid', { payoutId: 'po_1' });
    w.receiver.answer = () => 503;
    const reports = [];
    for (let round = 0; round < 3; round++) {
      reports.push(await webhooks.deliverDue());
      w.clock.nowMs += 60 * 60 * 1000;
    }
    assert.deepEqual(
      reports.map((report) => [report.attempted, report.retrying, report.failed]),
      [
        [2, 2, 0],
        [2, 2, 0],
        [2, 0, 2],
      ],
    );
    assert.equal((await webhooks.deliverDue()).attempted, 0, 'given up');
    assert.equal(w.receiver.received.length, 3);
    const gaveUp = await w.delivery(eventId, failing.endpoint.id);
    assert.equal(gaveUp.state, 'failed');
    assert.equal(gaveUp.attempts, 3);
    assert.equal(gaveUp.last_status, 503);

    const refused = await w.delivery(eventId, refusing.endpoint.id);
    assert.equal(refused.state, 'failed');
    assert.equal(refused.last_status, null);
    assert.ok(refused.last_error !== null && refused.last_error !== '');
    const attempts = await webhooks.listAttempts(w.merchantA, refusing.endpoint.id, {
      limit: 10,
    });
    assert.ok(attempts.ok);
    assert.equal(attempts.value.items.length, 3);
    assert.ok(attempts.value.items.every((item) => item.status === null && item.error !== null));

    // A receiver that never answers: the attempt times out.
    w.receiver.answer = () => 'hang';
    const slowEvent = await w.emit(w.merchantA, 'payout.paid', { payoutId: 'po_2' });
    await webhooks.deliverDue();
    const timedOut = await w.delivery(slowEvent, failing.endpoint.id);
    assert.equal(timedOut.state, 'pending');
    assert.equal(timedOut.last_status, null);
    assert.equal(timedOut.last_error, 'no answer within 200 ms');
  });

  it('replays a merchant’s own event, to its current endpoints', async (t) => {
    const w = await world(t, dialect);
    const first = await w.endpoint(w.merchantA);
    const eventId = await w.emit(w.merchantA);
    assert.equal((await w.webhooks.deliverDue()).succeeded, 1);

    assert.deepEqual(await w.webhooks.replay(w.merchantB, eventId), {
      ok: false,
      code: 'notFound',
      detail: 'No such webhook event.',
    });
    assert.equal((await w.webhooks.replay(w.merchantA, 'evt_nope')).ok, false);
    assert.equal((await w.webhooks.deliverDue()).attempted, 0);

    const second = await w.endpoint(w.merchantA);
    w.clock.nowMs += 1_000;
    assert.deepEqual(await w.webhooks.replay(w.merchantA, eventId), {
      ok: true,
      value: { eventId, deliveries: 2 },
    });
    const again = await w.webhooks.deliverDue();
    assert.equal(again.succeeded, 2);
    assert.equal(w.receiver.received.length, 3);
    assert.ok(w.receiver.received.every((message) => message.headers['webhook-id'] === eventId));
    for (const endpointId of [first.endpoint.id, second.endpoint.id]) {
      const row = await w.delivery(eventId, endpointId);
      assert.equal(row.state, 'succeeded');
      assert.equal(row.attempts, 1);
    }
    const listed = await w.webhooks.listAttempts(w.merchantA, first.endpoint.id, { limit: 10 });
    assert.ok(listed.ok);
    assert.equal(listed.value.items.length, 2);
  });

  it('sends at most the cap of due deliveries a run, the rest in the runs after', async (t) => {
    const w = await world(t, dialect);
    const { endpoint } = await w.endpoint(w.merchantA);
    const events: string[] = [];
    for (let i = 0; i < 7; i++) {
      events.push(await w.emit(w.merchantA));
      w.clock.nowMs += 1; // due in the order they were made
    }
    // Sent concurrently within a run: the order is the runs', not the arrivals'.
    const runs: (string | undefined)[][] = [];
    for (let run = 0; run < 3; run++) {
      const before = w.receiver.received.length;
      const report = await w.webhooks.deliverDue(3);
      assert.equal(report.attempted, report.succeeded);
      runs.push(
        w.receiver.received
          .slice(before)
          .map((message) => message.headers['webhook-id'])
          .sort(),
      );
    }
    assert.deepEqual(
      runs,
      [events.slice(0, 3), events.slice(3, 6), events.slice(6)],
      'each once, the longest due first',
    );
    for (const eventId of events) {
      assert.equal((await w.delivery(eventId, endpoint.id)).state, 'succeeded');
    }
    assert.equal((await w.webhooks.deliverDue(3)).attempted, 0);
    for (const limit of [0, 1.5, webhookBatchSizeMax + 1]) {
      await assert.rejects(w.webhooks.deliverDue(limit), /1 to 500 deliveries/);
    }
    await w.webhooks.deliverDue(webhookBatchSizeMax);
  });

  it('never sends one attempt twice when two workers deliver at once', async (t) => {
    const w = await world(t, dialect);
    // Two nodes: on PostgreSQL, two connection pools; SQLite has one writer per process.
    const other: PlatformDb = dialect === 'postgres' ? await openForTest(t, w.url) : w.platform;
    const nodeA = w.service();
    const nodeB = createWebhookService({
      platform: other,
      clock: () => w.clock.nowMs,
      cipher: w.cipher,
      allowPrivateNetworks: true,
    });
    await w.endpoint(w.merchantA);
    await w.endpoint(w.merchantA);
    const events = [];
    for (let i = 0; i < 15; i++) events.push(await w.emit(w.merchantA));
    // Answers take a moment, as over a network, so that the two nodes' runs overlap.
    w.receiver.answer = () => new Promise((resolve) => setTimeout(() => resolve(200), 5));

    const reports = await Promise.all([nodeA.deliverDue(100), nodeB.deliverDue(100)]);
    assert.equal(reports[0].attempted + reports[1].attempted, 30);
    assert.equal(w.receiver.received.length, 30);
    for (const eventId of events) {
      assert.equal(
        w.receiver.received.filter((message) => message.headers['webhook-id'] === eventId).length,
        2,
        'once per endpoint',
      );
    }
    assert.equal(await w.count('webhook_attempts'), 30);
    const more = await Promise.all([nodeA.deliverDue(100), nodeB.deliverDue(100)]);
    assert.equal(more[0].attempted + more[1].attempted, 0);
  });

  it('disables an endpoint: no new deliveries, pending ones given up, only by its merchant', async (t) => {
    const w = await world(t, dialect);
    const { endpoint } = await w.endpoint(w.merchantA);
    const pendingEvent = await w.emit(w.merchantA);
    assert.deepEqual(await w.webhooks.disableEndpoint(w.merchantB, endpoint.id), {
      ok: false,
      code: 'notFound',
      detail: 'No such webhook endpoint.',
    });
    assert.equal((await w.webhooks.listEndpoints(w.merchantA)).length, 1);
    assert.deepEqual(await w.webhooks.listEndpoints(w.merchantB), []);

    assert.ok((await w.webhooks.disableEndpoint(w.merchantA, endpoint.id)).ok);
    assert.ok((await w.webhooks.disableEndpoint(w.merchantA, endpoint.id)).ok, 'again');
    assert.deepEqual(await w.webhooks.listEndpoints(w.merchantA), []);
    const row = await w.delivery(pendingEvent, endpoint.id);
    assert.equal(row.state, 'failed');
    assert.equal(row.last_error, 'endpoint disabled');
    await w.emit(w.merchantA);
    assert.equal(await w.count('webhook_deliveries'), 1);
    assert.equal((await w.webhooks.deliverDue()).attempted, 0);
    assert.deepEqual(await w.webhooks.replay(w.merchantA, pendingEvent), {
      ok: true,
      value: { eventId: pendingEvent, deliveries: 0 },
    });
    assert.equal(w.receiver.received.length, 0);
    // Its history stays readable.
    assert.ok((await w.webhooks.listAttempts(w.merchantA, endpoint.id, { limit: 5 })).ok);
  });

  it('accepts only http and https URLs and known event types', async (t) => {
    const w = await world(t, dialect);
    for (const url of [
      'ftp://example.com/hooks',
      'javascript:alert(1)',
      'not a url',
      '/relative',
      'https://user:pass@example.com/hooks',
      `https://example.com/${'a'.repeat(2048)}`,
    ]) {
      const created = await w.webhooks.createEndpoint(w.merchantA, {
        url,
        eventTypes: ['payment.succeeded'],
      });
      assert.equal(created.ok ? 'ok' : created.code, 'validationFailed', url);
    }
    const none = await w.webhooks.createEndpoint(w.merchantA, {
      url: 'https://example.com/hooks',
      eventTypes: [],
    });
    assert.equal(none.ok, false);
    const unknown = await w.webhooks.createEndpoint(w.merchantA, {
      url: 'https://example.com/hooks',
      eventTypes: ['payment.exploded' as WebhookEventType],
    });
    assert.equal(unknown.ok, false);
    const created = await w.webhooks.createEndpoint(w.merchantA, {
      url: 'https://example.com/hooks',
      eventTypes: ['topup.succeeded', 'payment.succeeded', 'topup.succeeded'],
    });
    assert.ok(created.ok);
    assert.deepEqual(created.value.endpoint.eventTypes, ['payment.succeeded', 'topup.succeeded']);
    assert.deepEqual(await w.webhooks.listEndpoints(w.merchantA), [created.value.endpoint]);
  });
});
