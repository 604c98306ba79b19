/**
 * A merchant's fair-price cap in a real browser (Chromium) against a real platform: the news
 * site's payment window tells the reader what is left before the merchant's monthly cap, then,
 * once it is reached, that the article is free; the free receipt opens the article through the
 * site's real middleware. The wallet's limits page shows the progress towards the cap.
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { tempDir } from '@mite/testkit';
import {
  apiCall,
  type BrowserTestKit,
  type BrowserWorld,
  describeInBrowser,
  seriousAxeViolations,
  toppedUpUser,
} from '@mite/web/testing';
import { type DemoSite, startDemoSite } from './demo-site.ts';

const password = 'correct horse battery';

let site: Promise<DemoSite> | undefined;

/** The news site, started once for the file, its merchant under a cap of 0.03 a month. */
function siteFor(world: BrowserWorld): Promise<DemoSite> {
  site ??= (async () => {
    const merchant = await apiCall(world, 'POST', '/v1/merchants', {
      auth: world.adminKey,
      body: { name: 'The Daily Mite', feeBasisPoints: 1000, payoutThreshold: '10.00' },
    });
    const merchantId = String(merchant.merchantId);
    await apiCall(world, 'PUT', `/v1/merchants/${merchantId}/fair-price-cap`, {
      auth: world.adminKey,
      body: { monthlyCap: '0.03' },
    });
    return startDemoSite({
      platformUrl: world.baseUrl,
      merchantId,
      articles: {
        'first-read': { title: 'First read', text: 'Two cents well spent.' },
        'second-read': { title: 'Second read', text: 'One cent, the cap says.' },
        'third-read': { title: 'Third read', text: 'Free under the cap.' },
      },
      host: '127.0.0.2',
      dataDir: tempDir('news-'),
    });
  })();
  return site;
}

after(async () => {
  await (await site?.catch(() => undefined))?.close();
});

/** A logged-in reader with a wallet of $2.00; reads the balance. */
async function reader(kit: BrowserTestKit) {
  const email = `capped-${process.pid}@example.com`;
  return (await toppedUpUser(kit, { email, password })).balance;
}

describeInBrowser('a merchant\u2019s fair-price cap', (test) => {
  test(
    'the pay window says what is left before the cap, then that the article is free',
    async (kit) => {
      const news = await siteFor(kit.world);
      const balance = await reader(kit);
      kit.allowOrigin(new URL(news.url).origin);
      const read = async (slug: string, pay: string, note: RegExp, text: string) => {
        await kit.page.goto(`${news.url}/articles/${slug}`, { waitUntil: 'load' });
        const paywall = kit.page.locator('mite-paywall');
        const [popup] = await Promise.all([
          kit.context.waitForEvent('page'),
          paywall.getByRole('button', { name: 'Pay $0.02' }).click(),
        ]);
        await popup.waitForLoadState('load');
        await popup.getByTestId('fair-price').getByText(note).waitFor();
        await popup.getByRole('button', { name: pay }).waitFor();
        if (slug === 'third-read') {
          assert.deepEqual(await seriousAxeViolations(popup), [], 'the free pay window');
          await kit.screenshot('free-under-the-cap', popup);
        }
        await Promise.all([
          popup.waitForEvent('close'),
          popup.getByRole('button', { name: pay }).click(),
        ]);
        await paywall.getByText(text).waitFor();
      };
      await read(
        'first-read',
        'Pay $0.02',
        /\$0\.03 left before The Daily Mite’s monthly cap of \$0\.03/,
        'Two cents well spent.',
      );
      assert.equal(await balance(), '1.98');
      await read(
        'second-read',
        'Pay $0.01',
        /\$0\.01 left before The Daily Mite’s monthly cap/,
        'One cent, the cap says.',
      );
      assert.equal(await balance(), '1.97');
      await read(
        'third-read',
        'Pay $0.00',
        /Free: you have reached The Daily Mite’s monthly cap of \$0\.03\./,
        'Free under the cap.',
      );
      assert.equal(await balance(), '1.97', 'free');
      await kit.open('/wallet/limits/');
      const progress = kit.page.getByTestId('fair-price-caps');
      await progress.waitFor();
      const shown = (await progress.textContent())?.replace(/\s+/g, ' ') ?? '';
      assert.match(shown, /The Daily Mite: \$0\.03 of \$0\.03/);
      assert.match(shown, /Cap reached: the rest of the month is free\./);
      assert.deepEqual(await seriousAxeViolations(kit.page), [], 'the limits page');
    },
    { ownClientAddress: false },
  );
});
