/**
 * Sessions end to end against the real platform (packages/server on embedded SQLite, driven
 * through its HTTP API): a merchant's route metered by this package's session meter, paid by
 * @mite/client's createMiteFetch with a session. The client opens the session at the platform,
 * pays per request and by the second as the stream asks, and closes through the merchant, which
 * settles at the platform: the wallet pays exactly what was served, the merchant gets its share,
 * the rest of the deposit is released, and the ledger verifies.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMiteFetch } from '@mite/client';
import { tempDir } from '@mite/testkit';
import { listen } from '../adapter-contract.ts';
import type { PaidOutcome } from '../core.ts';
import { testSecret } from '../test-platform.ts';
import { type LiveMerchant, type LivePlatform, startLivePlatform } from '../testing-end-to-end.ts';
import { eventStreamHeaders, meteredEventStream } from './event-stream.ts';
import type { SessionPayment } from './metered-payment.ts';
import type { MeteredRoute } from './metered-routes.ts';
import { withSessionMeter } from './node-http.ts';
import { createSessionMeter, type SessionMeter } from './session-meter.ts';
import { createSqliteSessionStore } from './sqlite-session-store.ts';

const routes: readonly MeteredRoute[] = [
  { method: 'GET', path: '/api/quote', unitPrice: '0.0001', unitType: 'request' },
  { method: 'GET', path: '/songs/:id', unitPrice: '0.0002', unitType: 'second' },
];

/** `/api/quote` answers a quote; `/songs/:id?seconds=N` streams N seconds, one unit each. */
function handler() {
  return async (
    request: IncomingMessage,
    response: ServerResponse,
    payment: SessionPayment | PaidOutcome | undefined,
  ) => {
    const url = new URL(request.url ?? '/', 'http://merchant.invalid');
    if (payment === undefined || payment.kind === 'paid') {
      return void response.writeHead(404).end('not metered');
    }
    if (payment.unitType === 'request') return void response.end('a quote');
    const seconds = Number(url.searchParams.get('seconds') ?? '1');
    response.writeHead(200, eventStreamHeaders);
    const stream = meteredEventStream(payment, (text) => response.write(text));
    for (let second = 1; second <= seconds; second += 1) {
      if (!(await stream.send(`second ${second}`))) break;
    }
    await stream.end();
    response.end();
  };
}

describe('sessions against the real platform', () => {
  let live: LivePlatform;
  let merchant: LiveMerchant;
  let meter: SessionMeter;
  let merchantUrl: string;
  let token: string;
  let closeApp: () => Promise<void>;

  before(async () => {
    live = await startLivePlatform();
    merchant = await live.createMerchant('Radio Live', 1000);
    const apiKey = await live.createApiKey(merchant, ['sessions:write', 'sessions:read']);
    token = await live.signUp('listener@example.com');
    await live.topUp(token, '1.00');
    meter = createSessionMeter({
      merchantId: merchant.merchantId,
      realm: 'radio.live',
      platformUrl: live.url,
      challengeSecret: testSecret,
      routes,
      apiKey,
      store: createSqliteSessionStore({ file: path.join(tempDir('mite-live-'), 's.db') }),
      checkpointIntervalMs: 0,
      voucherWaitMs: 2_000,
    });
    const app = await listen(createServer(withSessionMeter(meter, handler())));
    merchantUrl = app.url;
    closeApp = app.close;
  });

  after(async () => {
    await meter.stop();
    await closeApp();
    await live.platform.close();
  });

  it('settles exactly what a per-request and a streamed session served', async () => {
    const miteFetch = createMiteFetch({
      wallet: { platformUrl: live.url, token },
      budget: { maxPerPayment: '0.50', maxPerOriginPerDay: '1.00', maxTotal: '1.00' },
      sessions: { depositMicros: 10_000n },
    });
    for (let request = 0; request < 4; request += 1) {
      const answer = await miteFetch(`${merchantUrl}/api/quote`);
      assert.equal(answer.status, 200);
      assert.equal(await answer.text(), 'a quote');
    }
    const stream = await miteFetch(`${merchantUrl}/songs/1?seconds=7`, {
      headers: { accept: 'text/event-stream' },
    });
    assert.equal(stream.status, 200);
    const body = await stream.text();
    assert.match(body, /second 7/);
    const closed = await miteFetch.closeSessions();
    const paid = closed.reduce((sum, session) => sum + session.paidMicros, 0n);
    assert.equal(paid, 4n * 100n + 7n * 200n);
    // The platform's records: each session settled at what its merchant served. The merchant
    // closes at the platform off the request path, so the test waits for it.
    const settledSessions = async () => {
      const listed = await live.api('GET', '/v1/users/me/payment-sessions', { bearer: token });
      return listed.body.items as Record<string, unknown>[];
    };
    let sessions = await settledSessions();
    for (let wait = 0; wait < 100 && sessions.some((one) => one.state !== 'settled'); wait++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      sessions = await settledSessions();
    }
    assert.equal(sessions.length, 2);
    for (const session of sessions) assert.equal(session.state, 'settled', JSON.stringify(session));
    const settled = sessions.reduce(
      (sum, session) => sum + BigInt(String(session.settledAmount)),
      0n,
    );
    assert.equal(settled, paid);
    assert.equal(await live.walletMicros(token), 1_000_000n - paid);
    assert.equal(await live.merchantMicros(merchant), paid - paid / 10n);
    const verified = await live.platform.ledger.verify();
    assert.equal(verified.ok, true, JSON.stringify(verified));
  });
});
