/**
 * The game shop and the tip jar of `mite demo`, in a real browser (Chromium) against a real
 * platform, each site on an origin of its own: a player buys an item and a gem pack twice in the
 * platform's payment window and the shop shows what the verified receipts granted; a visitor tips
 * and each creator's share arrives by the offer's revenue split.
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { tempDir } from '@mite/testkit';
import {
  apiCall,
  type BrowserTestKit,
  type BrowserWorld,
  describeInBrowser,
  assertLoadedFast,
  seriousAxeViolations,
  toppedUpUser,
} from '@mite/web/testing';
import { type DemoGameShop, gameShopItems, startGameShop } from './demo-game-shop.ts';
import { type DemoTipJar, startTipJar, tipJarTips } from './demo-tip-jar.ts';

const password = 'correct horse battery';
let users = 0;
/** How long the co-creator's share may take to show in its payment list (the report rollup). */
const shareShownWithinMs = 20_000;

interface Sites {
  readonly shop: DemoGameShop;
  readonly jar: DemoTipJar;
  readonly seller: string;
  readonly coCreator: string;
}

let sites: Promise<Sites> | undefined;

/** A merchant made through the API, with a key that may create offers. */
async function merchant(world: BrowserWorld, name: string, feeBasisPoints: number) {
  const made = await apiCall(world, 'POST', '/v1/merchants', {
    auth: world.adminKey,
    body: { name, feeBasisPoints, payoutThreshold: '10.00' },
  });
  const merchantId = String(made.merchantId);
  const key = await apiCall(world, 'POST', `/v1/merchants/${merchantId}/api-keys`, {
    auth: world.adminKey,
    body: { scopes: ['offers:write'] },
  });
  return { merchantId, apiKey: String(key.secret) };
}

/** A consumable offer (goods, no access period), as the demo seeds them. */
async function offer(
  world: BrowserWorld,
  apiKey: string,
  fields: { resource: string; title: string; price: string; splits?: unknown },
) {
  const made = await apiCall(world, 'POST', '/v1/offers', {
    auth: apiKey,
    body: { category: 'goods', accessPeriodSeconds: 0, ...fields },
  });
  return { offerId: String(made.id), title: fields.title, price: fields.price, merchant: '' };
}

/** The shop and the jar, started once for the file on the world's platform. */
function sitesFor(world: BrowserWorld): Promise<Sites> {
  sites ??= (async () => {
    const armoury = await merchant(world, 'Pixel Armoury', 1_000);
    const goods = [
      { resource: 'item:iron-sword', title: 'Iron sword', price: '0.25' },
      { resource: 'gems:100', title: '100 gems', price: '0.10' },
    ];
    const offers = await Promise.all(
      goods.map(async (fields) => ({
        ...(await offer(world, armoury.apiKey, fields)),
        resource: fields.resource,
      })),
    );
    const shop = await startGameShop({
      platformUrl: world.baseUrl,
      merchantId: armoury.merchantId,
      host: '127.0.0.2',
      dataDir: tempDir('game-shop-'),
      items: gameShopItems(offers),
    });
    const seller = await merchant(world, 'Mira Okafor', 500);
    const coCreator = await merchant(world, 'Jonas Lind', 500);
    const splits = [
      { merchantId: seller.merchantId, shareBasisPoints: 6_000 },
      { merchantId: coCreator.merchantId, shareBasisPoints: 4_000 },
    ];
    const tips = [];
    for (const price of ['0.25', '0.50', '1.00']) {
      const resource = `tip:the-night-ferry:${price}`;
      const made = await offer(world, seller.apiKey, { resource, title: 'A tip', price, splits });
      tips.push({ ...made, resource });
    }
    const jar = await startTipJar({
      platformUrl: world.baseUrl,
      merchantId: seller.merchantId,
      host: '127.0.0.3',
      dataDir: tempDir('tip-jar-'),
      tips: tipJarTips(tips),
      creators: {
        seller: 'Mira Okafor',
        coCreator: 'Jonas Lind',
        coCreatorShareBasisPoints: 4_000,
      },
    });
    return { shop, jar, seller: seller.merchantId, coCreator: coCreator.merchantId };
  })();
  return sites;
}

after(async () => {
  const started = await sites?.catch(() => undefined);
  await started?.shop.close();
  await started?.jar.close();
});

/** A logged-in user with a wallet of $2.00 (a sandbox top-up). */
async function player(kit: BrowserTestKit) {
  const email = `player${++users}-${process.pid}@example.com`;
  return (await toppedUpUser(kit, { email, password })).balance;
}

/** Clicks a paywall's Pay button and pays in the platform's window it opens, which then closes. */
async function payInWindow(kit: BrowserTestKit, price: string): Promise<void> {
  const [popup] = await Promise.all([
    kit.context.waitForEvent('page'),
    kit.page.getByRole('button', { name: `Pay ${price}` }).click(),
  ]);
  await popup.waitForLoadState('load');
  assert.equal(new URL(popup.url()).origin, kit.world.baseUrl);
  await popup.getByRole('heading', { name: `Pay ${price}?` }).waitFor();
  await Promise.all([
    popup.waitForEvent('close'),
    popup.getByRole('button', { name: `Pay ${price}` }).click(),
  ]);
}

/** A merchant's share of a payment, as its payment list says (operator's view). */
async function shareOf(world: BrowserWorld, merchantId: string, paymentId: string) {
  const listed = await apiCall(world, 'GET', `/v1/merchants/${merchantId}/payments`, {
    auth: world.adminKey,
  });
  const items = listed.items as { paymentId: string; share: string }[];
  return items.find((item) => item.paymentId === paymentId)?.share;
}

/** The pages load from three origins: no added header (see BrowserTestOptions). */
const crossOrigin = { ownClientAddress: false } as const;

describeInBrowser('the game shop and the tip jar', (test) => {
  test(
    'a player buys a sword and a gem pack twice; the shop shows what they own and the wallet drops by the prices',
    async (kit) => {
      const { shop } = await sitesFor(kit.world);
      const balance = await player(kit);
      kit.allowOrigin(new URL(shop.url).origin);
      await kit.page.goto(`${shop.url}/`, { waitUntil: 'load' });
      await kit.page.getByRole('button', { name: 'Pay $0.10' }).waitFor();
      await assertLoadedFast(kit.page, 'the shop');
      assert.deepEqual(await seriousAxeViolations(kit.page), [], 'the shop');
      await kit.screenshot('game-shop');
      const gems = kit.page.getByTestId('gems');
      const owned = kit.page.getByTestId('owned');

      await payInWindow(kit, '$0.25');
      await owned.getByText('Iron sword \u00d7 1').waitFor();
      await payInWindow(kit, '$0.10');
      await kit.page.getByRole('status').getByText('Bought 100 gems.').waitFor();
      assert.equal(await gems.textContent(), '100');
      // The spent element was replaced by one under a new order: a second purchase, not a replay.
      await payInWindow(kit, '$0.10');
      await gems.getByText('200').waitFor();
      assert.equal(await balance(), '1.55', 'exactly 0.25 + 0.10 + 0.10');
      await kit.screenshot('game-shop-owned');
      // A reload shows what the shop's receipts granted, nothing the page said.
      await kit.page.reload({ waitUntil: 'load' });
      assert.equal(await gems.textContent(), '200');
      assert.equal(await owned.textContent(), 'Iron sword \u00d7 1');
      assert.equal(await balance(), '1.55');
    },
    crossOrigin,
  );

  test(
    'a visitor tips a chosen amount, is thanked, and each creator gets exactly its share of the split',
    async (kit) => {
      const { jar, seller, coCreator } = await sitesFor(kit.world);
      const balance = await player(kit);
      kit.allowOrigin(new URL(jar.url).origin);
      await kit.page.goto(`${jar.url}/`, { waitUntil: 'load' });
      await kit.page.getByRole('button', { name: 'Pay $0.50' }).waitFor();
      await kit.page.getByLabel('$0.25').check();
      await kit.page.getByRole('button', { name: 'Pay $0.25' }).waitFor();
      await assertLoadedFast(kit.page, 'the tip jar');
      assert.deepEqual(await seriousAxeViolations(kit.page), [], 'the tip jar');
      await kit.screenshot('tip-jar');

      await payInWindow(kit, '$0.25');
      const thanks = kit.page.locator('mite-paywall').getByText(/^Thank you! Your tip of \$0\.25/);
      await thanks.waitFor();
      await kit.screenshot('tip-jar-thanks');
      const receiptLine = kit.page.locator('mite-paywall').getByText(/^Payment pay_/);
      const paymentId = /Payment (pay_\S+)\./.exec((await receiptLine.textContent()) ?? '')?.[1];
      assert.ok(paymentId !== undefined);
      assert.equal(await balance(), '1.75');
      // 0.25 less the seller's 5% fee is 0.2375: 60% to the seller, 40% to the co-creator.
      assert.equal(await shareOf(kit.world, seller, paymentId), '0.1425');
      // A share of another merchant's offer shows once the report job has read the payment.
      const deadline = Date.now() + shareShownWithinMs;
      let share: string | undefined;
      while ((share = await shareOf(kit.world, coCreator, paymentId)) === undefined) {
        assert.ok(Date.now() < deadline, 'the co-creator\u2019s share was never shown');
        await kit.page.waitForTimeout(250);
      }
      assert.equal(share, '0.095');
    },
    crossOrigin,
  );
});
