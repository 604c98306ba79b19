import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { PlatformDialect } from '../db/platform-db.ts';
import { forEachDialect } from '../db/testing.ts';
import { platformFor } from '../platform-testing.ts';
import { enqueueWebhookEvent } from './outbox.ts';
import { startReceiver } from './test-receiver.ts';
import {
  createWebhookRetention,
  webhookEventRetentionMs,
  webhookPurgeBatchMax,
} from './webhook-retention.ts';
import { createWebhookService } from './webhook-service.ts';

type Dialect = PlatformDialect;

/**
 * A platform as `mite serve` builds it, on a clock the test moves, with no background jobs, its own
 * retention purge, two merchants made through its services, and a webhook service over its
 * database and master key with no jitter that may deliver to a receiver on loopback.
 */
async function world(t: TestContext, dialect: Dialect) {
  // Near the real time: the receiver's signature check compares timestamps with its own clock.
  const clock = { nowMs: Date.now() };
  const { platformDb: platform, services } = await platformFor(t, dialect, {
    clock: () => clock.nowMs,
    backgroundJobs: false,
  });
  const webhooks = createWebhookService({
    platform,
    clock: () => clock.nowMs,
    cipher: services.cipher,
    random: () => 0,
    allowPrivateNetworks: true, // the receiver listens on loopback
  });
  const retention = services.webhookRetention;
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
  const emit = (merchantId: string) =>
    platform.db.transaction().execute((tx) =>
      enqueueWebhookEvent(tx, {
        merchantId,
        type: 'payment.succeeded',
        payload: { paymentId: 'pay_1', payer: 'psn_x' },
        nowMs: clock.nowMs,
      }),
    );
  const ids = async (table: 'webhook_events' | 'webhook_deliveries' | 'webhook_attempts') => {
    const column = table === 'webhook_events' ? 'id' : 'event_id';
    const rows = await platform.db.selectFrom(table).select(column).execute();
    return rows.map((row) => (row as Record<string, string>)[column]).sort();
  };
  return { platform, clock, webhooks, retention, merchant, merchantA, merchantB, emit, ids };
}

forEachDialect('webhook retention', (dialect, it) => {
  it('deletes old events with their deliveries and attempts; keeps recent and pending ones', async (t) => {
    const w = await world(t, dialect);
    const receiver = await startReceiver(t);
    const created = await w.webhooks.createEndpoint(w.merchantA, {
      url: receiver.url,
      eventTypes: ['payment.succeeded'],
    });
    assert.ok(created.ok);

    const delivered = await w.emit(w.merchantA);
    assert.equal((await w.webhooks.deliverDue()).attempted, 1);
    receiver.answer = () => 503;
    const stillPending = await w.emit(w.merchantA); // its first attempt fails: retried later
    assert.equal((await w.webhooks.deliverDue()).attempted, 1);
    assert.deepEqual(await w.ids('webhook_attempts'), [delivered, stillPending].sort());
    w.clock.nowMs += webhookEventRetentionMs - 60_000;
    const recent = await w.emit(w.merchantB); // no endpoint: an event alone

    // Not yet: the oldest events are a minute short of the retention.
    assert.equal(await w.retention.purgeExpired(), 0);
    w.clock.nowMs += 60_000 + 1;
    assert.equal(await w.retention.purgeExpired(), 1);
    assert.deepEqual(await w.ids('webhook_events'), [stillPending, recent].sort());
    assert.deepEqual(await w.ids('webhook_deliveries'), [stillPending]);
    assert.deepEqual(await w.ids('webhook_attempts'), [stillPending]);

    // Once its delivery is settled (here: the endpoint is disabled), the old event goes too.
    const disabled = await w.webhooks.disableEndpoint(w.merchantA, created.value.endpoint.id);
    assert.ok(disabled.ok);
    assert.equal(await w.retention.purgeExpired(), 1);
    assert.deepEqual(await w.ids('webhook_events'), [recent]);
    assert.deepEqual(await w.ids('webhook_deliveries'), []);
    assert.deepEqual(await w.ids('webhook_attempts'), []);
  });

  it('goes through more merchants than one page of them', async (t) => {
    const w = await world(t, dialect);
    const merchantC = await w.merchant('C');
    for (const merchantId of [w.merchantA, w.merchantB, merchantC]) await w.emit(merchantId);
    w.clock.nowMs += webhookEventRetentionMs + 1;
    const kept = await w.emit(merchantC);
    const paged = createWebhookRetention({
      platform: w.platform,
      clock: () => w.clock.nowMs,
      merchantPageRows: 1,
    });
    assert.equal(await paged.purgeExpired(), 3);
    assert.deepEqual(await w.ids('webhook_events'), [kept]);
  });

  it('purges more than one batch in one call, a batch per transaction', async (t) => {
    const w = await world(t, dialect);
    const count = webhookPurgeBatchMax * 2 + 3;
    for (let i = 0; i < count; i++) await w.emit(w.merchantB);
    w.clock.nowMs += webhookEventRetentionMs + 1;
    const kept = await w.emit(w.merchantB);
    assert.equal(await w.retention.purgeExpired(), count);
    assert.deepEqual(await w.ids('webhook_events'), [kept]);
    assert.equal(await w.retention.purgeExpired(), 0);
  });
});
