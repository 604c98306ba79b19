/**
 * createMiteFetch paying metered routes with sessions, over loopback HTTP against the real
 * middleware (its session meter, a SQLite session store) and the stand-in of the platform's
 * session routes (packages/middleware/src/sessions/testing-platform.ts), whose clock the tests
 * move; packages/middleware/src/sessions/live-platform.test.ts runs the flow against
 * packages/server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type MeterWorld,
  startMeterWorld,
  userBalanceMicros,
  userToken,
} from '../../../middleware/src/sessions/testing-world.ts';
import type { Budget } from '../budget.ts';
import { isMitePaymentError } from '../errors.ts';
import { createMiteFetch, type MiteFetchOptions } from '../mite-fetch.ts';

const roomy: Budget = { maxPerPayment: '1.00', maxPerOriginPerDay: '5.00', maxTotal: '10.00' };

function client(world: MeterWorld, options: Partial<MiteFetchOptions> = {}) {
  return createMiteFetch({
    wallet: { platformUrl: world.platform.url, token: userToken },
    budget: roomy,
    clock: world.clock.nowMs,
    ...options,
  });
}

/** The data of a stream's message events, read to the end. */
async function messages(response: Response): Promise<string[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice('data: '.length));
}

describe('createMiteFetch with sessions', () => {
  let world: MeterWorld;
  before(async () => {
    world = await startMeterWorld({ voucherWaitMs: 300 });
  });
  after(() => world.close());

  it('pays a per-request route one unit a request, and settles only what it paid', async () => {
    const miteFetch = client(world, { sessions: { depositMicros: 1_000n } });
    for (let request = 0; request < 3; request += 1) {
      const response = await miteFetch(`${world.url}/api/quote`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'quote 1');
    }
    const [open] = miteFetch.openSessions();
    assert.equal(open?.paidMicros, 300n);
    assert.equal(open?.servedMicros, 300n);
    assert.equal(open?.depositMicros, 1_000n);
    // The deposit is held against the budget while the session is open.
    assert.equal(miteFetch.spent().reservedMicros, 1_000n);
    assert.equal(miteFetch.spent().totalMicros, 0n);
    const [closed] = await miteFetch.closeSessions();
    assert.equal(closed?.paidMicros, 300n);
    assert.equal(miteFetch.spent().totalMicros, 300n);
    assert.equal(miteFetch.spent().reservedMicros, 0n);
    await waitFor(() => world.platform.sessions.get(closed?.sessionId ?? '')?.state === 'settled');
    assert.equal(world.platform.sessions.get(closed?.sessionId ?? '')?.settledMicros, 300n);
    assert.deepEqual(miteFetch.openSessions(), []);
  });

  it('leaves a per-request session alone unless asked to open one', async () => {
    const miteFetch = client(world);
    const response = await miteFetch(`${world.url}/api/quote`);
    assert.equal(response.status, 402);
    await response.body?.cancel();
    assert.deepEqual(miteFetch.openSessions(), []);
    assert.equal(miteFetch.spent().reservedMicros, 0n);
  });

  it('answers a stream’s payment-need-voucher events without being asked to opt in', async () => {
    const miteFetch = client(world);
    const before = world.platform.balanceOf(userToken);
    const response = await miteFetch(`${world.url}/songs/3?seconds=8`);
    assert.equal(response.status, 200);
    assert.equal(response.url, `${world.url}/songs/3?seconds=8`);
    assert.deepEqual(
      await messages(response),
      Array.from({ length: 8 }, (_, index) => `unit ${index}`),
    );
    const [open] = miteFetch.openSessions();
    // Vouchers go by the route's minimum step (3 units of 100): 900 pays for the 8 served.
    assert.equal(open?.paidMicros, 900n);
    assert.equal(open?.servedMicros, 800n);
    assert.equal(open?.depositMicros, 10_000n, 'the merchant’s suggested deposit');
    await miteFetch.closeSessions();
    assert.equal(miteFetch.spent().totalMicros, 900n);
    await waitFor(() => world.platform.balanceOf(userToken) === before - 900n);
  });

  it('signs Ed25519 vouchers where PayWord is not taken', async () => {
    const miteFetch = client(world);
    const response = await miteFetch(`${world.url}/llm/2?tokens=12`);
    assert.equal((await messages(response)).length, 12);
    const [open] = miteFetch.openSessions();
    assert.equal(open?.unitType, 'token');
    assert.ok((open?.paidMicros ?? 0n) >= 120n);
    const session = world.platform.sessions.get(open?.sessionId ?? '');
    assert.equal(session?.commitment.kind, 'ed25519');
    await miteFetch.closeSessions();
  });

  it('tops the deposit up inside the budget', async () => {
    const miteFetch = client(world, { sessions: { depositMicros: 300n } });
    const response = await miteFetch(`${world.url}/songs/4?seconds=7`);
    assert.equal((await messages(response)).length, 7);
    const [open] = miteFetch.openSessions();
    assert.ok((open?.depositMicros ?? 0n) >= 700n, 'topped up');
    const record = world.platform.sessions.get(open?.sessionId ?? '');
    assert.ok((record?.depositMicros ?? 0n) >= 700n);
    await miteFetch.closeSessions();
    assert.equal(miteFetch.spent().reservedMicros, 0n);
  });

  it('never pays past the budget: the stream stops where the deposit ends', async () => {
    const budget: Budget = {
      maxPerPayment: '0.0005',
      maxPerOriginPerDay: '0.0005',
      maxTotal: '1.00',
    };
    const miteFetch = client(world, { budget });
    const response = await miteFetch(`${world.url}/songs/5?seconds=9`);
    const data = await messages(response);
    assert.equal(data.length, 5);
    const [closed] = await miteFetch.closeSessions();
    assert.equal(closed?.depositMicros, 500n);
    assert.equal(closed?.paidMicros, 500n);
    assert.equal(miteFetch.spent().totalMicros, 500n);
    // A budget too small for one step opens nothing.
    const tiny = client(world, {
      budget: { maxPerPayment: '0.0002', maxPerOriginPerDay: '1.00', maxTotal: '1.00' },
    });
    await assert.rejects(tiny(`${world.url}/songs/6?seconds=2`), (error) =>
      isMitePaymentError(error, 'overBudget'),
    );
    assert.deepEqual(tiny.openSessions(), []);
  });

  it('opens a new session when the merchant has closed the one held, settling the old one', async () => {
    const miteFetch = client(world, { sessions: { depositMicros: 1_000n } });
    assert.equal((await miteFetch(`${world.url}/api/quote?n=1`)).status, 200);
    const [first] = miteFetch.openSessions();
    await world.meter.close(first?.sessionId ?? '');
    const again = await miteFetch(`${world.url}/api/quote?n=1`);
    assert.equal(again.status, 200);
    assert.equal(await again.text(), 'quote 1');
    const [second] = miteFetch.openSessions();
    assert.notEqual(second?.sessionId, first?.sessionId);
    // The first session cost its one unit; the second holds its deposit until it closes.
    assert.equal(miteFetch.spent().totalMicros, 100n);
    assert.equal(miteFetch.spent().reservedMicros, 1_000n);
    await miteFetch.closeSessions();
    assert.equal(miteFetch.spent().totalMicros, 200n);
    assert.equal(world.platform.sessions.get(first?.sessionId ?? '')?.settledMicros, 100n);
  });

  it('asks the approval callback about a deposit, naming it a session', async () => {
    const asked: unknown[] = [];
    const miteFetch = client(world, {
      sessions: { depositMicros: 400n },
      budget: { ...roomy, approve: (quote) => (asked.push(quote.session), false) },
    });
    await assert.rejects(miteFetch(`${world.url}/api/quote`), (error) =>
      isMitePaymentError(error, 'approvalDenied'),
    );
    assert.deepEqual(asked, [{ unitPrice: '0.0001', unitType: 'request', topUp: false }]);
    assert.equal(miteFetch.spent().reservedMicros, 0n);
    assert.ok(world.platform.balanceOf(userToken) < userBalanceMicros);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
