import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { WebhookDeliveryReport } from './webhook-service.ts';
import { startWebhookWorker } from './webhook-worker.ts';

function report(attempted: number): WebhookDeliveryReport {
  return { attempted, succeeded: attempted, retrying: 0, failed: 0 };
}

/**
 * The worker's timers are fake: `elapse` moves time on and then lets the run it started finish
 * (setImmediate is real, and runs after the promises the run resolved), so no test waits for time.
 */
function fakeTime(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const settle = async () => {
    for (let hop = 0; hop < 3; hop++) await new Promise((resolve) => setImmediate(resolve));
  };
  return {
    settle,
    async elapse(ms: number) {
      t.mock.timers.tick(ms);
      await settle();
    },
  };
}

describe('the webhook worker', () => {
  it('delivers periodically, carries on after errors, and stops', async (t) => {
    const time = fakeTime(t);
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
    await time.elapse(0);
    assert.equal(calls.length, 1, 'a first run at once');
    await time.elapse(4);
    assert.equal(calls.length, 1, 'then one per interval');
    await time.elapse(1);
    await time.elapse(5);
    assert.deepEqual(calls, [7, 7, 7]);
    assert.equal(errors.length, 1);
    await worker.stop();
    await time.elapse(50);
    assert.equal(calls.length, 3, 'nothing after stop');
  });

  it('runs again at once while a backlog fills whole batches, never overlapping', async (t) => {
    const time = fakeTime(t);
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
          await time.settle();
          running -= 1;
          return report(backlog.shift() ?? 0);
        },
      },
      intervalMs: 60_000,
      batchSize: 2,
    });
    for (let run = 0; run < 4; run++) await time.elapse(0);
    await time.elapse(59_999);
    assert.equal(calls, 4, 'three full batches, then one short: wait for the interval');
    await time.elapse(1);
    assert.equal(calls, 5);
    await worker.stop();
    assert.equal(overlapped, false);
  });

  it('stops while a run is in progress, waiting for it', async (t) => {
    const time = fakeTime(t);
    let finish = () => {};
    let finished = false;
    const worker = startWebhookWorker({
      service: {
        async deliverDue() {
          await new Promise<void>((resolve) => (finish = resolve));
          finished = true;
          return report(0);
        },
      },
    });
    await time.elapse(0);
    let stopped = false;
    const stopping = worker.stop().then(() => (stopped = true));
    await time.settle();
    assert.equal(stopped, false, 'stop waits for the run');
    finish();
    await stopping;
    assert.equal(finished, true);
  });
});
