/**
 * The `<mite-paywall>` element on the news demo site, in a real browser (Chromium) against a real
 * platform: the site runs on another origin (127.0.0.2) than the platform (127.0.0.1), so the
 * wallet session is a first-party cookie of the platform's payment window only. A reader pays in
 * that window and reads the article; the window applies the budget the reader saved on the
 * platform (refusing with the reason, asking first, limits per site per day and in all); a
 * reader who is not logged in logs in there; and a page of another origin cannot make the window
 * pay without the reader's click.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after } from 'node:test';
import {
  challengeEcho,
  chargeRequest,
  formatChallengeHeader,
  issueChallenge,
  parseChallengeHeader,
} from '@mite/protocol';
import { tempDir } from '@mite/testkit';
import { paywallFileName, webDistDir } from '@mite/web';
import {
  apiCall,
  type BrowserTestKit,
  type BrowserWorld,
  describeInBrowser,
  seriousAxeViolations,
  toppedUpUser,
} from '@mite/web/testing';
import type { Page } from 'playwright-core';
import { type DemoSite, startDemoSite } from './demo-site.ts';

/** The paywall's script, gzipped, stays within this (issue 13). */
const paywallGzipBytesMax = 10 * 1024;

const password = 'correct horse battery';
let users = 0;

const articles = {
  'a-cheap-read': { title: 'A cheap read', text: 'Two cents well spent.\n\nThe end.' },
  'a-dear-read': { title: 'A dear read', text: 'Worth every dollar.', price: '5.00' },
  'a-long-read': { title: 'A long read', text: 'Half a dollar of prose.', price: '0.50' },
} as const;

interface Sites {
  readonly news: DemoSite;
  /** Another site on another origin, selling for the same merchant: the page that tries tricks. */
  readonly other: DemoSite;
  readonly merchantName: string;
}

let sites: Promise<Sites> | undefined;

/** The news site and the other site, started once for the file on the world's platform. */
function sitesFor(world: BrowserWorld): Promise<Sites> {
  sites ??= (async () => {
    const merchantName = 'The Daily Mite';
    const merchant = await apiCall(world, 'POST', '/v1/merchants', {
      auth: world.adminKey,
      body: { name: merchantName, feeBasisPoints: 1000, payoutThreshold: '10.00' },
    });
    const common = {
      platformUrl: world.baseUrl,
      merchantId: String(merchant.merchantId),
      articles,
    };
    const news = await startDemoSite({ ...common, host: '127.0.0.2', dataDir: tempDir('news-') });
    const other = await startDemoSite({ ...common, host: '127.0.0.3', dataDir: tempDir('other-') });
    return { news, other, merchantName };
  })();
  return sites;
}

after(async () => {
  const started = await sites?.catch(() => undefined);
  await started?.news.close();
  await started?.other.close();
});

/** A user with a wallet of $2.00 (a sandbox top-up); logged in to the platform when asked. */
async function reader(kit: BrowserTestKit, options: { loggedIn: boolean }) {
  const email = `reader${++users}-${process.pid}@example.com`;
  const { token, balance } = await toppedUpUser(kit, { email, password, ...options });
  return { email, token, balance };
}

/** The budget the reader saves (`PUT /v1/wallet/budget`): the platform's defaults but `limits`. */
async function saveBudget(
  kit: BrowserTestKit,
  token: string,
  limits: Partial<
    Record<'maxPerPayment' | 'maxPerOriginPerDay' | 'maxTotal' | 'approveAbove', string>
  >,
): Promise<void> {
  await apiCall(kit.world, 'PUT', '/v1/wallet/budget', {
    auth: token,
    body: {
      maxPerPayment: '1.00',
      maxPerOriginPerDay: '5.00',
      maxTotal: '20.00',
      approveAbove: '0.50',
      ...limits,
    },
  });
}

/** Opens an article of a site in the test's page, the other origins allowed. */
async function openArticle(kit: BrowserTestKit, site: DemoSite, slug: string): Promise<void> {
  kit.allowOrigin(new URL(site.url).origin);
  await kit.page.goto(`${site.url}/articles/${slug}`, { waitUntil: 'load' });
}

/** Clicks the paywall's Pay button and returns the platform's window it opens. */
async function openPayWindow(kit: BrowserTestKit, price: string): Promise<Page> {
  const [popup] = await Promise.all([
    kit.context.waitForEvent('page'),
    kit.page.getByRole('button', { name: `Pay ${price}` }).click(),
  ]);
  await popup.waitForLoadState('load');
  assert.equal(new URL(popup.url()).origin, kit.world.baseUrl);
  return popup;
}

async function noSeriousViolations(page: Page, what: string): Promise<void> {
  assert.deepEqual(await seriousAxeViolations(page), [], what);
}

/** The pages load from three origins: no added header (see BrowserTestOptions). */
const crossOrigin = { ownClientAddress: false } as const;

describeInBrowser('the paywall on the news site', (test) => {
  test(
    'the paywall script is served at a stable URL and stays under 10 kB gzipped',
    async (kit) => {
      const script = readFileSync(path.join(webDistDir, paywallFileName));
      const gzipped = gzipSync(script, { level: 9 }).length;
      console.log(`paywall.js: ${script.length} bytes, ${gzipped} bytes gzipped`);
      assert.ok(gzipped <= paywallGzipBytesMax, `${gzipped} bytes gzipped`);
      const served = await fetch(`${kit.world.baseUrl}/${paywallFileName}`);
      assert.equal(served.status, 200);
      assert.equal(served.headers.get('access-control-allow-origin'), '*');
      assert.equal(served.headers.get('cross-origin-resource-policy'), 'cross-origin');
      assert.deepEqual(Buffer.from(await served.arrayBuffer()), script);
    },
    crossOrigin,
  );

  test(
    'a logged-in reader pays in the platform window and reads the article; the wallet drops by the price',
    async (kit) => {
      const { news, merchantName } = await sitesFor(kit.world);
      const { balance } = await reader(kit, { loggedIn: true });
      assert.equal(await balance(), '2.00');
      await openArticle(kit, news, 'a-cheap-read');
      const paywall = kit.page.locator('mite-paywall');
      await paywall.getByText(merchantName).waitFor();
      await paywall.locator('strong', { hasText: '$0.02' }).waitFor();
      await noSeriousViolations(kit.page, 'the article page with its paywall');
      await kit.screenshot('paywall');

      const popup = await openPayWindow(kit, '$0.02');
      await popup.getByRole('heading', { name: 'Pay $0.02?' }).waitFor();
      const summary = (await popup.getByTestId('pay-summary').textContent()) ?? '';
      assert.match(summary, new RegExp(`To\\s*${merchantName}`));
      assert.match(summary, new RegExp(`Asked by\\s*${new URL(news.url).origin}`));
      assert.match(summary, /\/articles\/a-cheap-read/);
      await noSeriousViolations(popup, 'the payment window');
      await kit.screenshot('pay-window', popup);
      await Promise.all([
        popup.waitForEvent('close'),
        popup.getByRole('button', { name: 'Pay $0.02' }).click(),
      ]);
      await paywall.getByText('Two cents well spent.').waitFor();
      await paywall.getByText('The end.').waitFor();
      assert.equal(await balance(), '1.98', 'the wallet dropped by exactly the price');
      // A reload opens the article again with the kept credential, without paying again.
      await kit.page.reload({ waitUntil: 'load' });
      await paywall.getByText('Two cents well spent.').waitFor();
      assert.equal(kit.context.pages().length, 1, 'no payment window opened');
      assert.equal(await balance(), '1.98');
    },
    crossOrigin,
  );

  test(
    'a price above the budget is refused, with the reason shown on the site',
    async (kit) => {
      const { news } = await sitesFor(kit.world);
      const { balance } = await reader(kit, { loggedIn: true });
      await openArticle(kit, news, 'a-dear-read');
      const popup = await openPayWindow(kit, '$5.00');
      const reason = '$5.00 is above your limit of $1.00 for one payment.';
      await popup.getByRole('alert').getByText(reason).waitFor();
      await kit.page.locator('mite-paywall').getByText(`Not paid: ${reason}`).waitFor();
      await noSeriousViolations(kit.page, 'the paywall with a refusal');
      assert.equal(await balance(), '2.00', 'nothing was paid');
    },
    crossOrigin,
  );

  test(
    'a reader whose saved limit per payment is $0.01 is refused a $0.02 article, and nothing moves',
    async (kit) => {
      const { news } = await sitesFor(kit.world);
      const { token, balance } = await reader(kit, { loggedIn: true });
      await saveBudget(kit, token, { maxPerPayment: '0.01', approveAbove: '0.01' });
      await openArticle(kit, news, 'a-cheap-read');
      const popup = await openPayWindow(kit, '$0.02');
      const reason = '$0.02 is above your limit of $0.01 for one payment.';
      await popup.getByRole('alert').getByText(reason).waitFor();
      await kit.page.locator('mite-paywall').getByText(`Not paid: ${reason}`).waitFor();
      assert.equal(await balance(), '2.00', 'nothing was paid');
    },
    crossOrigin,
  );

  test(
    'above the saved ask-first amount, the window asks the reader to confirm the price once more',
    async (kit) => {
      const { news } = await sitesFor(kit.world);
      const { token, balance } = await reader(kit, { loggedIn: true });
      await saveBudget(kit, token, { approveAbove: '0.01' });
      await openArticle(kit, news, 'a-cheap-read');
      const popup = await openPayWindow(kit, '$0.02');
      await popup.getByRole('button', { name: 'Pay $0.02' }).click();
      await popup.getByText('Tick the box to confirm $0.02.').waitFor();
      assert.equal(await balance(), '2.00', 'not without the confirmation');
      await popup.getByLabel(/Yes, pay \$0\.02: it is more than \$0\.01/).check();
      await Promise.all([
        popup.waitForEvent('close'),
        popup.getByRole('button', { name: 'Pay $0.02' }).click(),
      ]);
      await kit.page.locator('mite-paywall').getByText('Two cents well spent.').waitFor();
      assert.equal(await balance(), '1.98');
    },
    crossOrigin,
  );

  test(
    'what the reader already paid counts against the saved limits for one site today and in all',
    async (kit) => {
      const { news, other } = await sitesFor(kit.world);
      const { token, balance } = await reader(kit, { loggedIn: true });
      await saveBudget(kit, token, { maxPerOriginPerDay: '0.51', maxTotal: '0.50' });
      // $0.02 paid to the news site today, as a program would pay it.
      const cheap = await challengeOf(`${news.url}/articles/a-cheap-read`);
      const parsed = parseChallengeHeader(cheap.header, {
        nowSeconds: Math.floor(Date.now() / 1000),
      });
      assert.ok(parsed.ok);
      await apiCall(kit.world, 'POST', '/v1/payments', {
        auth: token,
        body: { challenge: challengeEcho(parsed.value) },
      });
      assert.equal(await balance(), '1.98');
      // At the news site, $0.50 more would make $0.52 today there: above $0.51.
      await openArticle(kit, news, 'a-long-read');
      const atNews = await openPayWindow(kit, '$0.50');
      await atNews
        .getByRole('alert')
        .getByText(
          `$0.50 would bring what you paid ${new URL(news.url).origin} today to $0.52, ` +
            'above your limit of $0.51 for one site in a day.',
        )
        .waitFor();
      await atNews.close();
      // At the other site nothing was paid today, but $0.52 in all is above $0.50.
      await openArticle(kit, other, 'a-long-read');
      const atOther = await openPayWindow(kit, '$0.50');
      const reason =
        '$0.50 would bring what you paid in all to $0.52, above your total limit of $0.50.';
      await atOther.getByRole('alert').getByText(reason).waitFor();
      await kit.page.locator('mite-paywall').getByText(`Not paid: ${reason}`).waitFor();
      assert.equal(await balance(), '1.98', 'nothing more was paid');
    },
    crossOrigin,
  );

  test(
    'auto-pay: granted in the window beside Pay, it pays that site without asking until revoked in the wallet',
    async (kit) => {
      const { news, other } = await sitesFor(kit.world);
      const { balance } = await reader(kit, { loggedIn: true });
      const newsOrigin = new URL(news.url).origin;
      const paywall = kit.page.locator('mite-paywall');
      await openArticle(kit, news, 'a-cheap-read');
      const first = await openPayWindow(kit, '$0.02');
      const offer = first.getByLabel(`From now on, pay ${newsOrigin} without asking me`);
      await offer.waitFor();
      await noSeriousViolations(first, 'the payment window offering auto-pay');
      await offer.check();
      await Promise.all([
        first.waitForEvent('close'),
        first.getByRole('button', { name: 'Pay $0.02' }).click(),
      ]);
      await paywall.getByText('Two cents well spent.').waitFor();

      // With the consent, the next article of that site is paid with no click in the window.
      await openArticle(kit, news, 'a-long-read');
      const [automatic] = await Promise.all([
        kit.context.waitForEvent('page'),
        kit.page.getByRole('button', { name: 'Pay $0.50' }).click(),
      ]);
      await paywall.getByText('Half a dollar of prose.').waitFor();
      assert.ok(automatic.isClosed(), 'the window closed itself once paid');
      assert.equal(await balance(), '1.48');

      // The consent is for that site only: the other site is asked about.
      await openArticle(kit, other, 'a-cheap-read');
      const elsewhere = await openPayWindow(kit, '$0.02');
      await elsewhere.getByRole('heading', { name: 'Pay $0.02?' }).waitFor();
      await elsewhere.close();

      // One click in the wallet revokes it, and the site is asked about again at once.
      await kit.open('/wallet/consents/');
      const row = kit.page.getByTestId(`autoPay:${newsOrigin}`);
      assert.match(
        (await row.textContent()) ?? '',
        /On for http:\/\/127\.0\.0\.2:\d+ since .+ \(text autoPay-2026-12-07\)/,
      );
      await row.getByRole('button', { name: 'Turn off' }).click();
      await kit.page.getByText('No site is paid automatically.').waitFor();
      await openArticle(kit, news, 'a-long-read');
      await kit.page.evaluate('localStorage.clear()');
      await kit.page.reload({ waitUntil: 'load' });
      const asked = await openPayWindow(kit, '$0.50');
      await asked.getByRole('heading', { name: 'Pay $0.50?' }).waitFor();
      await asked.getByLabel(`From now on, pay ${newsOrigin} without asking me`).waitFor();
      assert.equal(await balance(), '1.48', 'nothing paid without the reader\u2019s click');
      await asked.close();
    },
    crossOrigin,
  );

  test(
    'a reader who is not logged in logs in within the platform window, then pays',
    async (kit) => {
      const { news } = await sitesFor(kit.world);
      const { email, balance } = await reader(kit, { loggedIn: false });
      await openArticle(kit, news, 'a-cheap-read');
      const popup = await openPayWindow(kit, '$0.02');
      await popup.getByRole('heading', { name: 'Log in to pay' }).waitFor();
      await noSeriousViolations(popup, 'the payment window\u2019s log-in');
      await kit.screenshot('log-in', popup);
      await popup.getByLabel('Email').fill(email);
      await popup.getByLabel('Password').fill(password);
      await popup.getByRole('button', { name: 'Log in' }).click();
      await popup.getByRole('heading', { name: 'Pay $0.02?' }).waitFor();
      await Promise.all([
        popup.waitForEvent('close'),
        popup.getByRole('button', { name: 'Pay $0.02' }).click(),
      ]);
      await kit.page.locator('mite-paywall').getByText('Two cents well spent.').waitFor();
      assert.equal(await balance(), '1.98');
    },
    crossOrigin,
  );

  test(
    'a reader who cancels in the platform window is told on the site that nothing was paid',
    async (kit) => {
      const { news } = await sitesFor(kit.world);
      const { balance } = await reader(kit, { loggedIn: true });
      await openArticle(kit, news, 'a-cheap-read');
      const popup = await openPayWindow(kit, '$0.02');
      await popup.getByRole('heading', { name: 'Pay $0.02?' }).waitFor();
      await Promise.all([
        popup.waitForEvent('close'),
        popup.getByRole('button', { name: 'Cancel' }).click(),
      ]);
      await kit.page
        .locator('mite-paywall')
        .getByText(/Not paid: you closed the payment/)
        .waitFor();
      assert.equal(await balance(), '2.00');
    },
    crossOrigin,
  );

  test(
    'the platform window refuses what it cannot pay: another platform, another currency, an expired request',
    async (kit) => {
      const { other } = await sitesFor(kit.world);
      await reader(kit, { loggedIn: true });
      kit.allowOrigin(new URL(other.url).origin);
      await kit.page.goto(`${other.url}/`, { waitUntil: 'load' });
      const own = `${other.url}/articles/a-cheap-read`;
      const payUrl = `${kit.world.baseUrl}/pay/?origin=${encodeURIComponent(new URL(other.url).origin)}`;
      const cases: [Parameters<typeof challengeFor>[0], RegExp][] = [
        [
          { platform: 'https://pay.elsewhere.example', resource: own },
          /asks to be paid at https:\/\/pay\.elsewhere\.example/,
        ],
        [{ platform: kit.world.baseUrl, resource: own, currency: 'EUR' }, /asks for EUR, not USD/],
        [{ platform: kit.world.baseUrl, resource: own, expiresInSeconds: -600 }, /expired/],
      ];
      for (const [terms, reason] of cases) {
        const header = challengeFor(terms);
        const window = await scriptedWindow(kit, payUrl, [{ type: 'mite-pay:challenge', header }]);
        await window.getByRole('alert').getByText(reason).waitFor();
        await window.close();
      }
    },
    crossOrigin,
  );

  test(
    'a page on another origin cannot make the platform window pay without the reader\u2019s click',
    async (kit) => {
      const { news, other } = await sitesFor(kit.world);
      const { balance } = await reader(kit, { loggedIn: true });
      const payments: string[] = [];
      kit.context.on('request', (request) => {
        if (request.method() === 'POST' && request.url().includes('/v1/payments')) {
          payments.push(request.url());
        }
      });
      // The other site's page, which scripts the platform's window as a hostile page would.
      kit.allowOrigin(new URL(other.url).origin);
      await kit.page.goto(`${other.url}/`, { waitUntil: 'load' });
      const newsChallenge = await challengeOf(`${news.url}/articles/a-cheap-read`);
      const ownChallenge = await challengeOf(`${other.url}/articles/a-cheap-read`);
      const payUrl = (origin: string) =>
        `${kit.world.baseUrl}/pay/?origin=${encodeURIComponent(origin)}`;

      // 1. It names the news site as the asking origin: its messages come from its own origin, so
      // the window ignores them and keeps waiting.
      const lying = await scriptedWindow(kit, payUrl(new URL(news.url).origin), [newsChallenge]);
      await lying.getByText('Waiting for the site\u2019s payment request').waitFor();
      // 2. It names itself, but asks to pay for the news site's article: refused, with the reason.
      const poaching = await scriptedWindow(kit, payUrl(new URL(other.url).origin), [
        newsChallenge,
      ]);
      await poaching.getByText(/which is not one of its own pages/).waitFor();
      // 3. Its own article, then a flood of messages that try to confirm and a second challenge:
      // the window shows the first request and waits for a click in it.
      const honest = await scriptedWindow(kit, payUrl(new URL(other.url).origin), [
        ownChallenge,
        { type: 'mite-pay:confirm' },
        { type: 'mite-pay:credential', authorization: 'Payment x' },
        { type: 'click' },
        newsChallenge,
      ]);
      await honest.getByRole('heading', { name: 'Pay $0.02?' }).waitFor();
      // Longer than the Pay button's delay: had any message paid, it would have by now.
      await honest.waitForTimeout(1_500);
      assert.match((await honest.getByTestId('pay-summary').textContent()) ?? '', /127\.0\.0\.3/);
      await kit.screenshot('unpaid-window', honest);
      assert.deepEqual(payments, [], 'no payment was asked for');
      assert.equal(await balance(), '2.00');
      // The page cannot reach into the window either.
      const reached = await kit.page.evaluate(`(() => {
      try {
        return window.hostileWindows[2].document.body.textContent;
      } catch {
        return false;
      }
    })()`);
      assert.equal(reached, false);
      // Only the reader's click pays. The window closes as soon as it is paid, which can be
      // before the click's promise settles: the wait starts first.
      await Promise.all([
        honest.waitForEvent('close'),
        honest.getByRole('button', { name: 'Pay $0.02' }).click(),
      ]);
      assert.equal(await balance(), '1.98');
      assert.equal(payments.length, 1);
    },
    crossOrigin,
  );
});

/** A challenge a page writes itself (the window cannot check a merchant's HMAC). */
function challengeFor(terms: {
  readonly platform: string;
  readonly resource: string;
  readonly currency?: string;
  readonly expiresInSeconds?: number;
}): string {
  const challenge = issueChallenge({
    secret: randomBytes(32),
    realm: 'A made-up shop',
    request: chargeRequest({
      amountMicros: 20_000n,
      currency: terms.currency ?? 'USD',
      recipient: 'mer_made_up',
      platform: terms.platform,
      resource: terms.resource,
      accessPeriodSeconds: 86_400,
    }),
    expiresAtSeconds: Math.floor(Date.now() / 1000) + (terms.expiresInSeconds ?? 300),
  });
  return formatChallengeHeader(challenge);
}

/** A 402's challenge header, as the site's page would read it. */
async function challengeOf(url: string): Promise<{ type: string; header: string }> {
  const response = await fetch(url, { headers: { accept: 'text/plain' } });
  assert.equal(response.status, 402);
  return { type: 'mite-pay:challenge', header: response.headers.get('www-authenticate') ?? '' };
}

/**
 * Opens the platform's window from the test's page as that page's script would, and posts
 * `messages` to it as soon as it says it is ready (and, for a window that says nothing, after a
 * moment), to any origin.
 */
async function scriptedWindow(
  kit: BrowserTestKit,
  url: string,
  messages: unknown[],
): Promise<Page> {
  const [popup] = await Promise.all([
    kit.context.waitForEvent('page'),
    // Text, not a function: this file is type-checked without the DOM's types.
    kit.page.evaluate(`(() => {
      const opened = window.open(${JSON.stringify(url)}, '_blank', 'popup');
      window.hostileWindows = [...(window.hostileWindows ?? []), opened];
      const send = () => {
        for (const message of ${JSON.stringify(messages)}) opened.postMessage(message, '*');
      };
      window.addEventListener('message', (event) => {
        if (event.source === opened) send();
      });
      setTimeout(send, 500);
    })()`),
  ]);
  await popup.waitForLoadState('load');
  return popup;
}
