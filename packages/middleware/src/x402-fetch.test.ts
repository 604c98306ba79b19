/**
 * Interoperability with the stock x402 v2 client: `@x402/fetch` 2.27.0's `wrapFetchWithPayment`
 * and `x402Client`, with `@mite/client/x402`'s scheme registered for `mite:*`, pays a Mite paywall
 * whose only offer to it is the `PAYMENT-REQUIRED` every 402 carries. Everything is real on
 * loopback: the Mite platform (`@mite/server`, embedded SQLite) set up through its API, a wallet
 * topped up by card, merchant sites behind this package. Every refusal is checked to move no money.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  MemoryReceiptStore,
  type MitePaymentError,
  type PaymentEvent,
  type ReceiptStore,
} from '@mite/client';
import { type MiteScheme, miteScheme } from '@mite/client/x402';
import { x402NetworkOf } from '@mite/protocol';
import { decodePaymentResponseHeader } from '@x402/core/http';
import { wrapFetchWithPayment, x402Client, x402HTTPClient } from '@x402/fetch';
import {
  type LiveMerchant,
  type LivePlatform,
  type LiveShop,
  startLivePlatform,
  startShop,
} from './testing-end-to-end.ts';

const feeBasisPoints = 1_000;
const articleMicros = 20_000n;
/** What the merchant keeps of a payment: the price less the fee, rounded half up. */
const netOf = (price: bigint) => price - (price * BigInt(feeBasisPoints) + 5_000n) / 10_000n;
const roomyBudget = { maxPerPayment: '0.50', maxPerOriginPerDay: '5.00', maxTotal: '5.00' };

let live: LivePlatform;
let token: string;
let merchant: LiveMerchant;
let shop: LiveShop;

before(async () => {
  live = await startLivePlatform();
  merchant = await live.createMerchant('x402 News', feeBasisPoints);
  shop = await startShop('node:http', live.url, merchant);
  token = await live.signUp('x402-reader@example.com');
  await live.topUp(token, '1.00');
});

after(async () => {
  await shop?.close();
  await live?.close();
});

/** The headers of every request the x402 client sends, in order. */
function recordingFetch(sent: Headers[]): typeof fetch {
  return (input, init) => {
    const request = new Request(input, init);
    sent.push(new Headers(request.headers));
    return fetch(request);
  };
}

interface Payer {
  readonly scheme: MiteScheme;
  readonly client: InstanceType<typeof x402Client>;
  readonly events: PaymentEvent[];
  /** The error the scheme threw, as x402's failure hook saw it. */
  failure(): MitePaymentError | undefined;
}

function payer(budget = roomyBudget, receiptStore?: ReceiptStore): Payer {
  const events: PaymentEvent[] = [];
  let failure: MitePaymentError | undefined;
  const scheme = miteScheme({
    wallet: { platformUrl: live.url, token },
    budget,
    onPayment: (event) => events.push(event),
    ...(receiptStore === undefined ? {} : { receiptStore }),
  });
  const client = new x402Client().register('mite:*', scheme);
  // @x402/fetch rethrows a scheme's error as a plain Error with its message only; the failure
  // hook sees the original.
  client.onPaymentCreationFailure(({ error }) => {
    failure = error as MitePaymentError;
    return Promise.resolve();
  });
  return { scheme, client, events, failure: () => failure };
}

/** Fetches with the x402 client, expecting it to refuse before paying; the wallet must not move. */
async function refusedWithoutPaying(
  paying: typeof fetch,
  url: string,
  expected: RegExp,
): Promise<void> {
  const before = await live.walletMicros(token);
  const merchantBefore = await live.merchantMicros(merchant);
  await assert.rejects(paying(url), (error: Error) => {
    assert.match(error.message, /^Failed to create payment payload: /);
    assert.match(error.message, expected);
    return true;
  });
  assert.equal(await live.walletMicros(token), before, 'the wallet did not move');
  assert.equal(await live.merchantMicros(merchant), merchantBefore, 'nor did the merchant');
}

describe('the stock x402 client @x402/fetch pays a Mite paywall', () => {
  it('pays a priced route: the content, a PAYMENT-RESPONSE that settled, the exact price', async () => {
    const { scheme, client, events } = payer();
    const sent: Headers[] = [];
    const paying = wrapFetchWithPayment(recordingFetch(sent), client);
    const walletBefore = await live.walletMicros(token);
    const merchantBefore = await live.merchantMicros(merchant);

    const response = await paying(`${shop.url}/articles/x402-first`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /^article x402-first for psn_/);

    const header = response.headers.get('PAYMENT-RESPONSE');
    assert.ok(header !== null, 'the paid response carries PAYMENT-RESPONSE');
    const settled = decodePaymentResponseHeader(header);
    assert.equal(settled.success, true);
    assert.equal(settled.network, scheme.network);
    assert.equal(settled.network, x402NetworkOf(live.url));
    assert.equal(events.length, 1);
    assert.equal(settled.transaction, events[0]?.paymentId);

    assert.equal(await live.walletMicros(token), walletBefore - articleMicros);
    assert.equal(await live.merchantMicros(merchant), merchantBefore + netOf(articleMicros));
    assert.equal(scheme.spent().totalMicros, articleMicros);

    // Nothing Mite-specific was asked for: a plain request, then the x402 payment header alone.
    const [first, second] = sent;
    assert.equal(sent.length, 2);
    for (const name of ['authorization', 'payment-signature', 'x-payment-protocol']) {
      assert.equal(first?.get(name), null, `the first request has no ${name}`);
    }
    assert.ok(second?.get('payment-signature'), 'the retry carries PAYMENT-SIGNATURE');
    assert.equal(second?.get('authorization'), null);
    assert.equal(second?.get('x-payment-protocol'), null);
  });

  it('opens a resource bought with an access period again, with the kept receipt, paying nothing', async () => {
    const { scheme, client, events } = payer();
    const sent: Headers[] = [];
    const paying = wrapFetchWithPayment(recordingFetch(sent), client);
    const first = await paying(`${shop.url}/articles/x402-again`);
    assert.equal(first.status, 200);
    await first.body?.cancel();
    const walletAfterFirst = await live.walletMicros(token);
    try {
      // Later, so that the shop's 402 carries a new challenge, not the one paid.
      shop.setClockOffsetSeconds(5);
      const again = await paying(`${shop.url}/articles/x402-again`);
      assert.equal(again.status, 200);
      assert.match(await again.text(), /^article x402-again for psn_/);
      const settled = decodePaymentResponseHeader(again.headers.get('PAYMENT-RESPONSE') ?? '');
      assert.equal(settled.transaction, events[0]?.paymentId, 'the first payment, shown again');
    } finally {
      shop.setClockOffsetSeconds(0);
    }
    assert.equal(events.length, 1);
    assert.equal(await live.walletMicros(token), walletAfterFirst);
    assert.equal(scheme.spent().totalMicros, articleMicros);
    assert.equal(sent.length, 4, 'each fetch: a 402, then the credential');
  });

  it('drops a kept receipt the merchant refuses and pays the 402 afresh, once', async () => {
    const store = new MemoryReceiptStore();
    const { scheme, client, events } = payer(roomyBudget, store);
    const sent: Headers[] = [];
    const paying = wrapFetchWithPayment(recordingFetch(sent), client);
    const bought = await paying(`${shop.url}/articles/x402-kept`);
    assert.equal(bought.status, 200);
    await bought.body?.cancel();
    // A receipt for another article, kept (wrongly) under this one: the shop will refuse it.
    const kept = store.get(`${shop.url}/articles/x402-kept`);
    assert.ok(kept !== undefined, 'the receipt is kept');
    store.put(`${shop.url}/articles/x402-other`, kept);
    const walletBefore = await live.walletMicros(token);

    sent.length = 0;
    const response = await paying(`${shop.url}/articles/x402-other`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /^article x402-other for psn_/);
    assert.equal(sent.length, 3, 'a 402, the kept receipt refused, the new payment served');
    assert.equal(events.length, 2);
    assert.equal(await live.walletMicros(token), walletBefore - articleMicros);
    assert.equal(scheme.spent().totalMicros, 2n * articleMicros);
    assert.equal(store.get(`${shop.url}/articles/x402-other`)?.paymentId, events[1]?.paymentId);
  });

  it('refuses a requirement that names another platform, without paying', async () => {
    const elsewhere = await startShop('node:http', 'https://pay.elsewhere.example', merchant);
    try {
      const { scheme, client, failure } = payer();
      const paying = wrapFetchWithPayment(fetch, client);
      await refusedWithoutPaying(paying, `${elsewhere.url}/articles/1`, /pays only on mite:/);
      assert.equal(failure()?.code, 'untrustedPlatform');
      assert.equal(scheme.spent().totalMicros, 0n);

      // Registered for its own platform's network only, the scheme is not even offered it.
      const strict = new x402Client().register(scheme.network, scheme);
      await refusedWithoutPaying(
        wrapFetchWithPayment(fetch, strict),
        `${elsewhere.url}/articles/1`,
        /No network\/scheme registered/,
      );
    } finally {
      await elsewhere.close();
    }
  });

  it('refuses a price above the budget, without paying', async () => {
    const { scheme, client, failure } = payer({ ...roomyBudget, maxPerPayment: '0.01' });
    const paying = wrapFetchWithPayment(fetch, client);
    await refusedWithoutPaying(paying, `${shop.url}/articles/x402-dear`, /above the limit/);
    assert.equal(failure()?.code, 'overBudget');
    assert.equal(failure()?.limit, 'perPayment');
    assert.equal(scheme.spent().totalMicros, 0n);
    assert.equal(scheme.spent().reservedMicros, 0n);
  });

  it("refuses, with x402's own spend cap, a price above it, without calling the scheme", async () => {
    const { scheme, client, failure } = payer();
    client.setSpendControls({ maxAmountPerPayment: '$0.01' });
    const paying = wrapFetchWithPayment(fetch, client);
    await refusedWithoutPaying(paying, `${shop.url}/articles/x402-capped`, /spendControls/);
    assert.equal(failure(), undefined, 'the scheme was never asked');
    assert.equal(scheme.spent().totalMicros, 0n);
  });

  it('with the HTTP hook, knows the URL fetched and refuses a 402 selling another site', async () => {
    // This site's 402s sell https://news.example/...: only the URL fetched shows the mismatch.
    const other = await startShop('node:http', live.url, merchant, {
      origin: 'https://news.example',
    });
    try {
      const { scheme, client, events, failure } = payer();
      const http = new x402HTTPClient(client).onPaymentRequired(scheme.onPaymentRequired);
      const paying = wrapFetchWithPayment(fetch, http);
      const walletBefore = await live.walletMicros(token);
      const response = await paying(`${shop.url}/articles/x402-hooked`);
      assert.equal(response.status, 200);
      await response.body?.cancel();
      assert.equal(events[0]?.origin, shop.url, 'the budget counts the site fetched');
      assert.equal(await live.walletMicros(token), walletBefore - articleMicros);

      await refusedWithoutPaying(paying, `${other.url}/articles/1`, /news\.example/);
      assert.equal(failure()?.code, 'badChallenge');
      assert.equal(scheme.spent().totalMicros, articleMicros);
    } finally {
      await other.close();
    }
  });
});
