/**
 * The wallet's privacy mode, in a real browser (Chromium) against a real platform, with the news
 * demo site on another origin taking tokens: the reader turns privacy mode on in the wallet
 * (which withdraws the float), buys an article in the payment window, paid with tokens, and reads
 * it. The merchant's deposit exists; the wallet's history holds the withdrawals, not the purchase.
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { tempDir } from '@mite/testkit';
import {
  apiCall,
  type BrowserTestKit,
  describeInBrowser,
  seriousAxeViolations,
  toppedUpUser,
} from '@mite/web/testing';
import type { Page } from 'playwright-core';
import { type DemoSite, startDemoSite } from './demo-site.ts';

const password = 'correct horse battery';

const articles = {
  'a-private-read': { title: 'A private read', text: 'Nobody knows you read this.' },
} as const;

let site: DemoSite | undefined;

after(async () => {
  await site?.close();
});

/** The news site, selling for a merchant whose key may deposit tokens. */
async function newsSite(kit: BrowserTestKit) {
  const { world } = kit;
  const merchant = await apiCall(world, 'POST', '/v1/merchants', {
    auth: world.adminKey,
    body: { name: 'The Daily Mite', feeBasisPoints: 1000, payoutThreshold: '10.00' },
  });
  const merchantId = String(merchant.merchantId);
  const key = await apiCall(world, 'POST', `/v1/merchants/${merchantId}/api-keys`, {
    auth: world.adminKey,
    body: { scopes: ['tokens:deposit'] },
  });
  const apiKey = String(key.secret);
  site = await startDemoSite({
    platformUrl: world.baseUrl,
    merchantId,
    apiKey,
    host: '127.0.0.2',
    dataDir: tempDir('news-tokens-'),
    articles,
  });
  return { site, merchantId };
}

/** A reader with $2.00, logged in to the platform in the test's browser. */
async function reader(kit: BrowserTestKit) {
  const email = `private-reader-${process.pid}@example.com`;
  return (await toppedUpUser(kit, { email, password })).token;
}

async function floatShown(page: Page, amount: string): Promise<void> {
  await page.getByTestId('token-float').getByText(amount).waitFor();
}

describeInBrowser('privacy mode: paying the news site with tokens', (test) => {
  test(
    'privacy mode on, an article bought with tokens: the deposit exists, the history has the withdrawals only',
    async (kit) => {
      const { site: news, merchantId } = await newsSite(kit);
      const token = await reader(kit);
      await kit.page.goto(`${kit.world.baseUrl}/wallet/`, { waitUntil: 'load' });
      await kit.page.getByLabel('Privacy mode: pay with tokens').check();
      await floatShown(kit.page, '$0.50');
      // The page shows the money that left the wallet for the float, without a reload.
      await kit.page.getByTestId('balance').getByText('$1.50').waitFor();
      assert.deepEqual(await seriousAxeViolations(kit.page), [], 'the wallet with privacy mode');
      await kit.screenshot('privacy-mode');
      const wallet = await apiCall(kit.world, 'GET', '/v1/wallet', { auth: token });
      assert.equal(wallet.balance, '1.50', 'the float was withdrawn ahead of the purchase');

      kit.allowOrigin(new URL(news.url).origin);
      await kit.page.goto(`${news.url}/articles/a-private-read`, { waitUntil: 'load' });
      const paywall = kit.page.locator('mite-paywall');
      const [popup] = await Promise.all([
        kit.context.waitForEvent('page'),
        paywall.getByRole('button', { name: 'Pay $0.02' }).click(),
      ]);
      await popup.waitForLoadState('load');
      await popup.getByRole('heading', { name: 'Pay $0.02?' }).waitFor();
      await popup.getByTestId('paid-with-tokens').waitFor();
      assert.deepEqual(await seriousAxeViolations(popup), [], 'the payment window, tokens');
      await kit.screenshot('pay-with-tokens', popup);
      await Promise.all([
        popup.waitForEvent('close'),
        popup.getByRole('button', { name: 'Pay $0.02' }).click(),
      ]);
      await paywall.getByText('Nobody knows you read this.').waitFor();

      const after = await apiCall(kit.world, 'GET', '/v1/wallet', { auth: token });
      assert.equal(after.balance, '1.50', 'nothing taken from the wallet at the purchase');
      // A deposit is not a wallet's payment: it is the platform's own record of the tokens taken.
      const deposits = await kit.world.platform.platformDb.db
        .selectFrom('token_deposits')
        .select(['amount_micros', 'state'])
        .where('merchant_id', '=', merchantId)
        .execute();
      assert.deepEqual(
        deposits.map((deposit) => [String(deposit.amount_micros), deposit.state]),
        [['20000', 'succeeded']],
        'the merchant has the deposit',
      );
      const purchases = await apiCall(kit.world, 'GET', '/v1/wallet/purchases', { auth: token });
      assert.deepEqual(purchases.items, [], 'the purchase is not in the wallet\u2019s history');
      const moves = await apiCall(kit.world, 'GET', '/v1/wallet/transactions', { auth: token });
      const kinds = (moves.items as { kind: string }[]).map((move) => move.kind).sort();
      assert.deepEqual(kinds, ['tokenWithdrawal', 'tokenWithdrawal', 'topUp']);

      // Opened again, the wallet tops the float up (0.48 held): a withdrawal at a time of its own.
      await kit.page.goto(`${kit.world.baseUrl}/wallet/`, { waitUntil: 'load' });
      await floatShown(kit.page, '$0.73');
      await kit.page.getByText('No purchases yet.').waitFor();
      await kit.page.getByTestId('movements').getByText('Tokens withdrawn').first().waitFor();
    },
    { ownClientAddress: false },
  );
});
