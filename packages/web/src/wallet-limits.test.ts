/**
 * The wallet's limits and guardian pages, in a real browser (Chromium) against a real platform on
 * loopback: a limit lowered at once, then raised only once the password is given (a wrong one
 * refused, nothing changed); a minor who declares a birth date and asks a guardian, whom the
 * guardian, in a second browser, grants with their password; a dormant account's notice and its
 * re-enabling; each page's accessibility, load time and fit on a phone.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import {
  apiCall,
  assertLoadedFast,
  type BrowserTestKit,
  describeInBrowser,
  overflowsWidth,
  seriousAxeViolations,
  viewports,
} from './testing/browser-harness.ts';

const password = 'correct horse battery';
let users = 0;

/** A user made through the API; logged in in `context` (the test's own by default). */
async function loggedInUser(
  kit: BrowserTestKit,
  name: string,
  context = kit.context,
): Promise<{ email: string; token: string }> {
  const email = `${name}${++users}-${process.pid}@example.com`;
  await apiCall(kit.world, 'POST', '/v1/users', { body: { email, password } });
  const session = await apiCall(kit.world, 'POST', '/v1/sessions', { body: { email, password } });
  const token = String(session.token);
  await context.addCookies([
    { name: 'mite_session', value: token, url: kit.world.baseUrl, httpOnly: true, secure: true },
  ]);
  return { email, token };
}

async function saveLimit(page: Page, scope: string, limit: string): Promise<void> {
  await page.getByLabel('Limit', { exact: true }).selectOption({ label: scope });
  await page.getByLabel('New limit (USD)').fill(limit);
  await page.getByRole('button', { name: 'Save limit' }).click();
}

async function checkPage(page: Page, what: string): Promise<void> {
  await assertLoadedFast(page, what);
  assert.deepEqual(await seriousAxeViolations(page), [], what);
  assert.equal(await overflowsWidth(page), false, `${what} scrolls sideways`);
}

describeInBrowser('wallet limits, age and guardians', (test) => {
  test('a limit is lowered at once and raised only with the password', async (kit) => {
    const { page, world } = kit;
    const { token } = await loggedInUser(kit, 'limits');
    await kit.open('/wallet/limits/');
    await page.getByRole('button', { name: 'Save limit' }).waitFor();
    await checkPage(page, 'the limits page');
    const content = page.getByTestId('limit-content');
    await content.getByText('No limit of your own').waitFor();

    await saveLimit(page, 'Content, each month', '10');
    await page.getByText('Saved. Content, each month: $10.00.').waitFor();
    await content.getByText('$10.00').waitFor();

    await saveLimit(page, 'Content, each month', '20');
    await page.getByText('Raising or removing a limit needs your password').waitFor();
    await page.getByLabel('Your password').fill('not my password');
    await page.getByRole('button', { name: 'Save limit' }).click();
    await page.getByText('The password is wrong.').waitFor();
    const kept = await apiCall(world, 'GET', '/v1/users/me/limits', { auth: token });
    assert.deepEqual(kept.limits, [
      {
        scope: 'content',
        limit: '10.00',
        updatedAt: (kept.limits as { updatedAt: string }[])[0]?.updatedAt,
      },
    ]);
    await page.getByLabel('Your password').fill(password);
    await page.getByRole('button', { name: 'Save limit' }).click();
    await page.getByText('Saved. Content, each month: $20.00.').waitFor();
    await content.getByText('$20.00').waitFor();
    const changes = page.getByTestId('changes');
    await changes.getByText('Raised from $10.00 to $20.00 (with your password)').waitFor();
    await changes.getByText('Lowered from no limit to $10.00 (at once)').waitFor();
    assert.equal(await page.getByLabel('Your password').count(), 0, 'asked only for the raise');
    await kit.screenshot('limits');
  });

  test('a minor asks a guardian, who grants in another browser with their password', async (kit) => {
    const { page, world } = kit;
    await loggedInUser(kit, 'minor');
    const guardianContext = await world.browser.newContext({
      baseURL: world.baseUrl,
      extraHTTPHeaders: { 'x-forwarded-for': '10.253.0.1' },
    });
    try {
      const guardian = await loggedInUser(kit, 'guardian', guardianContext);
      await apiCall(world, 'PUT', '/v1/users/me/birth-date', {
        auth: guardian.token,
        body: { birthDate: '1980-05-01' },
      });
      await kit.open('/wallet/guardian/');
      await page.getByRole('button', { name: 'Declare birth date' }).waitFor();
      await checkPage(page, 'the age page');
      await page.getByLabel('Birth date', { exact: true }).fill('2014-05-01');
      await page.getByRole('button', { name: 'Declare birth date' }).click();
      await page.getByText('By the birth date you declared, you are under 19.').waitFor();
      await page.getByLabel('Your guardian\u2019s email').fill(guardian.email);
      await page.getByRole('button', { name: 'Ask for consent' }).click();
      await page.getByText('Asked: waiting for your guardian to answer.').waitFor();

      const guardianPage = await guardianContext.newPage();
      await guardianPage.goto('/wallet/guardian/');
      const requests = guardianPage.getByTestId('requests');
      await requests.getByText('asks for your consent.').waitFor();
      await guardianPage.getByRole('button', { name: 'Grant' }).click();
      await guardianPage.getByLabel('Your password').fill(password);
      await guardianPage.getByRole('button', { name: 'Confirm consent' }).click();
      await guardianPage.getByText('Consent granted.').waitFor();
      await requests.getByText('you consented.').waitFor();
      assert.deepEqual(await seriousAxeViolations(guardianPage), [], 'the guardian\u2019s page');
      await kit.screenshot('guardian', guardianPage);

      await page.reload();
      await page.getByText('Granted: your guardian consented to your payments.').waitFor();
    } finally {
      await guardianContext.close();
    }
  });

  test('a dormant account says so on the wallet and is enabled again with the password', async (kit) => {
    const { page, world } = kit;
    const { token } = await loggedInUser(kit, 'dormant');
    const wallet = await apiCall(world, 'GET', '/v1/wallet', { auth: token });
    const yearsAgo = BigInt(Date.now() - 2 * 365 * 86_400_000);
    // Two years without use, as a database that has been running that long would hold it.
    await world.platform.platformDb.db
      .updateTable('users')
      .set({ last_active_at: yearsAgo, created_at: yearsAgo })
      .where('id', '=', String(wallet.userId))
      .execute();
    await kit.open('/wallet/');
    const notice = page.getByTestId('dormant');
    await notice.getByText('Your account is dormant').waitFor();
    assert.deepEqual(await seriousAxeViolations(page), [], 'the wallet with the notice');
    await notice.getByRole('button', { name: 'Enable my account' }).click();
    await notice.getByText('Enter your password.').waitFor();
    await notice.getByLabel('Your password').fill(password);
    await notice.getByRole('button', { name: 'Enable my account' }).click();
    await page.getByTestId('reactivated').waitFor();
    await kit.open('/wallet/limits/');
    await page.getByRole('button', { name: 'Save limit' }).waitFor();
    assert.equal(await page.getByTestId('dormant').count(), 0, 'no notice once enabled');
  });

  for (const [width, viewport] of Object.entries(viewports)) {
    test(
      `at the ${width} width, the limits and age pages fit and pass axe`,
      async (kit) => {
        const { page } = kit;
        await loggedInUser(kit, `fit-${width}`);
        for (const each of [
          { path: '/wallet/limits/', ready: 'button[type="submit"]' },
          { path: '/wallet/guardian/', ready: 'button[type="submit"]' },
        ]) {
          await kit.open(each.path);
          await page.locator(each.ready).first().waitFor();
          await checkPage(page, each.path);
          await kit.screenshot(each.path);
        }
      },
      { viewport },
    );
  }
});
