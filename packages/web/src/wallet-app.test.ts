/**
 * The wallet in a real browser (Chromium) against a real platform on loopback: signing up, topping
 * up with the sandbox's test cards (success, decline, confirmation later), bad input, logging out,
 * and every page's accessibility, load time and fit on a phone.
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
  sandboxConfirmDelayMs,
  seriousAxeViolations,
  tabTo,
  viewports,
} from './testing/browser-harness.ts';

/** Every page loads within this on loopback (issue 13). */

const password = 'correct horse battery';
let users = 0;
function newEmail(): string {
  return `user${++users}-${process.pid}@example.com`;
}

/** A user made through the API and logged in in the test's browser context. */
async function loggedInUser(kit: BrowserTestKit): Promise<{ email: string; token: string }> {
  const email = newEmail();
  await apiCall(kit.world, 'POST', '/v1/users', { body: { email, password } });
  const session = await apiCall(kit.world, 'POST', '/v1/sessions', { body: { email, password } });
  const token = String(session.token);
  await kit.context.addCookies([
    { name: 'mite_session', value: token, url: kit.world.baseUrl, httpOnly: true, secure: true },
  ]);
  return { email, token };
}

/** A merchant with an offer, through the API: its id and a key that may refund. */
async function merchantWithOffer(
  kit: BrowserTestKit,
  name: string,
  title: string,
  terms: { category: 'content' | 'goods'; accessPeriodSeconds: number; price: string } = {
    category: 'content',
    accessPeriodSeconds: 86_400,
    price: '0.25',
  },
) {
  const { world } = kit;
  const merchant = await apiCall(world, 'POST', '/v1/merchants', {
    auth: world.adminKey,
    body: { name, feeBasisPoints: 1000, payoutThreshold: '10.00' },
  });
  const key = await apiCall(
    world,
    'POST',
    `/v1/merchants/${String(merchant.merchantId)}/api-keys`,
    {
      auth: world.adminKey,
      body: { scopes: ['offers:write', 'refunds:write'] },
    },
  );
  const apiKey = String(key.secret);
  const offer = await apiCall(world, 'POST', '/v1/offers', {
    auth: apiKey,
    body: {
      resource: `/articles/${randomUUID()}`,
      title,
      ...terms,
    },
  });
  return { apiKey, offerId: String(offer.id) };
}

async function fillTopUp(page: Page, card: string, amount = '10'): Promise<void> {
  await page.getByLabel('Amount (USD)').fill(amount);
  await page.getByLabel('Card number').fill(card);
  await page.getByLabel('Expiry (MM/YY)').fill('12/39');
  await page.getByLabel('Security code').fill('123');
  await page.getByRole('button', { name: 'Top up' }).click();
}

async function balanceShown(page: Page): Promise<string> {
  return (await page.getByTestId('balance').textContent())?.trim() ?? '';
}

describeInBrowser('wallet app', (test) => {
  test('a new user signs up with the keyboard alone, tops up with a test card and sees the balance', async (kit) => {
    const { page } = kit;
    await kit.open('/wallet/signup/');
    await tabTo(page, '#email');
    await page.keyboard.type(newEmail());
    await page.keyboard.press('Tab');
    await page.keyboard.type(password);
    await page.keyboard.press('Tab');
    await page.keyboard.type(password);
    await Promise.all([page.waitForURL('**/wallet/'), page.keyboard.press('Enter')]);
    await page.getByTestId('balance').waitFor();
    assert.equal(await balanceShown(page), '$0.00');

    await tabTo(page, 'a.button[href="/wallet/topup/"]');
    await Promise.all([page.waitForURL('**/wallet/topup/'), page.keyboard.press('Enter')]);
    await page.getByLabel('Amount (USD)').fill('12.50');
    await page.getByRole('button', { name: 'Use the card 4242 4242 4242 4242' }).click();
    assert.equal(await page.getByLabel('Card number').inputValue(), '4242 4242 4242 4242');
    await page.getByLabel('Expiry (MM/YY)').fill('12/39');
    await page.getByLabel('Security code').fill('123');
    await page.getByRole('button', { name: 'Top up' }).click();
    await page.getByText('Done: $12.50 was added to your wallet.').waitFor();
    await page.getByText('Balance: $12.50').waitFor();

    await kit.open('/wallet/');
    await page.getByTestId('balance').waitFor();
    assert.equal(await balanceShown(page), '$12.50');
    const movements = page.getByTestId('movements');
    assert.match((await movements.textContent()) ?? '', /Top-up\s*\+\$12\.50/);
  });

  test('a declined card shows the decline, and nothing is added', async (kit) => {
    const { page } = kit;
    await loggedInUser(kit);
    await kit.open('/wallet/topup/');
    await fillTopUp(page, '4000 0000 0000 0002');
    const outcome = page.getByTestId('outcome');
    await outcome.waitFor();
    assert.match((await outcome.textContent()) ?? '', /Not topped up\.\s+The card was declined/);
    assert.equal(await outcome.getAttribute('role'), 'alert');
    assert.equal(await balanceShown(page), '$0.00');
    await fillTopUp(page, '4000 0000 0000 9995');
    await page.getByText(/The card has insufficient funds/).waitFor();
    assert.equal(await balanceShown(page), '$0.00');
  });

  test('a card the processor confirms later shows as pending until it is confirmed', async (kit) => {
    const { page } = kit;
    await loggedInUser(kit);
    await kit.open('/wallet/topup/');
    await fillTopUp(page, '4000000000003220', '20');
    await page.getByText(/^\s*Pending: waiting for the card processor/).waitFor();
    await kit.screenshot('pending');
    assert.equal(await balanceShown(page), '$0.00', 'nothing shows as added while pending');
    await page
      .getByText('Done: $20.00 was added to your wallet.')
      .waitFor({ timeout: sandboxConfirmDelayMs + 5_000 });
    await page.getByText('Balance: $20.00').waitFor();

    await fillTopUp(page, '4000000000000341', '5');
    await page.getByText(/^\s*Pending: waiting for the card processor/).waitFor();
    await page
      .getByText(/Not topped up\. The card processor did not confirm/)
      .waitFor({ timeout: sandboxConfirmDelayMs + 5_000 });
    assert.equal(await balanceShown(page), '$20.00');
  });

  test('bad input is refused before sending, and the server\u2019s refusals are shown', async (kit) => {
    const { page } = kit;
    const sent: string[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/v1/')) sent.push(`${request.method()} ${request.url()}`);
    });
    await kit.open('/wallet/signup/');
    await page.getByLabel('Email').fill('not an email');
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByRole('button', { name: 'Create my wallet' }).click();
    await page.getByText('Enter an email address, like name@example.com.').waitFor();
    await page.getByText('Use at least 10 characters.').waitFor();
    assert.equal(await page.getByLabel('Email').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate('document.activeElement.id'), 'email', 'focus on the error');
    assert.deepEqual(sent, [], 'nothing was sent');

    const { email } = await loggedInUser(kit);
    await kit.context.clearCookies();
    await kit.open('/wallet/login/');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    const refusal = page.getByRole('alert');
    await refusal.waitFor();
    assert.match((await refusal.textContent()) ?? '', /email or password/i);

    await kit.open('/wallet/signup/');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByLabel('Password again').fill(password);
    await page.getByRole('button', { name: 'Create my wallet' }).click();
    await page.getByRole('alert').waitFor();
    assert.match((await page.getByRole('alert').textContent()) ?? '', /email/i);

    await loggedInUser(kit);
    await kit.open('/wallet/topup/');
    sent.length = 0;
    await fillTopUp(page, '4242 4242 4242 4242', '0.50');
    await page.getByText('Top up between 1.00 and 500.00.').waitFor();
    await fillTopUp(page, '4242', '10');
    await page.getByText('Enter the card number: 12 to 19 digits.').waitFor();
    assert.deepEqual(sent, [], 'nothing was sent');
    // A number the server refuses (it fails the Luhn check): its detail is shown.
    await fillTopUp(page, '4242 4242 4242 4241', '10');
    await page.getByText(/Not topped up\. The card details are not valid/).waitFor();
  });

  test('the history shows what was bought, from whom, and what was refunded', async (kit) => {
    const { page, world } = kit;
    const { email, token } = await loggedInUser(kit);
    await apiCall(world, 'POST', '/v1/topups', {
      auth: token,
      body: {
        amount: '2.00',
        card: { number: '4242424242424242', expMonth: 12, expYear: 2039, cvc: '123' },
      },
    });
    const news = await merchantWithOffer(kit, 'The Daily Mite', 'Mites in the machine');
    const games = await merchantWithOffer(kit, 'Pixel Forge', 'A golden sword');
    const paid = await apiCall(world, 'POST', '/v1/payments', {
      auth: token,
      body: { offerId: news.offerId },
    });
    await apiCall(world, 'POST', '/v1/payments', { auth: token, body: { offerId: games.offerId } });
    await apiCall(world, 'POST', `/v1/payments/${String(paid.paymentId)}/refunds`, {
      auth: news.apiKey,
      body: { amount: '0.10', reason: 'typo in the article' },
    });

    await kit.open('/wallet/');
    const purchases = page.getByRole('table', { name: 'Purchases' });
    await purchases.waitFor();
    const rows = await purchases.locator('tbody tr').allTextContents();
    assert.equal(rows.length, 2);
    assert.match(rows[0] ?? '', /Pixel Forge\s+A golden sword\s+\$0\.25\s+–/);
    assert.match(rows[1] ?? '', /The Daily Mite\s+Mites in the machine\s+\$0\.25\s+\$0\.10/);
    assert.equal(await balanceShown(page), '$1.60');
    assert.equal((await page.getByTestId('owner').textContent())?.trim(), email);
    // One row per purchase and refund, with its total (the platform's fee included) and merchant.
    const movements = await page.getByTestId('movements').locator('tbody tr').allTextContents();
    assert.equal(movements.length, 4);
    assert.match(movements[0] ?? '', /Refund from The Daily Mite\s*\+\$0\.10/);
    assert.match(movements[1] ?? '', /Purchase from Pixel Forge\s*−\$0\.25/);
    assert.match(movements[2] ?? '', /Purchase from The Daily Mite\s*−\$0\.25/);
    assert.match(movements[3] ?? '', /Top-up\s*\+\$2\.00/);
  });

  test('a long history comes a page at a time', async (kit) => {
    const { page, world } = kit;
    const { token } = await loggedInUser(kit);
    await apiCall(world, 'POST', '/v1/topups', {
      auth: token,
      body: {
        amount: '1.00',
        card: { number: '4242424242424242', expMonth: 12, expYear: 2039, cvc: '123' },
      },
    });
    const shop = await merchantWithOffer(kit, 'Pixel Forge', 'A gem', {
      category: 'goods',
      accessPeriodSeconds: 0,
      price: '0.01',
    });
    // Each purchase moves money twice (the merchant's share, the platform's fee) but is one
    // movement: 20 purchases and the top-up are 21 movements, more than a page of 20.
    for (let bought = 0; bought < 20; bought++) {
      await apiCall(world, 'POST', '/v1/payments', {
        auth: token,
        body: { offerId: shop.offerId },
      });
    }
    await kit.open('/wallet/');
    const movements = page.getByTestId('movements').locator('tbody tr');
    await movements.first().waitFor();
    assert.equal(await movements.count(), 20);
    assert.match(
      (await movements.last().textContent()) ?? '',
      /Purchase from Pixel Forge\s*−\$0\.01/,
    );
    assert.equal(
      await page.getByRole('table', { name: 'Purchases' }).locator('tbody tr').count(),
      20,
    );
    assert.equal(await page.getByRole('button', { name: 'Show older purchases' }).count(), 0);
    await page.getByRole('button', { name: 'Show older movements' }).click();
    await page.getByRole('button', { name: 'Show older movements' }).waitFor({ state: 'detached' });
    assert.equal(await movements.count(), 21);
    assert.match((await movements.last().textContent()) ?? '', /Top-up\s*\+\$1\.00/);
  });

  test('a user logs in, and logging out ends the session', async (kit) => {
    const { page } = kit;
    const { email } = await loggedInUser(kit);
    await kit.context.clearCookies();
    await kit.open('/wallet/');
    await page.waitForURL('**/wallet/login/');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await Promise.all([
      page.waitForURL('**/wallet/'),
      page.getByRole('button', { name: 'Log in' }).click(),
    ]);
    await page.getByTestId('balance').waitFor();
    const [cookie] = await kit.context.cookies();
    assert.deepEqual(
      [cookie?.name, cookie?.httpOnly, cookie?.secure, cookie?.sameSite],
      ['mite_session', true, true, 'Lax'],
    );
    assert.equal(await page.evaluate('document.cookie'), '', 'no script can read the session');
    await Promise.all([
      page.waitForURL('**/wallet/login/'),
      page.getByRole('button', { name: 'Log out', exact: true }).click(),
    ]);
    await kit.open('/wallet/');
    await page.waitForURL('**/wallet/login/');
  });

  test('a browser that does not keep the session cookie is told why, not sent in circles', async (kit) => {
    const { page } = kit;
    const { email } = await loggedInUser(kit);
    await kit.context.clearCookies();
    // As a browser does on plain http away from the loopback: the Secure cookie is dropped.
    await page.route('**/v1/sessions', async (route) => {
      const response = await route.fetch();
      // route.fetch shares the context's cookie jar, which kept the cookie: it goes too.
      await kit.context.clearCookies();
      const headers = { ...response.headers() };
      delete headers['set-cookie'];
      await route.fulfill({ response, headers });
    });
    await kit.open('/wallet/login/');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page
      .getByText(/this browser did not keep the session: the platform must be served over https/)
      .waitFor();
    assert.match(page.url(), /\/wallet\/login\/$/);
  });

  for (const [width, viewport] of Object.entries(viewports)) {
    test(
      `every page passes axe, loads in under a second and fits the ${width} width`,
      async (kit) => {
        const { page } = kit;
        const pages = [
          { path: '/wallet/login/', ready: 'button[type="submit"]' },
          { path: '/wallet/signup/', ready: 'button[type="submit"]' },
          { path: '/wallet/', ready: '[data-testid="balance"]', loggedIn: true },
          { path: '/wallet/topup/', ready: '[data-testid="balance"]', loggedIn: true },
        ];
        for (const each of pages) {
          if (each.loggedIn === true && (await kit.context.cookies()).length === 0) {
            await loggedInUser(kit);
          }
          await kit.open(each.path);
          await page.locator(each.ready).first().waitFor();
          const loadMs = await loadTimeMs(page);
          assert.ok(loadMs < pageLoadMsMax, `${each.path} loaded in ${loadMs} ms`);
          assert.deepEqual(await seriousAxeViolations(page), [], each.path);
          assert.equal(await overflowsWidth(page), false, `${each.path} scrolls sideways`);
          await kit.screenshot(each.path);
        }
      },
      { viewport },
    );
  }
});
