import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { parseCredentialHeader } from '@mite/protocol';
import {
  createMiteFetch,
  isMitePaymentError,
  MemoryReceiptStore,
  type MitePaymentErrorCode,
  type PaymentEvent,
  type PaymentQuote,
  type ReceiptStore,
  type StoredReceipt,
} from './index.ts';
import { startWorld, walletToken, type World } from './testing/world.ts';

/** Asserts the promise rejects with a MitePaymentError of this code, and returns it. */
async function rejectsWith(promise: Promise<unknown>, code: MitePaymentErrorCode) {
  try {
    await promise;
  } catch (error) {
    assert.ok(isMitePaymentError(error), `expected a MitePaymentError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a ${code} refusal`);
}

let world: World;

beforeEach(async () => {
  world = await startWorld();
});

afterEach(async () => {
  await world.close();
});

describe('createMiteFetch: paying', () => {
  it('names its device to the platform (Mite-Device) when the wallet has a device id', async () => {
    const merchant = await world.merchant({ '/articles/42': { price: '0.02' } });
    const miteFetch = world.client({
      wallet: { platformUrl: world.platform.url, token: walletToken, deviceId: 'laptop_7-a' },
    });
    assert.equal((await miteFetch(`${merchant.url}/articles/42`)).status, 200);
    assert.deepEqual(
      world.platform.attempts.map((attempt) => attempt.device),
      ['laptop_7-a'],
    );
    assert.throws(
      () =>
        world.client({
          wallet: { platformUrl: world.platform.url, token: walletToken, deviceId: 'no spaces' },
        }),
      /deviceId/,
    );
  });

  it('pays an unpaid resource, retries with the credential, and returns the content', async () => {
    const merchant = await world.merchant({ '/articles/42': { price: '0.02' } });
    const events: PaymentEvent[] = [];
    const miteFetch = world.client({ onPayment: (event) => events.push(event) });

    const response = await miteFetch(`${merchant.url}/articles/42`);

    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'paid content of /articles/42');
    assert.ok(response.headers.get('payment-receipt'));
    assert.equal(world.platform.payments.length, 1);
    assert.equal(world.platform.balanceOf(walletToken), 9_980_000n);
    assert.deepEqual(
      merchant.requests.map((r) => [r.withCredential, r.outcome]),
      [
        [false, 'challenged'],
        [true, 'served'],
      ],
    );
    const payment = world.platform.payments[0];
    assert.ok(payment !== undefined);
    assert.match(payment.idempotencyKey, /^[0-9a-f-]{36}$/);
    assert.equal(events.length, 1);
    assert.deepEqual(
      { ...events[0], receipt: undefined },
      {
        paymentId: payment.paymentId,
        amount: '0.02',
        amountMicros: 20_000n,
        currency: 'USD',
        origin: merchant.url,
        url: `${merchant.url}/articles/42`,
        resource: '/articles/42',
        merchant: 'mer_1',
        challengeId: payment.challengeId,
        issuedAtSeconds: world.clock.nowSeconds(),
        accessUntilSeconds: world.clock.nowSeconds() + 86_400,
        receipt: undefined,
      },
    );
    assert.deepEqual(miteFetch.spent(), {
      totalMicros: 20_000n,
      total: '0.02',
      byOrigin: { [merchant.url]: 20_000n },
      reservedMicros: 0n,
    });
  });

  it('opens a resource again with a live receipt, sent up front, without paying twice', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02', accessPeriodSeconds: 3600 } });
    const miteFetch = world.client();
    assert.equal((await miteFetch(`${merchant.url}/a`)).status, 200);
    world.clock.advanceSeconds(3599);

    const again = await miteFetch(`${merchant.url}/a`);

    assert.equal(again.status, 200);
    assert.equal(await again.text(), 'paid content of /a');
    assert.equal(world.platform.payments.length, 1);
    assert.equal(merchant.requests.length, 3, 'the second visit is one request');
    assert.deepEqual(merchant.requests[2], {
      method: 'GET',
      path: '/a',
      withCredential: true,
      body: '',
      outcome: 'served',
    });
    assert.equal(miteFetch.spent().totalMicros, 20_000n);
  });

  it('pays again once the access period is over', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02', accessPeriodSeconds: 60 } });
    const miteFetch = world.client();
    assert.equal((await miteFetch(`${merchant.url}/a`)).status, 200);
    world.clock.advanceSeconds(60);

    assert.equal((await miteFetch(`${merchant.url}/a`)).status, 200);

    assert.equal(world.platform.payments.length, 2);
    assert.equal(merchant.requests[2]?.withCredential, false, 'the expired receipt is not sent');
  });

  it('does not reuse a single-use receipt (accessPeriodSeconds 0)', async () => {
    const merchant = await world.merchant({ '/song': { price: '0.01', accessPeriodSeconds: 0 } });
    const miteFetch = world.client();
    const first = await miteFetch(`${merchant.url}/song`);
    assert.equal(first.status, 200);
    await first.text();
    world.clock.advanceSeconds(1);

    const second = await miteFetch(`${merchant.url}/song`);

    assert.equal(second.status, 200);
    assert.equal(world.platform.payments.length, 2);
    assert.notEqual(
      world.platform.payments[0]?.challengeId,
      world.platform.payments[1]?.challengeId,
    );
    assert.deepEqual(
      merchant.requests.map((r) => r.withCredential),
      [false, true, false, true],
      'no credential is sent up front for a single-use purchase',
    );
    assert.equal(miteFetch.spent().totalMicros, 20_000n);
  });

  it('drops a receipt the merchant no longer honours and pays again', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02' } });
    const store = new MemoryReceiptStore({ nowSeconds: world.clock.nowSeconds });
    const miteFetch = world.client({ receiptStore: store });
    assert.equal((await miteFetch(`${merchant.url}/a`)).status, 200);
    const firstReceipt = store.get(`${merchant.url}/a`);
    merchant.revokeReceiptsSeen();
    // A second later, so that the merchant's new challenge is not the one paid already (within
    // one second it issues the same id, which this client never pays twice).
    world.clock.advanceSeconds(1);

    const response = await miteFetch(`${merchant.url}/a`);

    assert.equal(response.status, 200);
    assert.equal(world.platform.payments.length, 2);
    assert.deepEqual(
      merchant.requests.slice(2).map((r) => [r.withCredential, r.outcome, r.code]),
      [
        [true, 'refused', 'receiptInvalid'],
        [true, 'served', undefined],
      ],
    );
    const kept = store.get(`${merchant.url}/a`);
    assert.ok(kept !== undefined && firstReceipt !== undefined);
    assert.notEqual(kept.paymentId, firstReceipt.paymentId, 'the stale receipt was replaced');
    assert.equal((await miteFetch(`${merchant.url}/a`)).status, 200);
    assert.equal(world.platform.payments.length, 2, 'the new receipt opens it again');
  });

  it('keeps receipts in a custom (asynchronous) store', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02' } });
    const entries = new Map<string, StoredReceipt>();
    const calls: string[] = [];
    const store: ReceiptStore = {
      async get(key) {
        calls.push(`get ${key}`);
        return entries.get(key);
      },
      async put(key, receipt) {
        calls.push(`put ${key}`);
        entries.set(key, receipt);
      },
      async delete(key) {
        calls.push(`delete ${key}`);
        entries.delete(key);
      },
    };
    assert.equal((await world.client({ receiptStore: store })(`${merchant.url}/a`)).status, 200);
    const kept = entries.get(`${merchant.url}/a`);
    assert.ok(kept !== undefined);
    assert.equal(kept.resource, '/a');
    assert.equal(kept.accessUntil, world.clock.nowSeconds() + 86_400);
    assert.ok(parseCredentialHeader(kept.credential).ok);
    assert.ok(calls.includes(`put ${merchant.url}/a`));

    // Another instance with the same store opens it without paying.
    assert.equal((await world.client({ receiptStore: store })(`${merchant.url}/a`)).status, 200);
    assert.equal(world.platform.payments.length, 1);
  });

  it('keeps a payment when the onPayment listener throws', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02' } });
    const miteFetch = world.client({
      onPayment: () => {
        throw new Error('listener bug');
      },
    });
    assert.equal((await miteFetch(`${merchant.url}/a`)).status, 200);
    assert.equal(miteFetch.spent().totalMicros, 20_000n);
  });

  it('asks for the current token when the wallet gives a function', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02' } });
    let asked = 0;
    const miteFetch = world.client({
      wallet: {
        platformUrl: `${world.platform.url}/`,
        token: async () => {
          asked += 1;
          return walletToken;
        },
      },
    });
    assert.equal((await miteFetch(new URL('/a', merchant.url))).status, 200);
    assert.equal(asked, 1);
  });

  it('pays an x402-only merchant through the PAYMENT-REQUIRED header', async () => {
    const merchant = await world.merchant({ '/x': { price: '0.03', x402Only: true } });
    const response = await world.client()(`${merchant.url}/x`);
    assert.equal(response.status, 200);
    assert.equal(world.platform.payments[0]?.amountMicros, 30_000n);
  });
});

describe('createMiteFetch: refusals make no payment', () => {
  it('refuses a payment above maxPerPayment', async () => {
    const merchant = await world.merchant({ '/big': { price: '0.50' } });
    const miteFetch = world.client({
      budget: { maxPerPayment: '0.10', maxPerOriginPerDay: '5', maxTotal: '5' },
    });
    const error = await rejectsWith(miteFetch(`${merchant.url}/big`), 'overBudget');
    assert.equal(error.limit, 'perPayment');
    assert.equal(error.paid, false);
    assert.equal(world.platform.attempts.length, 0);
    assert.equal(merchant.requests.length, 1);
    assert.equal(miteFetch.spent().reservedMicros, 0n);
  });

  it('refuses past the per-origin daily limit, per origin and per UTC day', async () => {
    const routes = { '/a': { price: '0.02' }, '/b': { price: '0.02' }, '/c': { price: '0.02' } };
    const news = await world.merchant(routes);
    const blog = await world.merchant(routes);
    const miteFetch = world.client({
      budget: { maxPerPayment: '0.10', maxPerOriginPerDay: '0.05', maxTotal: '1.00' },
    });
    assert.equal((await miteFetch(`${news.url}/a`)).status, 200);
    assert.equal((await miteFetch(`${news.url}/b`)).status, 200);

    const error = await rejectsWith(miteFetch(`${news.url}/c`), 'overBudget');
    assert.equal(error.limit, 'perOriginPerDay');
    assert.equal(world.platform.payments.length, 2);

    assert.equal((await miteFetch(`${blog.url}/a`)).status, 200, 'another origin has its own');
    world.clock.advanceSeconds(86_400);
    assert.equal((await miteFetch(`${news.url}/c`)).status, 200, 'a new UTC day starts afresh');
    assert.equal(world.platform.payments.length, 4);
    assert.deepEqual(miteFetch.spent().byOrigin, { [news.url]: 60_000n, [blog.url]: 20_000n });
  });

  it('refuses past the total limit of the instance', async () => {
    const one = await world.merchant({ '/a': { price: '0.02' } });
    const two = await world.merchant({ '/a': { price: '0.02' } });
    const three = await world.merchant({ '/a': { price: '0.02' } });
    const miteFetch = world.client({
      budget: { maxPerPayment: '0.10', maxPerOriginPerDay: '1', maxTotal: '0.05' },
    });
    assert.equal((await miteFetch(`${one.url}/a`)).status, 200);
    assert.equal((await miteFetch(`${two.url}/a`)).status, 200);
    const error = await rejectsWith(miteFetch(`${three.url}/a`), 'overBudget');
    assert.equal(error.limit, 'total');
    assert.equal(world.platform.payments.length, 2);
    assert.equal(miteFetch.spent().totalMicros, 40_000n);
  });

  it('asks approval above the threshold only, and pays nothing when denied', async () => {
    const merchant = await world.merchant({
      '/cheap': { price: '0.01' },
      '/dear': { price: '0.25', description: 'A long read' },
    });
    const quotes: PaymentQuote[] = [];
    let answer = false;
    const miteFetch = world.client({
      budget: {
        maxPerPayment: '1',
        maxPerOriginPerDay: '5',
        maxTotal: '5',
        approveAbove: '0.01',
        approve: async (quote) => {
          quotes.push(quote);
          return answer;
        },
      },
    });
    assert.equal((await miteFetch(`${merchant.url}/cheap`)).status, 200);
    assert.equal(quotes.length, 0, 'at the threshold, no question');

    await rejectsWith(miteFetch(`${merchant.url}/dear`), 'approvalDenied');
    assert.equal(world.platform.payments.length, 1);
    assert.equal(miteFetch.spent().reservedMicros, 0n);
    assert.equal(quotes.length, 1);
    const quote = quotes[0];
    assert.ok(quote !== undefined);
    assert.equal(quote.amount, '0.25');
    assert.equal(quote.amountMicros, 250_000n);
    assert.equal(quote.origin, merchant.url);
    assert.equal(quote.resource, '/dear');
    assert.equal(quote.description, 'A long read');
    assert.equal(quote.platform, world.platform.url);
    assert.equal(quote.realm, 'merchant.test');
    assert.deepEqual(quote.headroom, { perPayment: '1.00', originToday: '4.99', total: '4.99' });

    answer = true;
    assert.equal((await miteFetch(`${merchant.url}/dear`)).status, 200);
    assert.equal(world.platform.payments.length, 2);
  });

  it('refuses above approveAbove when no approve callback is configured', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02' } });
    const miteFetch = world.client({
      budget: { maxPerPayment: '1', maxPerOriginPerDay: '1', maxTotal: '1', approveAbove: '0.01' },
    });
    await rejectsWith(miteFetch(`${merchant.url}/a`), 'approvalDenied');
    assert.equal(world.platform.attempts.length, 0);
  });

  it('refuses to pay a platform it was not configured for', async () => {
    const merchant = await world.merchant({
      '/a': { price: '0.02', platform: 'http://127.0.0.1:9/' },
    });
    const error = await rejectsWith(world.client()(`${merchant.url}/a`), 'untrustedPlatform');
    assert.match(error.message, /127\.0\.0\.1:9/);
    assert.equal(world.platform.attempts.length, 0);
  });

  it('refuses to pay a site on plain http unless it is on the loopback', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02' } });
    // news.example stands for the merchant: the fetch sends its requests to the loopback one.
    const asked: string[] = [];
    const miteFetch = world.client({
      fetch: async (input, init) => {
        const url = input instanceof Request ? input.url : String(input);
        asked.push(url);
        const answer = await fetch(url.replace('http://news.example', merchant.url), init);
        // As if it came from news.example: a response made here has no URL of its own.
        return new Response(answer.body, answer);
      },
    });
    const error = await rejectsWith(miteFetch('http://news.example/a'), 'insecureTransport');
    assert.match(error.message, /http:\/\/news\.example.*plain http/);
    assert.equal(error.paid, false);
    assert.equal(world.platform.attempts.length, 0);
    assert.deepEqual(asked, ['http://news.example/a']);
    // The loopback, by any of its names, is paid as before.
    const port = new URL(merchant.url).port;
    const local = await world.client()(`http://localhost:${port}/a`);
    assert.equal(local.status, 200);
  });

  it('refuses another currency than the wallet holds', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02', currency: 'EUR' } });
    await rejectsWith(world.client()(`${merchant.url}/a`), 'wrongCurrency');
    assert.equal(world.platform.attempts.length, 0);
  });

  it('refuses a challenge that sells another site’s resource', async () => {
    const merchant = await world.merchant({
      '/a': { price: '0.02', resource: 'https://news.example/articles/42' },
    });
    const error = await rejectsWith(world.client()(`${merchant.url}/a`), 'badChallenge');
    assert.equal(error.protocolCode, 'wrongResource');
    assert.equal(world.platform.attempts.length, 0);
  });

  it('pays the Mite challenge among several in one WWW-Authenticate, whatever the scheme case', async () => {
    const merchant = await world.merchant({ '/articles/42': { price: '0.02' } });
    const tempo =
      'Payment id="x7Tg2pLqR9mKvNwY3hBcZa", realm="r", method="tempo", intent="charge", request="e30"';
    // The merchant's 402 rewritten as a crowded field: Basic first, a Payment challenge of another
    // method, then Mite's under a lower-case scheme name. PAYMENT-REQUIRED is dropped so that the
    // payment can only come from WWW-Authenticate.
    const crowded: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const challenge = response.headers.get('www-authenticate');
      if (response.status !== 402 || challenge === null) return response;
      const headers = new Headers(response.headers);
      headers.delete('payment-required');
      headers.set(
        'www-authenticate',
        `Basic realm="x", ${tempo}, payment ${challenge.slice('Payment '.length)}`,
      );
      return new Response(await response.text(), { status: 402, headers });
    };
    const response = await world.client({ fetch: crowded })(`${merchant.url}/articles/42`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'paid content of /articles/42');
    assert.equal(world.platform.payments.length, 1);
  });

  it('refuses an expired or malformed Mite challenge, and returns other 402s untouched', async () => {
    const answers: Response[] = [
      new Response('{}', {
        status: 402,
        headers: {
          'www-authenticate':
            'Payment id="x", realm="r", method="mite", intent="charge", request="e30", expires="2020-01-01T00:00:00Z"',
        },
      }),
      new Response('pay somehow', { status: 402, headers: { 'www-authenticate': 'Bearer x' } }),
      new Response('no header at all', { status: 402 }),
    ];
    const miteFetch = world.client({
      fetch: async () => answers.shift() ?? new Response(null, { status: 500 }),
    });
    const error = await rejectsWith(miteFetch('http://shop.test/a'), 'badChallenge');
    assert.ok(error.protocolCode !== undefined);
    const bearer = await miteFetch('http://shop.test/a');
    assert.equal(bearer.status, 402);
    assert.equal(await bearer.text(), 'pay somehow');
    assert.equal((await miteFetch('http://shop.test/a')).status, 402);
    assert.equal(world.platform.attempts.length, 0);
  });

  it('leaves a request alone when the caller sets its own Authorization', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02' } });
    const response = await world.client()(`${merchant.url}/a`, {
      headers: { authorization: 'Bearer mine' },
    });
    assert.equal(response.status, 402);
    assert.equal(world.platform.attempts.length, 0);
  });
});

describe('createMiteFetch: failures', () => {
  it('reports insufficient funds as a typed error and releases the reservation', async () => {
    await world.close();
    world = await startWorld({ balance: '0.01' });
    const merchant = await world.merchant({ '/a': { price: '0.02' } });
    const miteFetch = world.client({
      budget: { maxPerPayment: '0.02', maxPerOriginPerDay: '0.02', maxTotal: '0.02' },
    });

    const error = await rejectsWith(miteFetch(`${merchant.url}/a`), 'insufficientFunds');
    assert.equal(error.status, 409);
    assert.equal(error.problem?.type, '/v1/problems/insufficient-funds');
    assert.equal(error.paid, false);
    assert.deepEqual(miteFetch.spent(), {
      totalMicros: 0n,
      total: '0.00',
      byOrigin: {},
      reservedMicros: 0n,
    });

    // The whole budget is free again: after a top-up the same payment goes through.
    world.platform.setBalance(walletToken, '1.00');
    world.clock.advanceSeconds(1);
    assert.equal((await miteFetch(`${merchant.url}/a`)).status, 200);
    assert.equal(miteFetch.spent().totalMicros, 20_000n);
  });

  it('retries a platform call cut after the charge with the same Idempotency-Key, charged once', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02' } });
    world.platform.injectFaults('dropAfterCommit');
    const miteFetch = world.client();

    const response = await miteFetch(`${merchant.url}/a`);

    assert.equal(response.status, 200);
    const { attempts } = world.platform;
    assert.equal(attempts.length, 2);
    assert.equal(attempts[0]?.status, 'dropped');
    assert.deepEqual(attempts[1], {
      idempotencyKey: attempts[0]?.idempotencyKey,
      status: 201,
      replayed: true,
    });
    assert.equal(world.platform.payments.length, 1);
    assert.equal(world.platform.balanceOf(walletToken), 9_980_000n);
    assert.equal(miteFetch.spent().totalMicros, 20_000n);
  });

  it('retries a 5xx and a connection cut before the charge with the same key', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02' } });
    world.platform.injectFaults('serverError', 'dropBeforeCommit');
    const response = await world.client()(`${merchant.url}/a`);
    assert.equal(response.status, 200);
    const keys = new Set(world.platform.attempts.map((attempt) => attempt.idempotencyKey));
    assert.equal(world.platform.attempts.length, 3);
    assert.equal(keys.size, 1);
    assert.equal(world.platform.payments.length, 1);
  });

  it('keeps the budget held when the network hides whether the platform charged', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02' } });
    world.platform.injectFaults('dropBeforeCommit', 'dropBeforeCommit', 'dropBeforeCommit');
    const miteFetch = world.client();
    const error = await rejectsWith(miteFetch(`${merchant.url}/a`), 'paymentFailed');
    assert.equal(error.outcomeUnknown, true);
    assert.equal(world.platform.attempts.length, 3);
    assert.equal(world.platform.payments.length, 0);
    assert.equal(miteFetch.spent().totalMicros, 0n);
    assert.equal(miteFetch.spent().reservedMicros, 20_000n);
  });

  it('refuses a second payment of a challenge another client of the wallet paid', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02', accessPeriodSeconds: 0 } });
    assert.equal((await world.client()(`${merchant.url}/a`)).status, 200);
    const other = world.client();
    const error = await rejectsWith(other(`${merchant.url}/a`), 'duplicatePayment');
    assert.equal(error.status, 409);
    assert.equal(other.spent().reservedMicros, 0n);
    assert.equal(world.platform.payments.length, 1);
  });

  it('reports a merchant that refuses a paid credential, with the receipt for a refund', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02', refuseCredentials: true } });
    const miteFetch = world.client();
    const error = await rejectsWith(miteFetch(`${merchant.url}/a`), 'merchantRefused');
    assert.equal(error.paid, true);
    assert.equal(error.paymentId, world.platform.payments[0]?.paymentId);
    assert.ok(error.receipt !== undefined);
    assert.equal(error.status, 402);
    assert.equal(error.problem?.type, 'https://paymentauth.org/problems/verification-failed');
    assert.equal(error.problem['miteCode'], 'receiptInvalid');
    assert.equal(miteFetch.spent().totalMicros, 20_000n, 'the money did leave the wallet');

    // Asked again, it does not pay the same challenge twice.
    await rejectsWith(miteFetch(`${merchant.url}/a`), 'merchantRefused');
    assert.equal(world.platform.payments.length, 1);
  });
});

describe('createMiteFetch: concurrency', () => {
  it('makes exactly one payment for 10 concurrent fetches of one URL', async () => {
    const merchant = await world.merchant({ '/a': { price: '0.02' } });
    const miteFetch = world.client();

    const responses = await Promise.all(
      Array.from({ length: 10 }, () => miteFetch(`${merchant.url}/a`)),
    );

    for (const response of responses) {
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'paid content of /a');
    }
    assert.equal(world.platform.payments.length, 1);
    assert.equal(world.platform.attempts.length, 1);
    assert.equal(miteFetch.spent().totalMicros, 20_000n);
    assert.equal(merchant.served('/a'), 10);
  });

  it('shares one payment between different URLs of one resource', async () => {
    const merchant = await world.merchant({
      '/a': { price: '0.02', resource: '/article' },
      '/b': { price: '0.02', resource: '/article' },
    });
    const miteFetch = world.client();
    const responses = await Promise.all([
      miteFetch(`${merchant.url}/a`),
      miteFetch(`${merchant.url}/b`),
      miteFetch(`${merchant.url}/a`),
    ]);
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200, 200],
    );
    assert.equal(world.platform.payments.length, 1);
  });

  it('never pays one single-use challenge twice, even for concurrent calls', async () => {
    const merchant = await world.merchant({ '/once': { price: '0.01', accessPeriodSeconds: 0 } });
    const miteFetch = world.client();
    const results = await Promise.allSettled(
      Array.from({ length: 3 }, () => miteFetch(`${merchant.url}/once`)),
    );
    // One clock second, one challenge id: one purchase, which opens the resource once.
    assert.equal(world.platform.payments.length, 1);
    assert.equal(merchant.served('/once'), 1);
    const refused = results.filter(
      (r) => r.status === 'rejected' && isMitePaymentError(r.reason, 'merchantRefused'),
    );
    assert.equal(refused.length, 2);
    for (const result of refused) {
      assert.ok(result.status === 'rejected' && result.reason.paid === false);
    }
    assert.equal(miteFetch.spent().totalMicros, 10_000n);
  });

  it('cannot overshoot maxTotal with concurrent payments', async () => {
    const routes = Object.fromEntries(
      ['/1', '/2', '/3', '/4', '/5'].map((path) => [path, { price: '0.02' }]),
    );
    const merchant = await world.merchant(routes);
    const miteFetch = world.client({
      budget: { maxPerPayment: '1', maxPerOriginPerDay: '1', maxTotal: '0.05' },
    });

    const results = await Promise.allSettled(
      Object.keys(routes).map((path) => miteFetch(`${merchant.url}${path}`)),
    );

    const paid = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter(
      (r) => r.status === 'rejected' && isMitePaymentError(r.reason, 'overBudget'),
    );
    assert.equal(paid.length, 2);
    assert.equal(refused.length, 3);
    assert.equal(world.platform.payments.length, 2);
    assert.deepEqual(miteFetch.spent().totalMicros, 40_000n);
    assert.equal(miteFetch.spent().reservedMicros, 0n);
  });

  it('shares a refusal with the calls waiting on the same payment', async () => {
    await world.close();
    world = await startWorld({ balance: '0.00' });
    const merchant = await world.merchant({ '/a': { price: '0.02' } });
    // The platform answers slowly, so that every call's 402 arrives while the payment runs.
    const miteFetch = world.client({
      fetch: async (input, init) => {
        // Not a wait for time: a slow platform, so that the calls overlap the payment.
        if (String(input).endsWith('/v1/payments')) await delay(50);
        return fetch(input, init);
      },
    });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => miteFetch(`${merchant.url}/a`)),
    );
    for (const result of results) {
      assert.ok(
        result.status === 'rejected' && isMitePaymentError(result.reason, 'insufficientFunds'),
      );
    }
    assert.equal(world.platform.attempts.length, 1);
    assert.equal(miteFetch.spent().reservedMicros, 0n);
  });
});

describe('createMiteFetch: request bodies', () => {
  for (const [name, body, expected] of [
    ['a string', 'hello', 'hello'],
    ['a Uint8Array', new TextEncoder().encode('bytes'), 'bytes'],
    ['an ArrayBuffer', new TextEncoder().encode('buffer').buffer, 'buffer'],
    ['URLSearchParams', new URLSearchParams({ q: 'a b' }), 'q=a+b'],
  ] as const) {
    it(`sends ${name} body again after paying`, async () => {
      const merchant = await world.merchant({ '/submit': { price: '0.02' } });
      const response = await world.client()(`${merchant.url}/submit`, { method: 'POST', body });
      assert.equal(response.status, 200);
      assert.equal(await response.text(), `paid content of /submit (received "${expected}")`);
      assert.deepEqual(
        merchant.requests.map((r) => [r.method, r.body]),
        [
          ['POST', expected],
          ['POST', expected],
        ],
      );
    });
  }

  it('sends a Request object’s body again after paying', async () => {
    const merchant = await world.merchant({ '/submit': { price: '0.02' } });
    const request = new Request(`${merchant.url}/submit`, { method: 'POST', body: '{"n":1}' });
    const response = await world.client()(request);
    assert.equal(response.status, 200);
    assert.deepEqual(
      merchant.requests.map((r) => r.body),
      ['{"n":1}', '{"n":1}'],
    );
  });

  it('refuses a stream body before sending anything', async () => {
    const merchant = await world.merchant({ '/submit': { price: '0.02' } });
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'));
        controller.close();
      },
    });
    const error = await rejectsWith(
      world.client()(`${merchant.url}/submit`, {
        method: 'POST',
        body: stream,
        duplex: 'half',
      } as RequestInit),
      'bodyNotReplayable',
    );
    assert.match(error.message, /stream/);
    assert.equal(merchant.requests.length, 0);
  });
});

describe('createMiteFetch: configuration', () => {
  it('refuses malformed budgets and wallets at creation', () => {
    const wallet = { platformUrl: 'https://pay.example', token: 't' };
    assert.throws(
      () =>
        createMiteFetch({
          wallet,
          budget: { maxPerPayment: '0.1.2', maxPerOriginPerDay: '1', maxTotal: '1' },
        }),
      /maxPerPayment/,
    );
    assert.throws(
      () =>
        createMiteFetch({
          wallet: { ...wallet, platformUrl: 'ftp://pay.example' },
          budget: { maxPerPayment: '1', maxPerOriginPerDay: '1', maxTotal: '1' },
        }),
      /http/,
    );
    for (const platformUrl of ['http://pay.example', 'http://10.1.2.3:8787']) {
      assert.throws(
        () =>
          createMiteFetch({
            wallet: { ...wallet, platformUrl },
            budget: { maxPerPayment: '1', maxPerOriginPerDay: '1', maxTotal: '1' },
          }),
        /must be https \(plain http only on the loopback/,
      );
    }
    for (const platformUrl of ['http://127.0.0.1:8787', 'http://localhost:8787', 'http://[::1]']) {
      createMiteFetch({
        wallet: { ...wallet, platformUrl },
        budget: { maxPerPayment: '1', maxPerOriginPerDay: '1', maxTotal: '1' },
      });
    }
  });
});
