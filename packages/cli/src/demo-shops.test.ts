/**
 * The game shop and the tip jar over real HTTP: browsers get pages with a paywall per thing sold,
 * each under its own order; programs get 402s that name the platform offer; nothing unknown or
 * sent by another method is sold. (Paid through the platform in a browser:
 * demo-shops-paywall.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { tempDir } from '@mite/testkit';
import { gameShopItems, startGameShop } from './demo-game-shop.ts';
import { startTipJar, tipJarTips } from './demo-tip-jar.ts';

const platformUrl = 'http://127.0.0.1:8787';
const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

async function sites(t: TestContext) {
  const offer = (offerId: string, resource: string, price: string) => ({
    offerId,
    resource,
    price,
    title: `Offer ${offerId}`,
    merchant: 'M',
  });
  const shop = await startGameShop({
    platformUrl,
    merchantId: 'mer_shop',
    host: '127.0.0.1',
    dataDir: tempDir('game-shop-'),
    items: gameShopItems([
      offer('off_sword', 'item:iron-sword', '0.25'),
      offer('off_gems', 'gems:100', '0.10'),
      offer('off_other', '/articles/1', '0.02'),
    ]),
  });
  t.after(() => shop.close());
  const jar = await startTipJar({
    platformUrl,
    merchantId: 'mer_jar',
    host: '127.0.0.1',
    dataDir: tempDir('tip-jar-'),
    tips: tipJarTips([
      offer('off_tip_big', 'tip:the-night-ferry:1.00', '1.00'),
      offer('off_tip_small', 'tip:the-night-ferry:0.25', '0.25'),
    ]),
    creators: { seller: 'A', coCreator: 'B', coCreatorShareBasisPoints: 4_000 },
  });
  t.after(() => jar.close());
  return { shop, jar };
}

/** The decoded `request` of a 402's challenge. */
async function challengeRequest(response: Response) {
  assert.equal(response.status, 402);
  const request = /request="([^"]+)"/.exec(response.headers.get('www-authenticate') ?? '')?.[1];
  return JSON.parse(Buffer.from(request ?? '', 'base64url').toString('utf8')) as {
    amount: string;
    methodDetails: { offer?: string; resource: string; accessPeriodSeconds: number };
  };
}

describe('the game shop and the tip jar', () => {
  it('give a browser their page, with a paywall per thing sold under an order of its own', async (t) => {
    const { shop, jar } = await sites(t);
    const orders = new Set<string>();
    for (let load = 0; load < 2; load++) {
      const page = await fetch(shop.url, { headers: { accept: browserAccept } });
      assert.equal(page.status, 200);
      const policy = page.headers.get('content-security-policy') ?? '';
      assert.match(policy, /script-src 'self' http:\/\/127\.0\.0\.1:8787;/);
      const html = await page.text();
      assert.match(html, /<script type="module" src="\/shop\.js">/);
      for (const [, order] of html.matchAll(/src="\/buy\/[a-z0-9-]+\?order=([0-9a-f]+)"/g)) {
        orders.add(order ?? '');
      }
      assert.doesNotMatch(html, /articles/, 'only items and gem packs are sold');
    }
    assert.equal(orders.size, 4, 'two things sold, twice loaded: four orders');
    const script = await fetch(`${shop.url}/shop.js`);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    const jarPage = await (await fetch(jar.url, { headers: { accept: browserAccept } })).text();
    assert.match(jarPage, /value="0\.25"/);
    assert.match(jarPage, /value="1\.00" checked/, 'the middle amount of two is the second');
    assert.match(jarPage, /<mite-paywall [^>]*src="\/tip\/1\.00\?order=[0-9a-f]+"/);
  });

  it('answer programs with a single-use 402 naming the offer, and sell nothing else', async (t) => {
    const { shop, jar } = await sites(t);
    const gems = await challengeRequest(await fetch(`${shop.url}/buy/gems-100?order=abc`));
    assert.equal(gems.amount, '100000');
    assert.equal(gems.methodDetails.offer, 'off_gems');
    assert.equal(gems.methodDetails.resource, `${shop.url}/buy/gems-100?order=abc`);
    assert.equal(gems.methodDetails.accessPeriodSeconds, 0);
    const tip = await challengeRequest(await fetch(`${jar.url}/tip/0.25?order=abc`));
    assert.equal(tip.methodDetails.offer, 'off_tip_small');
    for (const [url, method, status] of [
      [`${shop.url}/buy/gold-sword`, 'GET', 404],
      [`${shop.url}/buy/iron-sword`, 'POST', 405],
      [`${jar.url}/tip/0.30`, 'GET', 404],
      [`${jar.url}/tip/0.25`, 'PUT', 405],
    ] as const) {
      const response = await fetch(url, { method });
      assert.equal(response.status, status, `${method} ${url}`);
    }
  });
});
