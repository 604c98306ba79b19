/**
 * A merchant's fair-price cap end to end, everything real on loopback: the platform (its cap set
 * by the operator), a merchant site behind this package, and `@mite/client` paying. Articles of
 * 0.02 under a cap of 0.05: two charged in full, the third 0.01, the rest free, and the shop's
 * middleware opens every one offline, because the platform signed the full price in the receipt
 * (`fairPriceCap`). The same receipt is refused at another merchant's paywall.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMiteFetch } from '@mite/client';
import { type Challenge, formatCredentialHeader } from '@mite/protocol';
import {
  challengeOf,
  type LivePlatform,
  type LiveShop,
  startLivePlatform,
  startShop,
} from './testing-end-to-end.ts';

let live: LivePlatform;
let shop: LiveShop;
let other: LiveShop;
let token: string;

before(async () => {
  live = await startLivePlatform();
  const merchant = await live.createMerchant('Capped News', 1_000);
  const capped = await live.api('PUT', `/v1/merchants/${merchant.merchantId}/fair-price-cap`, {
    bearer: live.adminKey,
    body: { monthlyCap: '0.05' },
  });
  assert.equal(capped.status, 200, JSON.stringify(capped.body));
  shop = await startShop('node:http', live.url, merchant);
  other = await startShop('node:http', live.url, await live.createMerchant('Other News', 1_000));
  token = await live.signUp('reader@example.com');
  await live.topUp(token, '1.00');
});

after(async () => {
  await other?.close();
  await shop?.close();
  await live?.close();
});

describe('a fair-price cap through the real middleware and client', () => {
  it('charges up to the cap and then serves articles free, each receipt accepted', async () => {
    const pay = createMiteFetch({
      wallet: { platformUrl: live.url, token },
      budget: { maxPerPayment: '0.10', maxPerOriginPerDay: '1.00', maxTotal: '1.00' },
    });
    const charged: bigint[] = [];
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      const before = await live.walletMicros(token);
      const response = await pay(`${shop.url}/articles/${id}`);
      assert.equal(response.status, 200, await response.clone().text());
      assert.match(await response.text(), new RegExp(`^article ${id} for psn_`));
      charged.push(before - (await live.walletMicros(token)));
    }
    assert.deepEqual(charged, [20_000n, 20_000n, 10_000n, 0n, 0n]);
  });

  it('opens with a free receipt at the capped merchant only', async () => {
    const challengeAt = async (site: LiveShop) => {
      const unpaid = await fetch(`${site.url}/articles/f`);
      await unpaid.body?.cancel();
      return challengeOf(unpaid, site.nowSeconds());
    };
    const challenge = await challengeAt(shop);
    const paid = await live.payChallenge(token, challenge);
    assert.equal(paid.claims.amount, '0.00');
    assert.equal(paid.claims.fairPriceCap, '0.02', 'the platform signed the full price');
    const present = (site: LiveShop, asked: Challenge) =>
      fetch(`${site.url}/articles/f`, {
        headers: {
          authorization: formatCredentialHeader({
            challenge: asked,
            payload: { receipt: paid.receipt },
          }),
        },
      });
    const opened = await present(shop, challenge);
    assert.equal(opened.status, 200, await opened.clone().text());
    assert.match(await opened.text(), /^article f for psn_/);
    // The other merchant's own fresh challenge for the same article at the same price.
    const elsewhere = await present(other, await challengeAt(other));
    assert.equal(elsewhere.status, 402);
    const problem = (await elsewhere.json()) as Record<string, unknown>;
    assert.equal(problem['miteCode'], 'wrongMerchant');
  });
});
