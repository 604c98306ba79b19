import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { WebhookDeliveryReport } from './webhook-service.ts';
import { startWebhookWorker } from './webhook-worker.ts';

function report(attempted: number): WebhookDeliveryReport {
  return { attempted, succeeded: attempted, retrying: 0, failed: 0 };
}

describe('the webhook worker', () => {
  it('delivers periodically, carries on after errors, and stops', async () => {
    const calls: number[] = [];
    const errors: unknown[] = [];
    const worker = startWebhookWorker({
      service: {
        async deliverDue(limit) {
          calls.push(limit ?? -1);
          if (calls.length === 2) throw new Error('database unreachable');
          return report(0);
        },
      },
      intervalMs: 5,
      batchSize: 7,
      onError: (error) => errors.push(error),
    });
    await sleep(80);
    await worker.stop();
    const seen = calls.length;
    assert.ok(seen >= 3, `called ${seen} times`);
    assert.ok(calls.every((limit) => limit === 7));
    assert.equal(errors.length, 1);
    await sleep(30);
    assert.equal(calls.length, seen, 'nothing after stop');
  });

  it('runs again at once while a backlog fills whole batches, never overlapping', async () => {
    let running = 0;
    let overlapped = false;
    const backlog = [2, 2, 2, 1];
    let calls = 0;
    const worker = startWebhookWorker({
      service: {
        async deliverDue() {
          calls += 1;
          running += 1;
          if (running > 1) overlapped = true;
          await sleep(1);
          running -= 1;
          return report(backlog.shift() ?? 0);
        },
      },
      intervalMs: 60_000,
      batchSize: 2,
    });
    await sleep(100);
    await worker.stop();
    assert.equal(calls, 4, 'three full batches, then one short: wait for the interval');
    assert.equal(overlapped, false);
  });

  it('stops while a run is in progress, waiting for it', async () => {
    let finished = false;
    const worker = startWebhookWorker({
      service: {
        async deliverDue() {
          await sleep(30);
          finished = true;
          return report(0);
        },
      },
    });
    await sleep(5);
    await worker.stop();
    assert.equal(finished, true);
  });
});
