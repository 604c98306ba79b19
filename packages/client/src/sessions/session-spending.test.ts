/**
 * createMiteFetch paying metered routes with sessions, over loopback HTTP against the real
 * middleware (its session meter, a SQLite session store) and the real platform (packages/server
 * on embedded SQLite), both on the test's clock (packages/middleware/src/sessions/testing-world.ts).
 * What the client says it paid is checked against what the platform settled and the wallet.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type MeterWorld,
  settledAtPlatform,
  startMeterWorld,
  waitFor,
} from '../../../middleware/src/sessions/testing-world.ts';
import type { Budget } from '../budget.ts';
import { isMitePaymentError } from '../errors.ts';
import { createMiteFetch, type MiteFetchOptions } from '../mite-fetch.ts';

const roomy: Budget = { maxPerPayment: '1.00', maxPerOriginPerDay: '5.00', maxTotal: '10.00' };

function client(world: MeterWorld, options: Partial<MiteFetchOptions> = {}) {
  return createMiteFetch({
    wallet: { platformUrl: world.platform.url, token: world.userToken },
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
    // Long enough for a top-up at the platform on a loaded machine; a stream the budget ends
    // waits it out once.
    world = await startMeterWorld({ voucherWaitMs: 1_500 });
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
    const settled = await settledAtPlatform(world, closed?.sessionId ?? '');
    assert.equal(settled.settledMicros, 300n);
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
    const before = (await world.wallet()).balanceMicros;
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
    assert.equal((await settledAtPlatform(world, open?.sessionId ?? '')).settledMicros, 900n);
    await waitFor(async () => (await world.wallet()).balanceMicros === before - 900n);
  });

  it('signs Ed25519 vouchers where PayWord is not taken', async () => {
    const miteFetch = client(world);
    const response = await miteFetch(`${world.url}/llm/2?tokens=12`);
    assert.equal((await messages(response)).length, 12);
    const [open] = miteFetch.openSessions();
    assert.equal(open?.unitType, 'token');
    assert.ok((open?.paidMicros ?? 0n) >= 120n);
    assert.equal((await world.sessionAt(open?.sessionId ?? '')).voucherKind, 'ed25519');
    const [closed] = await miteFetch.closeSessions();
    const settled = await settledAtPlatform(world, open?.sessionId ?? '');
    assert.equal(settled.settledMicros, closed?.paidMicros);
  });

  it('tops the deposit up inside the budget', async () => {
    const miteFetch = client(world, { sessions: { depositMicros: 300n } });
    const response = await miteFetch(`${world.url}/songs/4?seconds=7`);
    assert.equal((await messages(response)).length, 7);
    const [open] = miteFetch.openSessions();
    assert.ok((open?.depositMicros ?? 0n) >= 700n, 'topped up');
    const atPlatform = await world.sessionAt(open?.sessionId ?? '');
    assert.equal(atPlatform.depositMicros, open?.depositMicros, 'the platform holds the top-up');
    const [closed] = await miteFetch.closeSessions();
    assert.equal(miteFetch.spent().reservedMicros, 0n);
    const settled = await settledAtPlatform(world, open?.sessionId ?? '');
    assert.equal(settled.settledMicros, closed?.paidMicros);
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
    assert.equal((await settledAtPlatform(world, closed?.sessionId ?? '')).settledMicros, 500n);
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
    assert.equal((await settledAtPlatform(world, first?.sessionId ?? '')).settledMicros, 100n);
    assert.equal((await settledAtPlatform(world, second?.sessionId ?? '')).settledMicros, 100n);
  });

  it('asks the approval callback about a deposit, naming it a session', async () => {
    const asked: unknown[] = [];
    const sessionsBefore = await sessionsAtPlatform(world);
    const miteFetch = client(world, {
      sessions: { depositMicros: 400n },
      budget: { ...roomy, approve: (quote) => (asked.push(quote.session), false) },
    });
    await assert.rejects(miteFetch(`${world.url}/api/quote`), (error) =>
      isMitePaymentError(error, 'approvalDenied'),
    );
    assert.deepEqual(asked, [{ unitPrice: '0.0001', unitType: 'request', topUp: false }]);
    assert.equal(miteFetch.spent().reservedMicros, 0n);
    assert.equal(await sessionsAtPlatform(world), sessionsBefore, 'nothing was opened');
  });
});

/** How many sessions the user has opened at the platform (the file opens fewer than a page). */
async function sessionsAtPlatform(world: MeterWorld): Promise<number> {
  const listed = await world.platform.api('GET', '/v1/users/me/payment-sessions?limit=100', {
    bearer: world.userToken,
  });
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  return (listed.body['items'] as unknown[]).length;
}
