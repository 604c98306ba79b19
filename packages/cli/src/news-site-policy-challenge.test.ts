/**
 * A challenged payment and a challenged top-up in a real browser (Chromium) against a real
 * platform whose policy asks the person to confirm: the news site's payment window shows the
 * platform's message with a "Confirm and pay" button, which confirms the decision and pays once;
 * the wallet's top-up page does the same for a top-up.
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
const challengeMessage = 'Many payments in a short time: please confirm this one.';
/** The top-up the test policy challenges; others go ahead (the reader's own included). */
const challengedTopUpMicros = 7_000_000n;
let users = 0;

let site: Promise<DemoSite> | undefined;

/** The news site, started once for the file on the world's platform. */
function siteFor(world: BrowserWorld): Promise<DemoSite> {
  site ??= (async () => {
    const merchant = await apiCall(world, 'POST', '/v1/merchants', {
      auth: world.adminKey,
      body: { name: 'The Daily Mite', feeBasisPoints: 1000, payoutThreshold: '10.00' },
    });
    return startDemoSite({
      platformUrl: world.baseUrl,
      merchantId: String(merchant.merchantId),
      articles: { 'a-cheap-read': { title: 'A cheap read', text: 'Two cents well spent.' } },
      host: '127.0.0.2',
      dataDir: tempDir('news-'),
    });
  })();
  return site;
}

after(async () => {
  await (await site?.catch(() => undefined))?.close();
});

/** A logged-in reader with a wallet of $2.00. */
async function reader(kit: BrowserTestKit) {
  const email = `challenged${++users}-${process.pid}@example.com`;
  return (await toppedUpUser(kit, { email, password })).balance;
}

/** The decisions the policy recorded, as the operator's review sees them. */
async function decisions(world: BrowserWorld, subject: 'purchase' | 'topUp') {
  return world.platform.platformDb.db
    .selectFrom('policy_decisions')
    .select(['verdict', 'confirmed_at', 'consumed_at', 'consumed_by'])
    .where('subject', '=', subject)
    .execute();
}

describeInBrowser(
  'a payment the platform\u2019s policy challenges',
  (test) => {
    test(
      'the pay window shows the platform\u2019s message, and Confirm and pay pays once',
      async (kit) => {
        const news = await siteFor(kit.world);
        const balance = await reader(kit);
        kit.allowOrigin(new URL(news.url).origin);
        await kit.page.goto(`${news.url}/articles/a-cheap-read`, { waitUntil: 'load' });
        const paywall = kit.page.locator('mite-paywall');
        const [popup] = await Promise.all([
          kit.context.waitForEvent('page'),
          paywall.getByRole('button', { name: 'Pay $0.02' }).click(),
        ]);
        await popup.waitForLoadState('load');
        await popup.getByRole('heading', { name: 'Pay $0.02?' }).waitFor();
        await popup.getByRole('button', { name: 'Pay $0.02' }).click();
        await popup.getByRole('heading', { name: 'Confirm this payment' }).waitFor();
        await popup.getByTestId('policy-challenge').getByText(challengeMessage).waitFor();
        assert.equal(await balance(), '2.00', 'nothing paid before the confirmation');
        assert.deepEqual(await seriousAxeViolations(popup), [], 'the challenged pay window');
        await kit.screenshot('challenged-pay-window', popup);
        await Promise.all([
          popup.waitForEvent('close'),
          popup.getByRole('button', { name: 'Confirm and pay' }).click(),
        ]);
        await paywall.getByText('Two cents well spent.').waitFor();
        assert.equal(await balance(), '1.98', 'paid once');
        const [decision, ...others] = await decisions(kit.world, 'purchase');
        assert.equal(others.length, 0, 'one challenge, confirmed: not challenged again');
        assert.equal(decision?.verdict, 'challenge');
        assert.ok(decision?.confirmed_at !== null && decision?.consumed_at !== null);
        assert.match(String(decision?.consumed_by), /^pay_/);
      },
      { ownClientAddress: false },
    );

    test('the top-up page shows the message, and Confirm and top up tops up once', async (kit) => {
      const balance = await reader(kit);
      await kit.open('/wallet/topup/');
      const { page } = kit;
      await page.getByLabel('Amount (USD)').fill('7');
      await page.getByLabel('Card number').fill('4242424242424242');
      await page.getByLabel('Expiry (MM/YY)').fill('12/39');
      await page.getByLabel('Security code').fill('123');
      await page.getByRole('button', { name: 'Top up', exact: true }).click();
      const outcome = page.getByTestId('outcome');
      await outcome.getByText(challengeMessage).waitFor();
      assert.equal(await balance(), '2.00');
      assert.deepEqual(await seriousAxeViolations(page), [], 'the challenged top-up page');
      await kit.screenshot('challenged-top-up');
      await outcome.getByRole('button', { name: 'Confirm and top up' }).click();
      await outcome.getByText('was added to your wallet').waitFor();
      assert.equal(await balance(), '9.00', 'topped up once');
      const [decision, ...others] = await decisions(kit.world, 'topUp');
      assert.equal(others.length, 0);
      assert.ok(decision?.confirmed_at !== null && decision?.consumed_at !== null);
      assert.match(String(decision?.consumed_by), /^top_/);
    });
  },
  {
    policy: {
      decide: (subject) =>
        subject.kind === 'purchase' ||
        (subject.kind === 'topUp' && subject.amountMicros === challengedTopUpMicros)
          ? { verdict: 'challenge', rule: 'test.velocity', reason: challengeMessage }
          : { verdict: 'allow', rule: 'default', reason: 'allowed' },
    },
  },
);
