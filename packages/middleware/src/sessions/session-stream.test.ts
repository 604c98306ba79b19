import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  decodeSessionReceipt,
  needVoucherEvent,
  parseNeedVoucher,
  parseSessionChallengeHeader,
  parseChallengeHeader,
  sessionReceiptEvent,
} from '@mite/protocol';
import express from 'express';
import { listen } from '../adapter-contract.ts';
import { createPaywall } from '../core.ts';
import { testSecret } from '../test-platform.ts';
import { expressSessionMeter } from './express.ts';
import { formatServerSentEvent } from './event-stream.ts';
import { createSessionMeter } from './session-meter.ts';
import { createMemorySessionStore } from './session-store.ts';
import {
  type MeterWorld,
  meteredTestRoutes,
  type OpenedSession,
  openAtPlatform,
  send,
  sessionChallengeOf,
  startMeterWorld,
  testHandler,
} from './testing-world.ts';

interface ServerSentEvent {
  readonly event: string;
  readonly data: string;
}

/** Reads a stream's events, calling `onEvent` as each arrives (before the next is read). */
async function readEvents(
  response: Response,
  onEvent: (event: ServerSentEvent) => Promise<void> | void,
): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of response.body ?? []) {
    buffered += decoder.decode(chunk as Uint8Array, { stream: true });
    let end = buffered.indexOf('\n\n');
    while (end !== -1) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const lines = block.split('\n');
      const event = {
        event: lines.find((line) => line.startsWith('event: '))?.slice(7) ?? 'message',
        data: lines
          .filter((line) => line.startsWith('data: '))
          .map((line) => line.slice(6))
          .join('\n'),
      };
      events.push(event);
      await onEvent(event);
      end = buffered.indexOf('\n\n');
    }
  }
  return events;
}

async function openedStream(
  world: MeterWorld,
  target: string,
  kind: 'payword' | 'ed25519',
  depositMicros = 5_000n,
): Promise<OpenedSession> {
  const challenge = await sessionChallengeOf(world, target);
  return openAtPlatform(world, challenge, { depositMicros, kind });
}

// One platform and one merchant for the file; the Express suite puts a meter of its own in front.
let world: MeterWorld;
before(async () => {
  world = await startMeterWorld({ voucherWaitMs: 400 });
});
after(() => world.close());

describe('metered streams', () => {
  it('writes SSE events with one data line a line', () => {
    assert.equal(formatServerSentEvent('a\nb', 'x'), 'event: x\ndata: a\ndata: b\n\n');
    assert.equal(formatServerSentEvent('plain'), 'data: plain\n\n');
    assert.throws(() => formatServerSentEvent('a', 'x\ny'), RangeError);
  });

  it('pauses on payment-need-voucher and resumes when the voucher arrives on HEAD', async () => {
    const session = await openedStream(world, '/songs/7?seconds=8', 'payword');
    const open = session.credential({ action: 'open', grant: session.grant });
    const response = await send(world, '/songs/7?seconds=8', open);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    const asked: bigint[] = [];
    const events = await readEvents(response, async (event) => {
      if (event.event !== needVoucherEvent) return;
      const need = parseNeedVoucher(event.data);
      assert.ok(need.ok);
      assert.equal(need.value.channelId, session.id);
      asked.push(need.value.requiredCumulativeMicros);
      const paid = await send(
        world,
        '/songs/7?seconds=8',
        session.pay(need.value.requiredCumulativeMicros),
        'HEAD',
      );
      assert.equal(paid.status, 204);
    });
    const data = events.filter((event) => event.event === 'message').map((event) => event.data);
    assert.deepEqual(
      data,
      Array.from({ length: 8 }, (_, index) => `unit ${index}`),
    );
    // Each voucher adds the route's minimum step (3 units): asked at 0, 3 and 6 units served.
    assert.deepEqual(asked, [300n, 600n, 900n]);
    const last = events.at(-1);
    assert.equal(last?.event, sessionReceiptEvent);
    const receipt = decodeSessionReceipt(JSON.parse(last?.data ?? 'null'));
    assert.ok(receipt.ok);
    assert.equal(receipt.value.units, 8);
    assert.equal(receipt.value.spentMicros, 800n);
    assert.equal(receipt.value.acceptedCumulativeMicros, 900n);
  });

  it('ends the stream when no voucher comes in time, having served only what was paid', async () => {
    const session = await openedStream(world, '/llm/1?tokens=20', 'ed25519');
    await send(
      world,
      '/llm/1?tokens=20',
      session.credential({ action: 'open', grant: session.grant }),
      'HEAD',
    );
    assert.equal((await send(world, '/llm/1?tokens=20', session.pay(50n), 'HEAD')).status, 204);
    const response = await send(world, '/llm/1?tokens=20', session.pay(50n));
    const started = Date.now();
    const events = await readEvents(response, () => undefined);
    assert.ok(Date.now() - started >= 300, 'it waited for a voucher');
    const data = events.filter((event) => event.event === 'message');
    // 50 micro-units pay five tokens of 10.
    assert.equal(data.length, 5);
    assert.deepEqual(events.map((event) => event.event).slice(-2), [
      needVoucherEvent,
      sessionReceiptEvent,
    ]);
    assert.equal((await world.store.get(session.id))?.spentMicros, 50n);
  });

  it('ends a waiting stream at once when the session closes', async () => {
    const session = await openedStream(world, '/songs/9?seconds=5', 'payword');
    const response = await send(
      world,
      '/songs/9?seconds=5',
      session.credential({ action: 'open', grant: session.grant }),
    );
    const started = Date.now();
    const events = await readEvents(response, async (event) => {
      if (event.event === needVoucherEvent) await world.meter.close(session.id);
    });
    assert.ok(Date.now() - started < 350, 'the close woke the stream');
    assert.equal(events.filter((event) => event.event === 'message').length, 0);
    const receipt = decodeSessionReceipt(JSON.parse(events.at(-1)?.data ?? 'null'));
    assert.ok(receipt.ok && receipt.value.final);
    // meter.close returned (and the stream went on) once the platform had settled the session.
    const settled = await world.sessionAt(session.id);
    assert.equal(settled.state, 'settled');
    assert.equal(settled.settledMicros, 0n);
  });

  it('takes vouchers on a stream from several requests at once without serving twice', async () => {
    const session = await openedStream(world, '/songs/2?seconds=4', 'payword', 400n);
    await send(
      world,
      '/songs/2?seconds=4',
      session.credential({ action: 'open', grant: session.grant }),
      'HEAD',
    );
    assert.equal((await send(world, '/songs/2?seconds=4', session.pay(400n), 'HEAD')).status, 204);
    // Two streams share 4 paid units: together they serve 4, never more.
    const [first, second] = await Promise.all([
      send(world, '/songs/2?seconds=4', session.pay(400n)),
      send(world, '/songs/2?seconds=4', session.pay(400n)),
    ]);
    const counts = await Promise.all(
      [first, second].map(async (response) => {
        const events = await readEvents(response ?? new Response(), () => undefined);
        return events.filter((event) => event.event === 'message').length;
      }),
    );
    assert.equal((counts[0] ?? 0) + (counts[1] ?? 0), 4);
    assert.equal((await world.store.get(session.id))?.spentMicros, 400n);
  });
});

describe('the session meter beside a paywall, under Express', () => {
  let app: { url: string; close(): Promise<void> };
  before(async () => {
    const paywall = createPaywall({
      merchantId: world.merchantId,
      realm: 'radio.test',
      platformUrl: world.platform.url,
      challengeSecret: testSecret,
      clock: world.clock.nowMs,
      routes: [{ method: 'GET', path: '/api/quote', price: '0.05' }],
    });
    const meter = createSessionMeter({
      merchantId: world.merchantId,
      realm: 'radio.test',
      platformUrl: world.platform.url,
      challengeSecret: testSecret,
      routes: meteredTestRoutes,
      apiKey: world.merchantKey,
      store: createMemorySessionStore(),
      clock: world.clock.nowMs,
      checkpointIntervalMs: 0,
      paywall,
    });
    const handler = testHandler();
    const server = express()
      .use(expressSessionMeter(meter))
      .get('/{*rest}', (request, response) => void handler(request, response, request.miteSession));
    app = await listen(createServer(server));
  });
  after(() => app.close());

  it('offers the charge and the session in one 402', async () => {
    const response = await fetch(`${app.url}/api/quote`);
    assert.equal(response.status, 402);
    const header = response.headers.get('www-authenticate') ?? '';
    const now = { nowSeconds: world.clock.nowSeconds() };
    const charge = parseChallengeHeader(header, now);
    const session = parseSessionChallengeHeader(header, now);
    assert.ok(charge.ok && session.ok);
    assert.equal(charge.value.request.amount, '50000');
    assert.equal(session.value.request.amount, '100');
    // A metered route the paywall does not sell offers the session alone.
    const song = await fetch(`${app.url}/songs/1`);
    assert.equal(parseChallengeHeader(song.headers.get('www-authenticate') ?? '', now).ok, false);
  });

  it('serves a session through Express, and refuses a charge credential the paywall does not sell', async () => {
    const challenge = await sessionChallengeOf({ ...world, url: app.url }, '/api/quote');
    const session = await openAtPlatform(world, challenge, {
      depositMicros: 500n,
      kind: 'payword',
    });
    const target = `${app.url}/api/quote`;
    const head = {
      method: 'HEAD',
      headers: { authorization: session.credential({ action: 'open', grant: session.grant }) },
    };
    assert.equal((await fetch(target, head)).status, 204);
    const paid = await fetch(target, { headers: { authorization: session.pay(100n) } });
    assert.equal(paid.status, 200);
    assert.equal(await paid.text(), 'quote 1');
    const songs = `${app.url}/songs/1`;
    const bogus = `Payment ${Buffer.from(JSON.stringify({ challenge: { intent: 'charge' }, payload: {} })).toString('base64url')}`;
    const refused = await fetch(songs, { headers: { authorization: bogus } });
    assert.equal(refused.status, 400);
    await refused.body?.cancel();
  });
});
