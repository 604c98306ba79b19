/**
 * Client input never causes a 500: each kind of input a hostile review found answered 500 (or
 * worse) is answered with a 4xx problem+json, on both databases, over real HTTP.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { encodeCursor } from './http/pagination.ts';
import { captureLog } from './http/testing.ts';
import {
  type Answer,
  type PlatformUnderTest,
  setUpShop,
  startPlatformUnderTest,
} from './platform-testing.ts';
import { forEachDialect } from './db/testing.ts';

function assertClientProblem(answer: Answer, what: string): void {
  assert.ok(
    answer.status >= 400 && answer.status < 500,
    `${what}: ${answer.status} ${answer.text}`,
  );
  assert.match(answer.contentType, /^application\/problem\+json/, what);
}

async function assertStillUp(env: PlatformUnderTest): Promise<void> {
  assert.equal((await env.call('GET', '/healthz')).status, 200);
}

/** Amounts the wire's pattern admits but that are above the largest amount, 10^12. */
const tooLargeAmounts = ['1000000000000.000001', '1000000000001', '9999999999999.999999'];

forEachDialect('client input never causes a 500', (backend, it) => {
  it('refuses amounts of 10^12 and above wherever an amount is taken', async (t) => {
    const env = await startPlatformUnderTest(t, backend);
    const shop = await setUpShop(env);
    const card = { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' };
    for (const amount of tooLargeAmounts) {
      const calls: [string, string, string, unknown][] = [
        [
          'merchant threshold',
          '/v1/merchants',
          env.admin,
          {
            name: 'Big',
            feeBasisPoints: 100,
            payoutThreshold: amount,
          },
        ],
        [
          'offer price',
          '/v1/offers',
          shop.apiKey,
          {
            resource: '/big',
            accessPeriodSeconds: 60,
            title: 'Big',
            price: amount,
            category: 'content',
          },
        ],
        ['top-up', '/v1/topups', shop.user, { amount, card }],
        ['refund', `/v1/payments/${shop.paymentId}/refunds`, shop.apiKey, { amount }],
      ];
      for (const [what, path, auth, body] of calls) {
        const answer = await env.call('POST', path, { auth, body });
        assertClientProblem(answer, `${what} ${amount}`);
        assert.equal(answer.body?.status, 400, `${what} ${amount}`);
      }
    }
    await assertStillUp(env);
  });

  it('refuses forged pagination cursors', async (t) => {
    const env = await startPlatformUnderTest(t, backend);
    const shop = await setUpShop(env);
    const forged: [string, string, unknown][] = [
      ['/v1/wallet/transactions', shop.user, { before: '0' }],
      ['/v1/wallet/transactions', shop.user, { before: '9999999999999999999' }],
      ['/v1/wallet/transactions', shop.user, { before: '00000000000000000001' }],
      [
        `/v1/webhook-endpoints/${shop.webhookEndpointId}/attempts`,
        shop.apiKey,
        {
          attemptedAt: '99999999999999999999',
          id: 'x',
        },
      ],
      [
        `/v1/webhook-endpoints/${shop.webhookEndpointId}/attempts`,
        shop.apiKey,
        {
          attemptedAt: '1',
          id: 'a\u0000b',
        },
      ],
      ['/v1/payout-batches', env.admin, { batchId: 'a\u0000b' }],
    ];
    for (const [path, auth, cursor] of forged) {
      const answer = await env.call('GET', `${path}?cursor=${encodeCursor(cursor)}`, { auth });
      assertClientProblem(answer, `${path} ${JSON.stringify(cursor)}`);
    }
    await assertStillUp(env);
  });

  it('refuses JSON nested 10,000 deep, on the unauthenticated webhook and elsewhere', async (t) => {
    const env = await startPlatformUnderTest(t, backend);
    const shop = await setUpShop(env);
    const deepArray = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const deepObject = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    for (const rawBody of [deepArray, deepObject]) {
      const webhook = await env.call('POST', '/v1/funding/sandbox/webhooks', { rawBody });
      assertClientProblem(webhook, 'sandbox webhook');
      assert.equal(webhook.body?.status, 400);
      const offer = await env.call('POST', '/v1/offers', { auth: shop.apiKey, rawBody });
      assertClientProblem(offer, 'offer');
    }
    await assertStillUp(env);
  });

  it('refuses NUL bytes and lone surrogates in ids, queries and bodies', async (t) => {
    const env = await startPlatformUnderTest(t, backend);
    const shop = await setUpShop(env);
    const paths = [
      `/v1/offers/a%00b`,
      `/v1/topups/%00`,
      `/v1/payout-batches/a%00`,
      `/v1/webhook-endpoints/%00/attempts`,
      `/v1/fee-report?from=2026-01-01T00:00:00Z%00&to=2026-01-02T00:00:00Z`,
      `/v1/offers/a%ED%A0%80b`,
    ];
    for (const path of paths) {
      const auth = path.startsWith('/v1/topups') ? shop.user : env.admin;
      assertClientProblem(await env.call('GET', path, { auth }), path);
    }
    const offer = {
      resource: '/nul',
      price: '0.02',
      category: 'content',
      accessPeriodSeconds: 60,
    };
    for (const title of ['a\u0000b', 'a\ud800b', '\udc00']) {
      const answer = await env.call('POST', '/v1/offers', {
        auth: shop.apiKey,
        body: { ...offer, title },
      });
      assertClientProblem(answer, JSON.stringify(title));
      assert.equal(answer.body?.status, 400);
    }
    const refund = await env.call('POST', `/v1/payments/${shop.paymentId}/refunds`, {
      auth: shop.apiKey,
      // A JSON escape of a lone surrogate, which JSON.stringify would write as `\ud800` too.
      rawBody: '{"amount":"0.01","reason":"oops \\ud800"}',
    });
    assertClientProblem(refund, 'refund reason with a lone surrogate');
    const refundNul = await env.call('POST', `/v1/payments/a%00/refunds`, {
      auth: shop.apiKey,
      body: { amount: '0.01' },
    });
    assertClientProblem(refundNul, 'refund of a payment id with a NUL');
    await assertStillUp(env);
  });

  it('answers a path parameter over the length limit without echoing the URL', async (t) => {
    const env = await startPlatformUnderTest(t, backend);
    const marker = 'x'.repeat(300);
    for (const path of [`/v1/offers/${marker}`, `/v1/offers/%ZZ${marker}`]) {
      const answer = await env.call('GET', path);
      assertClientProblem(answer, path.slice(0, 20));
      assert.ok(!answer.text.includes(marker), `the answer echoes the URL: ${answer.text}`);
    }
  });
});

describe('clients that abort', () => {
  it('are logged at info, not as errors', async (t) => {
    const log = captureLog('info');
    const env = await startPlatformUnderTest(t, 'sqlite', { logger: log.logger });
    const shop = await setUpShop(env);
    const { port } = new URL(env.baseUrl);
    // Half a body, then the connection is dropped: once the server has read that half, and
    // checked once the server has seen its end of the connection close (events, not time).
    const serverSide = new Promise<{ readHalf: Promise<void>; closed: Promise<void> }>(
      (resolve) => {
        env.platform.app.server.once('connection', (socket: Socket) => {
          const readHalf = new Promise<void>((read) => {
            const onData = (chunk: Buffer) => {
              if (!chunk.toString().includes('{"title":')) return;
              socket.off('data', onData);
              read();
            };
            socket.on('data', onData);
          });
          const closed = new Promise<void>((done) => socket.once('close', () => done()));
          resolve({ readHalf, closed });
        });
      },
    );
    const socket = connect(Number(port), '127.0.0.1');
    socket.on('error', () => {}); // destroyed on purpose
    socket.write(
      [
        'POST /v1/offers HTTP/1.1',
        'Host: 127.0.0.1',
        `Authorization: Bearer ${shop.apiKey}`,
        'Idempotency-Key: abort-1',
        'Content-Type: application/json',
        'Content-Length: 1000',
        '',
        '{"title":',
      ].join('\r\n'),
    );
    const { readHalf, closed } = await serverSide;
    await readHalf;
    socket.destroy();
    await closed;
    // What the server does about the close (logging it) runs in the turns that follow.
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
    const aborted = log.entries().find((entry) => entry.msg === 'client aborted the request');
    assert.equal(aborted?.level, 30, 'logged at info');
    await assertStillUp(env);
    const errors = log.entries().filter((entry) => Number(entry.level) >= 50);
    assert.deepEqual(errors, []);
  });
});
