/**
 * What every adapter must do, as one suite each adapter's test runs over real loopback HTTP. The
 * adapter's test builds an app with these routes and hands over its URL:
 *
 *   GET /free            200 "free", not priced (its route's price function declines)
 *   GET /articles/:id    200 "article <id> for <receipt payer>", priced (a ticket)
 *   GET /api/flaky       single-use; answers 503 the first time, 200 "ok" afterwards
 *   GET /api/crash       single-use; throws the first time, 200 "ok" afterwards
 *
 * Not exported from the package.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  parsePaymentReceiptHeader,
  parsePriceList,
  problemTable,
  x402PaymentResponseHeaderName,
} from '@mite/protocol';
import type { Paywall } from './core.ts';
import type { PricedRoute } from './routes.ts';
import {
  challengeOf,
  createTestClock,
  startTestPlatform,
  type TestClock,
  type TestPlatform,
  testPaywall,
  testRoutes,
} from './test-platform.ts';

export interface RunningApp {
  /** The base URL ("http://127.0.0.1:PORT"). */
  readonly url: string;
  close(): Promise<void>;
}

export type StartApp = (paywall: Paywall) => Promise<RunningApp>;

/** Listens on a loopback port unless the server listens already (as Hono's `serve` does). */
export async function listen(server: Server): Promise<RunningApp> {
  if (!server.listening) {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  }
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      // fetch keeps connections alive, which would hold close() open.
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export const contractRoutes: readonly PricedRoute[] = [
  ...testRoutes,
  { method: 'GET', path: '/api/flaky', price: '0.003' },
  { method: 'GET', path: '/api/crash', price: '0.004' },
  // A price function that says "not priced": the request must reach the handler untouched.
  { method: 'GET', path: '/free', price: () => undefined },
];

/** A handler that fails on its first call only, as a flaky backend would. */
export function failingOnce(): () => boolean {
  let calls = 0;
  return () => {
    calls += 1;
    return calls === 1;
  };
}

export function describeAdapterContract(name: string, start: StartApp): void {
  describe(`the ${name} adapter`, () => {
    let platform: TestPlatform;
    let clock: TestClock;
    let app: RunningApp;

    before(async () => {
      platform = await startTestPlatform();
      clock = createTestClock();
      app = await start(testPaywall(platform, clock, { routes: contractRoutes }));
    });
    after(async () => {
      await app.close();
      await platform.close();
    });

    async function pay(path: string, x402 = false): Promise<Record<string, string>> {
      const unpaid = await fetch(`${app.url}${path}`);
      assert.equal(unpaid.status, 402);
      await unpaid.body?.cancel();
      const challenge = challengeOf(unpaid.headers, clock.nowSeconds());
      const issuedAtSeconds = clock.nowSeconds();
      return x402
        ? { 'payment-signature': await platform.payX402(challenge, { issuedAtSeconds }) }
        : { authorization: await platform.pay(challenge, { issuedAtSeconds }) };
    }

    it('lets a free route through untouched', async () => {
      const response = await fetch(`${app.url}/free`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'free');
      assert.equal(response.headers.get('payment-receipt'), null);
    });

    it('answers an unpaid priced request with a 402, its challenge and a problem', async () => {
      const response = await fetch(`${app.url}/articles/42`);
      assert.equal(response.status, 402);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const challenge = challengeOf(response.headers, clock.nowSeconds());
      assert.equal(challenge.request.methodDetails.resource, '/articles/42');
      const problem = (await response.json()) as { type: string; status: number };
      assert.equal(problem.type, problemTable.paymentRequired.type);
      assert.equal(problem.status, 402);
    });

    it('answers HEAD on a priced route as GET, with the 402 and its challenge, without a body', async () => {
      const head = await fetch(`${app.url}/articles/42`, { method: 'HEAD' });
      assert.equal(head.status, 402);
      assert.equal(head.headers.get('cache-control'), 'no-store');
      assert.match(head.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const challenge = challengeOf(head.headers, clock.nowSeconds());
      assert.equal(challenge.request.methodDetails.resource, '/articles/42');
      assert.equal(await head.text(), '');
      // The same challenge as GET's: the test clock stands still, so the id is the same too.
      const get = await fetch(`${app.url}/articles/42`);
      await get.body?.cancel();
      assert.equal(head.headers.get('www-authenticate'), get.headers.get('www-authenticate'));
      assert.equal(head.headers.get('payment-required'), get.headers.get('payment-required'));
    });

    it('answers 406 without a challenge when Accept-Payment refuses mite/charge', async () => {
      const headers = { 'accept-payment': 'tempo/charge' };
      const response = await fetch(`${app.url}/articles/42`, { headers });
      assert.equal(response.status, 406);
      assert.equal(response.headers.get('www-authenticate'), null);
      assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const problem = (await response.json()) as { status: number };
      assert.equal(problem.status, 406);
    });

    it('serves a paid request with the receipt to the handler and Payment-Receipt', async () => {
      const headers = await pay('/articles/42');
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const response = await fetch(`${app.url}/articles/42`, { headers });
        assert.equal(response.status, 200);
        assert.equal(await response.text(), 'article 42 for psn_test');
        assert.equal(response.headers.get('cache-control'), 'private');
        const receipt = parsePaymentReceiptHeader(response.headers.get('payment-receipt') ?? '');
        assert.ok(receipt.ok);
        assert.equal(receipt.value.accessUntilSeconds, clock.nowSeconds() + 86_400);
      }
    });

    it('gives a single-use receipt back after a 5xx, so the same credential can retry', async () => {
      const headers = await pay('/api/flaky');
      const failed = await fetch(`${app.url}/api/flaky`, { headers });
      assert.equal(failed.status, 503);
      assert.equal(failed.headers.get('payment-receipt'), null);
      await failed.body?.cancel();
      const retried = await fetch(`${app.url}/api/flaky`, { headers });
      assert.equal(retried.status, 200);
      assert.equal(await retried.text(), 'ok');
      assert.ok(retried.headers.get('payment-receipt') !== null);
      const replayed = await fetch(`${app.url}/api/flaky`, { headers });
      assert.equal(replayed.status, 402);
      const problem = (await replayed.json()) as { type: string };
      assert.equal(problem.type, problemTable.receiptReplayed.type);
    });

    it('gives a single-use receipt back when the handler throws', async () => {
      const headers = await pay('/api/crash');
      const crashed = await fetch(`${app.url}/api/crash`, { headers });
      assert.equal(crashed.status, 500);
      assert.equal(crashed.headers.get('payment-receipt'), null);
      await crashed.body?.cancel();
      const retried = await fetch(`${app.url}/api/crash`, { headers });
      assert.equal(retried.status, 200);
      await retried.body?.cancel();
    });

    it('accepts an x402 PAYMENT-SIGNATURE and answers PAYMENT-RESPONSE', async () => {
      const headers = await pay('/articles/7', true);
      const response = await fetch(`${app.url}/articles/7`, { headers });
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'article 7 for psn_test');
      assert.ok(response.headers.get(x402PaymentResponseHeaderName) !== null);
    });

    it('serves the price list', async () => {
      const response = await fetch(`${app.url}/.well-known/payment`);
      assert.equal(response.status, 200);
      const list = parsePriceList(await response.text());
      assert.ok(list.ok);
      // Every route but /free, whose price function prices nothing.
      assert.equal(list.value.routes.length, contractRoutes.length - 1);
      assert.ok(list.value.routes.every((route) => route.path !== '/free'));
    });
  });
}
