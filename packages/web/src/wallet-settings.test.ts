/**
 * The wallet's budget, receipts and "log out everywhere", in a real browser (Chromium) against a
 * real platform on loopback: editing the budget (its checks before sending, the server's refusal
 * shown), a purchase's receipt verified in the page against the platform's published keys (and a
 * tampered one refused), and a log-out everywhere that ends another browser's session; each
 * page's accessibility, load time and fit on a phone.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import {
  apiCall,
  type BrowserTestKit,
  describeInBrowser,
  loadTimeMs,
  pageLoadMsMax,
  overflowsWidth,
  seriousAxeViolations,
  viewports,
} from './testing/browser-harness.ts';

/** Every page loads within this on loopback (issue 13). */

const password = 'correct horse battery';
let users = 0;

/** A user made through the API and logged in in the test's browser context. */
async function loggedInUser(kit: BrowserTestKit): Promise<{ email: string; token: string }> {
  const email = `settings${++users}-${process.pid}@example.com`;
  await apiCall(kit.world, 'POST', '/v1/users', { body: { email, password } });
  const session = await apiCall(kit.world, 'POST', '/v1/sessions', { body: { email, password } });
  const token = String(session.token);
  await kit.context.addCookies([
    { name: 'mite_session', value: token, url: kit.world.baseUrl, httpOnly: true, secure: true },
  ]);
  return { email, token };
}

/** The user tops up 2.00 and buys an article (open for a day) and a gem (used once). */
async function twoPurchases(kit: BrowserTestKit, token: string) {
  const { world } = kit;
  await apiCall(world, 'POST', '/v1/topups', {
    auth: token,
    body: {
      amount: '2.00',
      card: { number: '4242424242424242', expMonth: 12, expYear: 2039, cvc: '123' },
    },
  });
  const merchant = await apiCall(world, 'POST', '/v1/merchants', {
    auth: world.adminKey,
    body: { name: 'The Daily Mite', feeBasisPoints: 1000, payoutThreshold: '10.00' },
  });
  const merchantId = String(merchant.merchantId);
  const key = await apiCall(world, 'POST', `/v1/merchants/${merchantId}/api-keys`, {
    auth: world.adminKey,
    body: { scopes: ['offers:write'] },
  });
  const offer = async (title: string, terms: Record<string, unknown>) => {
    const made = await apiCall(world, 'POST', '/v1/offers', {
      auth: String(key.secret),
      body: { resource: `/items/${randomUUID()}`, title, ...terms },
    });
    const paid = await apiCall(world, 'POST', '/v1/payments', {
      auth: token,
      body: { offerId: String(made.id) },
    });
    return { paymentId: String(paid.paymentId), resource: String(made.resource) };
  };
  const article = await offer('Mites in the machine', {
    price: '0.25',
    category: 'content',
    accessPeriodSeconds: 86_400,
  });
  const gem = await offer('A gem', { price: '0.05', category: 'goods', accessPeriodSeconds: 0 });
  return { merchantId, article, gem };
}

const budgetLabels = {
  perPayment: 'Most for one payment (USD)',
  perSite: 'Most for one site in a day (USD)',
  total: 'Most in total (USD)',
  askAbove: 'Ask me before paying more than (USD)',
} as const;

async function fillBudget(
  page: Page,
  values: { perPayment: string; perSite: string; total: string; askAbove: string },
): Promise<void> {
  for (const [name, label] of Object.entries(budgetLabels)) {
    await page.getByLabel(label).fill(values[name as keyof typeof budgetLabels]);
  }
  await page.getByRole('button', { name: 'Save budget' }).click();
}

async function budgetShown(page: Page): Promise<string[]> {
  const shown: string[] = [];
  for (const label of Object.values(budgetLabels)) {
    shown.push(await page.getByLabel(label).inputValue());
  }
  return shown;
}

describeInBrowser('wallet budget, receipts and sessions', (test) => {
  test('the budget page checks the budget before sending, saves it, and shows the server\u2019s refusal', async (kit) => {
    const { page, world } = kit;
    const { token } = await loggedInUser(kit);
    const sent: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'PUT') sent.push(request.url());
    });
    await kit.open('/wallet/budget/');
    await page.getByRole('button', { name: 'Save budget' }).waitFor();
    assert.deepEqual(await budgetShown(page), ['1.00', '5.00', '20.00', '0.50']);
    await page.getByText('You have not set a budget yet: these are the defaults.').waitFor();

    await fillBudget(page, { perPayment: '-1', perSite: '2', total: '100001', askAbove: 'abc' });
    await page.getByText('At most 100000.00.').waitFor();
    assert.equal(
      await page.getByText('Enter an amount in dollars, like 0.50, with no sign.').count(),
      2,
    );
    assert.equal(
      await page.getByLabel(budgetLabels.perPayment).getAttribute('aria-invalid'),
      'true',
    );
    assert.equal(await page.evaluate('document.activeElement.id'), 'maxPerPayment');
    await fillBudget(page, { perPayment: '0.30', perSite: '2', total: '10', askAbove: '0.31' });
    await page.getByText(/Make this no more than the most for one payment/).waitFor();
    await kit.screenshot('refused-before-sending');
    assert.deepEqual(sent, [], 'nothing was sent');

    await fillBudget(page, { perPayment: '0.30', perSite: '2', total: '10', askAbove: '0.1' });
    await page.getByText(/^\s*Saved: the paywall uses this budget/).waitFor();
    assert.deepEqual(await budgetShown(page), ['0.30', '2.00', '10.00', '0.10']);
    const stored = await apiCall(world, 'GET', '/v1/wallet/budget', { auth: token });
    assert.deepEqual(
      [stored.maxPerPayment, stored.maxPerOriginPerDay, stored.maxTotal, stored.approveAbove],
      ['0.30', '2.00', '10.00', '0.10'],
    );
    await kit.open('/wallet/budget/');
    await page.getByText(/^\s*Saved .+\.\s*$/).waitFor();
    assert.deepEqual(await budgetShown(page), ['0.30', '2.00', '10.00', '0.10']);

    // A page whose maximums are out of date (the platform lowered them since it loaded) lets a
    // limit through that the platform refuses: the platform's own words are shown.
    await page.route('**/v1/wallet/budget', async (route) => {
      if (route.request().method() !== 'GET') return route.continue();
      const response = await route.fetch();
      const body = (await response.json()) as Record<string, Record<string, string>>;
      body.maximums = { ...body.maximums, maxPerPayment: '1000.00' };
      return route.fulfill({ response, json: body });
    });
    await kit.open('/wallet/budget/');
    await fillBudget(page, { perPayment: '150', perSite: '200', total: '300', askAbove: '1' });
    const refusal = page.getByTestId('outcome');
    await refusal.waitFor();
    assert.equal(await refusal.getAttribute('role'), 'alert');
    assert.match(
      (await refusal.textContent()) ?? '',
      /Not saved\.\s+The request does not match its schema: The limit per payment can be at most 100\.00\./,
    );
    assert.equal(sent.length, 2, 'the valid budget and the one the server refused');
    const kept = await apiCall(world, 'GET', '/v1/wallet/budget', { auth: token });
    assert.equal(kept.maxPerPayment, '0.30');
  });

  test('a purchase\u2019s receipt is reached from the history and shows its claims, verified', async (kit) => {
    const { page } = kit;
    const { token } = await loggedInUser(kit);
    const { merchantId, article, gem } = await twoPurchases(kit, token);
    await kit.open('/wallet/');
    await Promise.all([
      page.waitForURL(`**/wallet/receipt/?payment=${article.paymentId}`),
      page.getByRole('link', { name: 'Receipt for Mites in the machine' }).click(),
    ]);
    const verification = page.getByTestId('verification');
    await verification.waitFor();
    assert.match((await verification.textContent()) ?? '', /^\s*Verified: signed by the platform/);
    const claims = (await page.getByTestId('claims').innerText()).replace(/\s+/g, ' ');
    for (const expected of [
      `Payment ${article.paymentId}`,
      `Merchant The Daily Mite (${merchantId})`,
      `What Mites in the machine: ${article.resource}`,
      'Amount $0.25',
    ]) {
      assert.ok(claims.includes(expected), `${expected} in ${claims}`);
    }
    assert.match(claims, /Access until \w{3} \d{1,2}, \d{4}/);
    assert.doesNotMatch(claims, /Used once/);

    await kit.open(`/wallet/receipt/?payment=${gem.paymentId}`);
    await page.getByTestId('claims').waitFor();
    const gemClaims = (await page.getByTestId('claims').innerText()).replace(/\s+/g, ' ');
    assert.match(gemClaims, /Amount \$0\.05/);
    assert.match(gemClaims, /Access until Used once, when bought/);
  });

  test('a receipt whose claims were changed on the way is shown as not verified', async (kit) => {
    const { page } = kit;
    const { token } = await loggedInUser(kit);
    const { article } = await twoPurchases(kit, token);
    // The receipt's payload is rewritten to a lower amount, its signature kept.
    await page.route('**/v1/payments/*', async (route) => {
      const response = await route.fetch();
      const body = (await response.json()) as { receipt: string };
      const [header, payload, signature] = body.receipt.split('.');
      const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as {
        amount: string;
      };
      const forged = Buffer.from(JSON.stringify({ ...claims, amount: '0.01' })).toString(
        'base64url',
      );
      return route.fulfill({
        response,
        json: { ...body, receipt: `${header}.${forged}.${signature}` },
      });
    });
    await kit.open(`/wallet/receipt/?payment=${article.paymentId}`);
    const verification = page.getByTestId('verification');
    await verification.waitFor();
    assert.equal(await verification.getAttribute('role'), 'alert');
    assert.match(
      (await verification.textContent()) ?? '',
      /Not verified: its signature does not match its contents\. Do not rely on this receipt\./,
    );
    assert.equal(await page.getByTestId('claims').count(), 0, 'no claims are shown');
  });

  test('logging out everywhere ends the session of another browser too', async (kit) => {
    const { page, world } = kit;
    const { email } = await loggedInUser(kit);
    const other = await world.browser.newContext({
      baseURL: world.baseUrl,
      extraHTTPHeaders: { 'x-forwarded-for': '10.254.0.1' },
    });
    try {
      const otherPage = await other.newPage();
      await otherPage.goto('/wallet/login/');
      await otherPage.getByLabel('Email').fill(email);
      await otherPage.getByLabel('Password').fill(password);
      await Promise.all([
        otherPage.waitForURL('**/wallet/'),
        otherPage.getByRole('button', { name: 'Log in' }).click(),
      ]);
      await otherPage.getByTestId('balance').waitFor();
      const [otherCookie] = await other.cookies();
      assert.ok(otherCookie !== undefined);

      await kit.open('/wallet/');
      await page.getByTestId('balance').waitFor();
      await Promise.all([
        page.waitForURL('**/wallet/login/'),
        page.getByRole('button', { name: 'Log out everywhere' }).click(),
      ]);
      assert.deepEqual(await kit.context.cookies(), [], 'this browser\u2019s cookie is cleared');

      // The other browser still holds its cookie, which the platform no longer takes.
      await otherPage.goto('/wallet/');
      await otherPage.waitForURL('**/wallet/login/');
      const refused = await fetch(`${world.baseUrl}/v1/wallet`, {
        headers: { authorization: `Bearer ${otherCookie.value}`, 'x-forwarded-for': '10.254.0.2' },
      });
      assert.equal(refused.status, 401);
    } finally {
      await other.close();
    }
  });

  for (const [width, viewport] of Object.entries(viewports)) {
    test(
      `at the ${width} width, the budget, receipt and wallet pages fit, pass axe and load in under a second`,
      async (kit) => {
        const { page } = kit;
        const { token } = await loggedInUser(kit);
        const { article } = await twoPurchases(kit, token);
        const pages = [
          { path: '/wallet/budget/', ready: 'button[type="submit"]' },
          {
            path: `/wallet/receipt/?payment=${article.paymentId}`,
            ready: '[data-testid="claims"]',
          },
          { path: '/wallet/', ready: 'mite-log-out-everywhere button' },
        ];
        for (const each of pages) {
          await kit.open(each.path);
          await page.locator(each.ready).first().waitFor();
          const loadMs = await loadTimeMs(page);
          assert.ok(loadMs < pageLoadMsMax, `${each.path} loaded in ${loadMs} ms`);
          assert.deepEqual(await seriousAxeViolations(page), [], each.path);
          assert.equal(await overflowsWidth(page), false, `${each.path} scrolls sideways`);
          await kit.screenshot(each.path.replace(/\?.*$/, ''));
        }
      },
      { viewport },
    );
  }
});
