/**
 * The operator console in a real browser (Chromium) against a real platform on loopback: the
 * operator logs in, verifies the ledger and sees it healthy, finds a merchant and a top-up with
 * its card fee, shows the top-up's email with a reason and finds that view in the access log;
 * every page is checked for accessibility and fit on a phone, and photographed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  apiCall,
  type BrowserTestKit,
  describeInBrowser,
  overflowsWidth,
  assertLoadedFast,
  seriousAxeViolations,
  viewports,
} from './testing/browser-harness.ts';

const password = 'correct horse battery';

/**
 * A merchant with an offer, a user who topped up 10.00 with the sandbox's good card and bought
 * the offer: a wallet, a merchant balance, a top-up with a card fee.
 */
async function shop(kit: BrowserTestKit) {
  const { world } = kit;
  const name = `Console News ${randomUUID().slice(0, 8)}`;
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
      body: { scopes: ['offers:write'] },
    },
  );
  const offer = await apiCall(world, 'POST', '/v1/offers', {
    auth: String(key.secret),
    body: {
      resource: `/articles/${randomUUID()}`,
      title: 'An article',
      price: '0.25',
      category: 'content',
      accessPeriodSeconds: 86_400,
    },
  });
  const email = `reader-${randomUUID().slice(0, 8)}@example.com`;
  await apiCall(world, 'POST', '/v1/users', { body: { email, password } });
  const session = await apiCall(world, 'POST', '/v1/sessions', { body: { email, password } });
  const user = String(session.token);
  const topUp = await apiCall(world, 'POST', '/v1/topups', {
    auth: user,
    body: {
      amount: '10.00',
      card: { number: '4242424242424242', expMonth: 12, expYear: 2039, cvc: '123' },
    },
  });
  await apiCall(world, 'POST', '/v1/payments', { auth: user, body: { offerId: String(offer.id) } });
  return { merchantName: name, email, topUpId: String(topUp.id), cardFee: String(topUp.fee) };
}

/** The platform's first operator person, made once per platform as setup makes it. */
const operators = new WeakMap<object, Promise<{ email: string; password: string }>>();

function operatorOf(kit: BrowserTestKit): Promise<{ email: string; password: string }> {
  const { platform } = kit.world;
  let operator = operators.get(platform);
  if (operator === undefined) {
    operator = platform.bootstrapOperator('operator@example.com').then((made) => {
      if (made === undefined) throw new Error('the platform has an operator already');
      return made;
    });
    operators.set(platform, operator);
  }
  return operator;
}

/** The operator logs in on the console's log-in page, as a person would. */
async function logInOperator(kit: BrowserTestKit): Promise<string> {
  const { page } = kit;
  const { email, password: secret } = await operatorOf(kit);
  await kit.open('/console/login/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(secret);
  await Promise.all([
    page.waitForURL('**/console/'),
    page.getByRole('button', { name: 'Log in' }).click(),
  ]);
  return email;
}

/** No serious accessibility violation, no sideways scroll, and a screenshot. */
async function checkPage(kit: BrowserTestKit, name: string): Promise<void> {
  await assertLoadedFast(kit.page, name);
  assert.deepEqual(await seriousAxeViolations(kit.page), [], name);
  assert.equal(await overflowsWidth(kit.page), false, `${name} scrolls sideways`);
  await kit.screenshot(name);
}

/** "$0.445" for the API's "0.445": the console's showAmount. */
function shown(amount: string): string {
  const [whole = '0', fraction = ''] = amount.split('.');
  return `$${whole}.${fraction.replace(/0+$/, '').padEnd(2, '0')}`;
}

describeInBrowser('operator console', (test) => {
  for (const [size, viewport] of Object.entries(viewports)) {
    test(
      `an operator sees the ledger healthy, a merchant and a top-up with its card fee (${size})`,
      async (kit) => {
        const { page } = kit;
        const data = await shop(kit);
        const email = await logInOperator(kit);
        await page.getByTestId('operator').getByText(email).waitFor();
        await page.getByRole('button', { name: 'Verify the ledger now' }).click();
        await page.getByTestId('verification').getByText('OK').waitFor();
        assert.match(
          (await page.getByTestId('verification').textContent()) ?? '',
          /every invariant holds/,
        );
        await page.getByTestId('balance-wallets').waitFor();
        await checkPage(kit, `${size}-health`);

        await kit.open('/console/merchants/');
        await page.getByRole('cell', { name: new RegExp(data.merchantName) }).waitFor();
        await checkPage(kit, `${size}-merchants`);

        await kit.open('/console/topups/');
        const row = page.getByRole('row', { name: new RegExp(data.topUpId) });
        await row.waitFor();
        assert.match((await row.textContent()) ?? '', new RegExp(`\\${shown(data.cardFee)}`));
        await page.getByTestId('fee-report').waitFor();
        await checkPage(kit, `${size}-topups`);

        await row.getByRole('link').click();
        await page.getByTestId('card-fee').waitFor();
        assert.equal(
          (await page.getByTestId('card-fee').textContent())?.trim(),
          shown(data.cardFee),
        );
        assert.doesNotMatch((await page.locator('main').textContent()) ?? '', /@example\.com/);
        await page.getByRole('button', { name: 'Show the email' }).click();
        assert.equal(
          await page.getByLabel("Why you need the user's email").getAttribute('aria-invalid'),
          'true',
        );
        await page
          .getByLabel("Why you need the user's email")
          .fill('Chargeback dispute 7781 from the card processor');
        await page.getByRole('button', { name: 'Show the email' }).click();
        await page.getByTestId('email').waitFor();
        assert.equal(await page.getByTestId('email').textContent(), data.email);
        await checkPage(kit, `${size}-topup`);

        await kit.open('/console/access-log/');
        const entry = page.getByRole('row', { name: /Chargeback dispute 7781/ }).first();
        await entry.waitFor();
        assert.match((await entry.textContent()) ?? '', new RegExp(data.topUpId));
        assert.match((await entry.textContent()) ?? '', /operator@example\.com/);
        await checkPage(kit, `${size}-access-log`);

        await kit.open('/console/payouts/');
        await page.getByRole('button', { name: 'Run payouts now' }).click();
        await page
          .getByRole('status')
          .getByText(/No merchant was due a payout/)
          .waitFor();
        await checkPage(kit, `${size}-payouts`);

        await kit.open('/console/webhooks/');
        await page.getByTestId('backlog').waitFor();
        await checkPage(kit, `${size}-webhooks`);
      },
      { viewport },
    );
  }

  test('without a session the console sends to its log-in page, which explains a wrong password', async (kit) => {
    const { page } = kit;
    const { email } = await operatorOf(kit);
    // Opened first, then waited for: a wait begun with the navigation can be aborted by the
    // redirect it is waiting for (as the wallet's tests do it).
    await kit.open('/console/merchants/');
    await page.waitForURL('**/console/login/');
    await page.getByRole('button', { name: 'Log in' }).click();
    assert.equal(await page.getByLabel('Email').getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page
      .getByRole('alert')
      .getByText(/password/i)
      .waitFor();
    assert.match(page.url(), /\/console\/login\/$/);
    await checkPage(kit, 'login');
  });

  test('logging out ends the console session', async (kit) => {
    const { page } = kit;
    await logInOperator(kit);
    await Promise.all([
      page.waitForURL('**/console/login/'),
      page.getByRole('button', { name: 'Log out' }).click(),
    ]);
    await Promise.all([page.waitForURL('**/console/login/'), kit.open('/console/')]);
  });

  test('an operator classes a merchant as selling resellable goods, for the monthly caps', async (kit) => {
    const { page, world } = kit;
    const data = await shop(kit);
    await logInOperator(kit);
    await kit.open('/console/merchants/');
    const row = page.getByRole('row', { name: new RegExp(data.merchantName) });
    const form = row.getByRole('form', { name: /^Spending class of mer_/ });
    await form.getByLabel('Category').selectOption('goods');
    await form.getByLabel('Resellable').check();
    await form.getByRole('button', { name: 'Save' }).click();
    await form.getByRole('status').getByText('Saved').waitFor();
    const listed = await apiCall(world, 'GET', '/v1/operator/merchants?limit=100', {
      auth: world.adminKey,
    });
    const merchant = (listed.items as Record<string, unknown>[]).find(
      (item) => item.name === data.merchantName,
    );
    assert.equal(merchant?.spendingCategory, 'goods');
    assert.equal(merchant?.resellable, true);
  });

  test('an operator adds a merchant and invites its owner, who joins and runs it in the dashboard', async (kit) => {
    const { page, context } = kit;
    await logInOperator(kit);
    await kit.open('/console/merchants/');
    const name = `Corner Press ${randomUUID().slice(0, 8)}`;
    const owner = `owner-${randomUUID().slice(0, 8)}@example.com`;
    // Checked in the page before anything is sent.
    await page.getByLabel('Platform fee (%)').fill('120');
    await page.getByRole('button', { name: 'Add and invite its owner' }).click();
    assert.equal(await page.getByLabel('Merchant name').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('Platform fee (%)').getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Merchant name').fill(name);
    await page.getByLabel('Platform fee (%)').fill('2.5');
    await page.getByLabel("Owner's email").fill(owner);
    await page.getByRole('button', { name: 'Add and invite its owner' }).click();
    const link = (await page.getByTestId('invitation-link').textContent()) ?? '';
    assert.match(link, /\/dashboard\/accept\/#token=/);
    await page.getByRole('cell', { name: new RegExp(name) }).waitFor();
    assert.match(
      (await page.getByRole('row', { name: new RegExp(name) }).textContent()) ?? '',
      /2\.5%/,
    );
    await checkPage(kit, 'onboarding');

    // The owner, in a browser of their own, accepts and logs in to the new merchant's dashboard.
    const ownerPage = await context.browser()?.newPage();
    assert.ok(ownerPage, 'a second page');
    try {
      await ownerPage.goto(link);
      await ownerPage.getByLabel('Password', { exact: true }).fill(password);
      await ownerPage.getByLabel('Password again').fill(password);
      await ownerPage.getByRole('button', { name: 'Join the team' }).click();
      await ownerPage.getByRole('link', { name: 'Log in to the dashboard' }).click();
      await ownerPage.getByLabel('Email').fill(owner);
      await ownerPage.getByLabel('Password').fill(password);
      await Promise.all([
        ownerPage.waitForURL('**/dashboard/'),
        ownerPage.getByRole('button', { name: 'Log in' }).click(),
      ]);
      await ownerPage.getByText(name).first().waitFor();
      assert.match((await ownerPage.locator('header').textContent()) ?? '', /Owner/);
      await kit.screenshot('owner-dashboard', ownerPage);
      // The link worked once.
      await ownerPage.goto(link);
      await ownerPage.getByLabel('Password', { exact: true }).fill(password);
      await ownerPage.getByLabel('Password again').fill(password);
      await ownerPage.getByRole('button', { name: 'Join the team' }).click();
      await ownerPage
        .getByRole('alert')
        .getByText(/unknown, expired or used/)
        .waitFor();
    } finally {
      await ownerPage.close();
    }
  });
});
