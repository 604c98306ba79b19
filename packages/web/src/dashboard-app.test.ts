/**
 * The merchant dashboard in a real browser (Chromium) against a real platform on loopback: a
 * merchant person signs up and logs in, publishes an offer, sees a user's purchase of it in its
 * payments and in the earnings chart's totals, refunds part of it (and is refused, with the
 * platform's reason, when the payment has less left than the page knew), and sees the refund;
 * an owner invites a viewer, who accepts and sees the screens without their write actions. Every
 * screen is checked with axe and at a phone's width.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import {
  apiCall,
  type BrowserTestKit,
  type BrowserWorld,
  describeInBrowser,
  overflowsWidth,
  assertLoadedFast,
  seriousAxeViolations,
  viewports,
} from './testing/browser-harness.ts';

const password = 'correct horse battery';
/** Sales per page of the payments screen. */
const salesPageSize = 20;
let people = 0;
function newEmail(role: string): string {
  return `${role}${++people}-${process.pid}@example.com`;
}

/** How long the overview may take to show a sale: the rollup's settle time and a few runs. */
const rollupWaitMs = 20_000;
const rollupPollMs = 500;

/** A user with a funded wallet buys the offer through the API, once or more; the last payment's id. */
async function userBuys(world: BrowserWorld, offerId: string, times = 1): Promise<string> {
  const email = newEmail('buyer');
  await apiCall(world, 'POST', '/v1/users', { body: { email, password } });
  const session = await apiCall(world, 'POST', '/v1/sessions', { body: { email, password } });
  const token = String(session.token);
  await apiCall(world, 'POST', '/v1/topups', {
    auth: token,
    body: {
      amount: '2.00',
      card: { number: '4242424242424242', expMonth: 12, expYear: 2039, cvc: '123' },
    },
  });
  let paid: Record<string, unknown> = {};
  for (let time = 0; time < times; time++) {
    paid = await apiCall(world, 'POST', '/v1/payments', { auth: token, body: { offerId } });
  }
  return String(paid.paymentId);
}

/**
 * Another merchant's offer whose revenue is split half and half with `merchantId`, bought by a
 * user: a payment the merchant gets a share of but did not sell.
 */
async function splitSale(world: BrowserWorld, merchantId: string): Promise<void> {
  const seller = await apiCall(world, 'POST', '/v1/merchants', {
    auth: world.adminKey,
    body: { name: 'Duet Records', feeBasisPoints: 1000, payoutThreshold: '10.00' },
  });
  const sellerId = String(seller.merchantId);
  const key = await apiCall(world, 'POST', `/v1/merchants/${sellerId}/api-keys`, {
    auth: world.adminKey,
    body: { scopes: ['offers:write'] },
  });
  const offer = await apiCall(world, 'POST', '/v1/offers', {
    auth: String(key.secret),
    body: {
      resource: `/songs/${randomUUID()}`,
      title: 'A shared song',
      price: '0.10',
      category: 'content',
      accessPeriodSeconds: 0,
      splits: [
        { merchantId: sellerId, shareBasisPoints: 5000 },
        { merchantId, shareBasisPoints: 5000 },
      ],
    },
  });
  await userBuys(world, String(offer.id));
}

/**
 * A refund whose answer is lost on the way back (the platform made it) shows as not known to be
 * made, and sending it again with the same Idempotency-Key gets the platform's first answer: one
 * refund, not two.
 */
async function refundAnswerLost(kit: BrowserTestKit, email: string): Promise<void> {
  const { page, world } = kit;
  const token = await logInAsOwnerThroughApi(world, email);
  await page.route(
    '**/v1/payments/*/refunds',
    async (route) => {
      // The request reaches the platform (as the page's own would), and its answer is dropped.
      const request = route.request();
      await fetch(request.url(), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'idempotency-key': request.headers()['idempotency-key'] ?? '',
        },
        body: request.postData() ?? '',
      });
      await route.abort('failed');
    },
    { times: 1 },
  );
  await kit.open('/dashboard/payments/');
  await page.getByRole('button', { name: 'Refund “Mites in the machine”' }).click();
  await page.getByLabel('Amount to refund (USD)').fill('0.05');
  await page.getByRole('button', { name: 'Review the refund' }).click();
  await page.getByRole('button', { name: 'Refund $0.05' }).click();
  await page.getByRole('alert').filter({ hasText: 'may or may not have been made' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Change the amount' }).isDisabled(), true);
  await page.getByRole('button', { name: 'Refund $0.05' }).click();
  await page.getByRole('status').filter({ hasText: 'Refunded $0.05' }).waitFor();
  // 0.10 from the page, 0.05 beside it, and this 0.05 once (the list reloads after the status).
  const refundRows = page.getByTestId('refunds').locator('tbody tr');
  await refundRows.nth(2).waitFor();
  assert.equal(await refundRows.count(), 3);
  const sale = page
    .getByTestId('payments')
    .locator('tbody tr')
    .filter({ hasText: 'Mites in the machine' });
  assert.match((await sale.textContent()) ?? '', /\$0\.2375[\s\S]*\$0\.20/);
}

/** A share of another merchant's sale is listed as such, with no refund: only its seller may. */
async function seesSplitShare(kit: BrowserTestKit): Promise<void> {
  const { page } = kit;
  await kit.open('/dashboard/payments/');
  const row = page.getByTestId('payments').locator('tbody tr').filter({ hasText: 'A shared song' });
  assert.match(
    (await row.textContent()) ?? '',
    /your share of a split[\s\S]*\$0\.10[\s\S]*\$0\.045/,
  );
  assert.equal(await row.getByRole('button').count(), 0);
}

async function noSeriousViolations(page: Page, screen: string): Promise<void> {
  await assertLoadedFast(page, screen);
  assert.deepEqual(await seriousAxeViolations(page), [], screen);
}

/**
 * Runs the report rollup (as the background job does every few seconds) and reloads the overview
 * until its total of `testId` reads `expected`: a sale counts once its id is the rollup's settle
 * time old, which is the system clock's to decide.
 */
async function overviewShows(
  kit: BrowserTestKit,
  testId: string,
  expected: string | RegExp,
): Promise<void> {
  const deadline = Date.now() + rollupWaitMs;
  for (;;) {
    await kit.world.platform.services.reportRollup.runOnce();
    await kit.open('/dashboard/');
    const shown = await kit.page.getByTestId(testId).textContent();
    const text = shown?.trim() ?? '';
    if (typeof expected === 'string' ? text === expected : expected.test(text)) return;
    if (Date.now() > deadline)
      assert.fail(`the overview's ${testId} shows ${shown}, not ${expected}`);
    await kit.page.waitForTimeout(rollupPollMs);
  }
}

async function signUpInPage(kit: BrowserTestKit, merchantName: string): Promise<string> {
  const { page } = kit;
  const email = newEmail('owner');
  await kit.open('/dashboard/signup/');
  await noSeriousViolations(page, 'sign-up');
  await page.getByLabel('Merchant name').fill(merchantName);
  await page.getByLabel('Your email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Password again').fill(password);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.waitForURL('**/dashboard/');
  return email;
}

async function logInInPage(kit: BrowserTestKit, email: string): Promise<void> {
  const { page } = kit;
  await kit.open('/dashboard/login/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/dashboard/');
}

async function publishOffer(page: Page, title: string): Promise<string> {
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('What you sell (path or URL)').fill(`/articles/${randomUUID()}`);
  await page.getByLabel('Price (USD)').fill('0.25');
  await page.getByRole('button', { name: 'Publish the offer' }).click();
  const published = await page.getByRole('status').filter({ hasText: 'Published' }).textContent();
  const offerId = /offer (off_[^)]+)\)/.exec(published ?? '')?.[1];
  assert.ok(offerId !== undefined, `published: ${published}`);
  return offerId;
}

/** The shell of a new owner's dashboard: the merchant, the role, every screen in the nav. */
async function checkShell(page: Page): Promise<void> {
  const header = page.getByTestId('merchant');
  await header.waitFor();
  assert.match((await header.textContent()) ?? '', /The Daily Mite\s*· Owner/);
  assert.equal(
    await page.getByRole('link', { name: 'Overview' }).getAttribute('aria-current'),
    'page',
  );
  const nav = await page
    .getByRole('navigation', { name: 'Dashboard' })
    .getByRole('link')
    .allTextContents();
  for (const screen of [
    'Overview',
    'Payments',
    'Offers',
    'Payouts',
    'API keys',
    'Webhooks',
    'Fees',
  ]) {
    assert.ok(
      nav.some((text) => text.trim() === screen),
      `${screen} in ${nav.join(', ')}`,
    );
  }
  await page.getByTestId('total-payments').waitFor();
  assert.equal(await page.getByTestId('total-net').textContent(), '$0.00');
  await noSeriousViolations(page, 'overview, empty');
}

/** Offers: the form refuses a split that does not add up before sending, then publishes. */
async function publishWithTheForm(page: Page): Promise<string> {
  await page.getByRole('link', { name: 'Offers' }).click();
  await page.getByRole('heading', { name: 'Publish an offer' }).waitFor();
  await page.getByRole('button', { name: 'Add a merchant to the split' }).click();
  await page.getByLabel('Share (%)').first().fill('60');
  await page.getByLabel('Merchant 2').fill('mer_someone');
  await page.getByLabel('Share (%)').nth(1).fill('30');
  await page.getByRole('button', { name: 'Publish the offer' }).click();
  assert.match((await page.locator('#splits-error').textContent()) ?? '', /add up to 90%/);
  await page.getByRole('button', { name: 'Remove merchant 2' }).click();
  await page.getByRole('button', { name: 'Remove merchant 1' }).click();
  const offerId = await publishOffer(page, 'Mites in the machine');
  const offers = page.getByTestId('offers');
  assert.match(
    (await offers.textContent()) ?? '',
    /Mites in the machine[\s\S]*\$0\.25[\s\S]*You 100%/,
  );
  await noSeriousViolations(page, 'offers');
  return offerId;
}

/** Offers: the merchant sets its fair-price cap (refused first when it is no amount), kept on reload. */
async function setsFairPriceCap(page: Page): Promise<void> {
  const section = page.getByTestId('fair-price-cap');
  await section.getByText('You have no fair-price cap').waitFor();
  const capField = section.getByLabel('Monthly cap per user (USD)');
  await capField.fill('-1');
  await section.getByRole('button', { name: 'Save cap' }).click();
  await section.getByText('Enter an amount in dollars above 0').waitFor();
  await capField.fill('5');
  await section.getByRole('button', { name: 'Save cap' }).click();
  await section.getByText('Saved: users pay you at most $5.00 a month.').waitFor();
  await noSeriousViolations(page, 'offers, fair-price cap');
  await page.reload();
  await page.getByTestId('fair-price-current').getByText('at most $5.00 a month').waitFor();
  // Removed again, so that the sales this test goes on to make are charged in full.
  await page.getByTestId('fair-price-cap').getByRole('button', { name: 'Save cap' }).click();
  await page.getByText('Saved: no fair-price cap.').waitFor();
}

/** The sale in payments, with the merchant's share, and in the overview once the rollup counted it. */
async function seesTheSale(kit: BrowserTestKit): Promise<void> {
  const { page } = kit;
  await kit.open('/dashboard/payments/');
  const sales = page.getByTestId('payments');
  await sales.waitFor();
  const sale = sales.locator('tbody tr').first();
  assert.match((await sale.textContent()) ?? '', /Mites in the machine[\s\S]*Paid[\s\S]*\$0\.25/);
  await noSeriousViolations(page, 'payments');

  // The overview counts it once the rollup has.
  await overviewShows(kit, 'total-payments', '1');
  assert.equal(await page.getByTestId('total-gross').textContent(), '$0.25');
  await noSeriousViolations(page, 'overview');
  await page.getByLabel('Last 12 months').check();
  await page.getByRole('table', { name: /Top offers/ }).waitFor();
  assert.match((await page.getByTestId('top-offers').textContent()) ?? '', /Mites in the machine/);
  await kit.screenshot('overview');
}

/** Refund: more than is left is refused in the page; a partial refund is confirmed and made. */
async function refundsPart(kit: BrowserTestKit): Promise<void> {
  const { page } = kit;
  await kit.open('/dashboard/payments/');
  await page.getByRole('button', { name: 'Refund “Mites in the machine”' }).click();
  await page.getByLabel('Amount to refund (USD)').fill('0.30');
  await page.getByRole('button', { name: 'Review the refund' }).click();
  assert.match((await page.locator('.field-error').textContent()) ?? '', /At most \$0\.25/);
  await page.getByLabel('Amount to refund (USD)').fill('0.10');
  await page.getByLabel('Reason (optional)').fill('typo in the article');
  await page.getByRole('button', { name: 'Review the refund' }).click();
  await noSeriousViolations(page, 'refund confirmation');
  await page.getByRole('button', { name: 'Refund $0.10' }).click();
  await page.getByRole('status').filter({ hasText: 'Refunded $0.10' }).waitFor();
  const refunds = page.getByTestId('refunds');
  assert.match(
    (await refunds.textContent()) ?? '',
    /Refunded[\s\S]*\$0\.10[\s\S]*typo in the article/,
  );
  const sale = page
    .getByTestId('payments')
    .locator('tbody tr')
    .filter({ hasText: 'Mites in the machine' });
  // Paid, the merchant's share, and now what was refunded.
  assert.match((await sale.textContent()) ?? '', /\$0\.25[\s\S]*\$0\.2375[\s\S]*\$0\.10/);
  await kit.screenshot('refunded');
}

/**
 * A refund the platform refuses (the rest was refunded elsewhere meanwhile) is shown as refused,
 * with the platform's reason, and not as made.
 */
async function refundRefused(kit: BrowserTestKit, email: string, paymentId: string): Promise<void> {
  const { page, world } = kit;
  await page.getByRole('button', { name: 'Refund “Mites in the machine”' }).click();
  await page.getByLabel('Amount to refund (USD)').fill('0.15');
  await page.getByRole('button', { name: 'Review the refund' }).click();
  await logInAsOwnerThroughApi(world, email).then((token) =>
    apiCall(world, 'POST', `/v1/payments/${paymentId}/refunds`, {
      auth: token,
      body: { amount: '0.05' },
    }),
  );
  await page.getByRole('button', { name: 'Refund $0.15' }).click();
  const refusal = page.getByRole('alert').filter({ hasText: 'The refund was not made' });
  await refusal.waitFor();
  assert.equal(await page.getByRole('status').filter({ hasText: 'Refunded $0.15' }).count(), 0);

  // What the refunds took back from the merchant: its share of them, after the platform's fee.
  await overviewShows(kit, 'total-refunded', /^\$0\.1[0-9]*$/);
}

/** A person who runs two merchants chooses whose dashboard to open. */
async function choosesMerchant(kit: BrowserTestKit, email: string): Promise<void> {
  const { page, world } = kit;
  await apiCall(world, 'POST', '/v1/merchant-signups', {
    body: { email, password, merchantName: 'The Daily Mite Radio' },
  });
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Which merchant?' }).waitFor();
  await noSeriousViolations(page, 'merchant choice');
  await page.getByRole('button', { name: 'The Daily Mite Radio' }).click();
  await page.waitForURL('**/dashboard/');
  assert.match(
    (await page.getByTestId('merchant').textContent()) ?? '',
    /The Daily Mite Radio\s*· Owner[\s\S]*Switch merchant/,
  );
  await page.getByTestId('total-payments').waitFor();
  assert.equal(await page.getByTestId('total-payments').textContent(), '0', 'its own figures');
}

describeInBrowser('merchant dashboard', (test) => {
  test('a merchant sees a sale in payments and earnings, refunds it and sees the refund', async (kit) => {
    const { page, world } = kit;
    await kit.open('/dashboard/');
    await page.waitForURL('**/dashboard/login/');
    await noSeriousViolations(page, 'log-in');
    const email = await signUpInPage(kit, 'The Daily Mite');
    await checkShell(page);
    const offerId = await publishWithTheForm(page);
    await setsFairPriceCap(page);
    const paymentId = await userBuys(world, offerId);
    await seesTheSale(kit);
    const merchantId = String(
      (
        await apiCall(world, 'GET', '/v1/merchant-session', {
          auth: await logInAsOwnerThroughApi(world, email),
        })
      ).merchantId,
    );
    await splitSale(world, merchantId);
    await refundsPart(kit);
    await refundRefused(kit, email, paymentId);
    await refundAnswerLost(kit, email);
    await seesSplitShare(kit);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL('**/dashboard/login/');
    await kit.open('/dashboard/payments/');
    await page.waitForURL('**/dashboard/login/');
    await choosesMerchant(kit, email);
  });
});

/** A merchant signed up through the API, with a page and one more of sales to page through. */
async function merchantWithSales(world: BrowserWorld, owner: string): Promise<void> {
  await apiCall(world, 'POST', '/v1/merchant-signups', {
    body: { email: owner, password, merchantName: 'Pixel Forge' },
  });
  const gem = await apiCall(world, 'POST', '/v1/offers', {
    auth: await logInAsOwnerThroughApi(world, owner),
    body: {
      resource: '/items/gem',
      title: 'A gem',
      price: '0.05',
      category: 'goods',
      accessPeriodSeconds: 0,
    },
  });
  await userBuys(world, String(gem.id), salesPageSize + 1);
}

/** The owner invites a viewer on the members screen; the invitation's link, shown once. */
async function invitesViewer(kit: BrowserTestKit, owner: string, viewer: string): Promise<string> {
  const { page } = kit;
  await page.getByRole('link', { name: 'Members' }).click();
  const members = page.getByTestId('members');
  await members.waitFor();
  assert.match((await members.textContent()) ?? '', new RegExp(`${owner} \\(you\\)[\\s\\S]*Owner`));
  await page.getByLabel('Email').fill(viewer);
  await page.getByLabel('Role').selectOption('viewer');
  await page.getByRole('button', { name: 'Make an invitation' }).click();
  const link = (await page.getByTestId('invitation-link').textContent()) ?? '';
  assert.match(link, /\/dashboard\/accept\/#token=/);
  await noSeriousViolations(page, 'members');
  return link;
}

/** The invited person opens the link and joins with a new password. */
async function accepts(kit: BrowserTestKit, link: string): Promise<void> {
  const { page } = kit;
  await page.goto(link);
  await noSeriousViolations(page, 'accept');
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Password again').fill(password);
  await page.getByRole('button', { name: 'Join the team' }).click();
  await page.getByRole('status').filter({ hasText: 'as Viewer' }).waitFor();
  assert.equal(new URL(page.url()).hash, '', 'the spent token leaves the address bar');
}

/** Every screen of the shell fits a phone and passes axe. */
async function screensFitAPhone(kit: BrowserTestKit): Promise<void> {
  const { page } = kit;
  for (const screen of [
    '/dashboard/',
    '/dashboard/payments/',
    '/dashboard/offers/',
    '/dashboard/members/',
  ]) {
    await kit.open(screen);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page
      .locator('[role="status"]')
      .filter({ hasText: 'Loading' })
      .waitFor({ state: 'detached' });
    assert.equal(await overflowsWidth(page), false, `${screen} fits a phone`);
    await noSeriousViolations(page, screen);
    await kit.screenshot(`viewer ${screen}`);
  }
}

/** A viewer reads the team, the offers and every page of sales, and changes nothing anywhere. */
async function viewerChangesNothing(kit: BrowserTestKit): Promise<void> {
  const { page } = kit;
  await kit.open('/dashboard/members/');
  assert.match((await page.getByTestId('members').textContent()) ?? '', /Viewer/);
  assert.equal(await page.getByRole('button', { name: /Remove/ }).count(), 0);
  assert.equal(await page.getByRole('heading', { name: 'Invite someone' }).count(), 0);
  await kit.open('/dashboard/offers/');
  await page.getByTestId('offers').waitFor();
  assert.equal(await page.getByRole('button', { name: /Copy/ }).count(), 0);
  assert.equal(await page.getByRole('heading', { name: 'Publish an offer' }).count(), 0);
  await kit.open('/dashboard/payments/');
  const sales = page.getByTestId('payments').locator('tbody tr');
  await sales.first().waitFor();
  assert.equal(await sales.count(), salesPageSize);
  assert.equal(await page.getByRole('button', { name: /^Refund/ }).count(), 0);
  await page.getByRole('button', { name: 'Show older payments' }).click();
  await sales.nth(salesPageSize).waitFor();
  assert.equal(await sales.count(), salesPageSize + 1);
  assert.equal(await page.getByRole('button', { name: 'Show older payments' }).count(), 0);
}

/** The owner removes the viewer from the team, after the browser's confirmation. */
async function removesViewer(kit: BrowserTestKit, owner: string, viewer: string): Promise<void> {
  const { page } = kit;
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL('**/dashboard/login/');
  await logInInPage(kit, owner);
  await kit.open('/dashboard/members/');
  const members = page.getByTestId('members');
  await members.waitFor();
  page.once('dialog', (dialog) => void dialog.accept());
  await page.getByRole('button', { name: `Remove ${viewer}` }).click();
  await members.filter({ hasNotText: viewer }).waitFor();
  assert.doesNotMatch((await members.textContent()) ?? '', new RegExp(viewer));
}

describeInBrowser('merchant dashboard, its team', (test) => {
  test(
    'an owner invites a viewer, who accepts and reads every screen without its write actions, on a phone',
    async (kit) => {
      const { page, world } = kit;
      const owner = newEmail('owner');
      const viewer = newEmail('viewer');
      await merchantWithSales(world, owner);
      await logInInPage(kit, owner);
      const link = await invitesViewer(kit, owner, viewer);
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL('**/dashboard/login/');
      await accepts(kit, link);
      await logInInPage(kit, viewer);
      assert.match(
        (await page.getByTestId('merchant').textContent()) ?? '',
        /Pixel Forge\s*· Viewer/,
      );
      await screensFitAPhone(kit);
      await viewerChangesNothing(kit);
      await removesViewer(kit, owner, viewer);
    },
    { viewport: viewports.phone },
  );
});

/** The owner's dashboard session as a Bearer token, for a change made beside the page. */
async function logInAsOwnerThroughApi(world: BrowserWorld, email: string): Promise<string> {
  const session = await apiCall(world, 'POST', '/v1/merchant-sessions', {
    body: { email, password },
  });
  return String(session.token);
}
