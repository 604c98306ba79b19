/**
 * The wallet's "Your data" page in a real browser (Chromium) against a real platform on
 * loopback: it is reached from the wallet's navigation, shows the platform's retention periods
 * (the purchase details' period as the platform is configured), and its two buttons download
 * the user's export as JSON and as a zip of CSV files; the page's accessibility and fit on a
 * phone.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Download, Page } from 'playwright-core';
import {
  apiCall,
  type BrowserTestKit,
  describeInBrowser,
  overflowsWidth,
  seriousAxeViolations,
  viewports,
} from './testing/browser-harness.ts';

const password = 'correct horse battery';
let users = 0;

/** A user who topped up and bought an article, logged in in the test's browser context. */
async function userWithAPurchase(
  kit: BrowserTestKit,
): Promise<{ email: string; paymentId: string }> {
  const { world } = kit;
  const email = `data${++users}-${process.pid}@example.com`;
  await apiCall(world, 'POST', '/v1/users', { body: { email, password } });
  const session = await apiCall(world, 'POST', '/v1/sessions', { body: { email, password } });
  const token = String(session.token);
  await kit.context.addCookies([
    { name: 'mite_session', value: token, url: world.baseUrl, httpOnly: true, secure: true },
  ]);
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
      resource: '/articles/mites',
      title: 'Mites in the machine',
      price: '0.25',
      category: 'content',
      accessPeriodSeconds: 86_400,
    },
  });
  const paid = await apiCall(world, 'POST', '/v1/payments', {
    auth: token,
    body: { offerId: String(offer.id) },
  });
  return { email, paymentId: String(paid.paymentId) };
}

async function downloadOf(
  page: Page,
  label: string,
): Promise<{ download: Download; bytes: Buffer }> {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: label }).click(),
  ]);
  const file = await download.path();
  return { download, bytes: await readFile(file) };
}

describeInBrowser('wallet: your data', (test) => {
  test('shows what is kept and for how long, and downloads everything as JSON and CSV', async (kit) => {
    const { page } = kit;
    const { email } = await userWithAPurchase(kit);
    await kit.open('/wallet/');
    await Promise.all([
      page.waitForURL('**/wallet/data/'),
      page.getByRole('link', { name: 'Your data' }).click(),
    ]);
    const table = page.getByRole('table', { name: 'What is kept, and for how long' });
    await table.waitFor();
    const purchaseDetails = page.locator('tr[data-key="purchaseDetails"]');
    assert.match(
      (await purchaseDetails.innerText()).replace(/\s+/g, ' '),
      /What each purchase was for.*90 days.*daily totals/,
    );
    assert.match(
      await page.locator('tr[data-key="money"]').innerText(),
      /While your account exists/,
    );
    assert.match(await page.locator('main').innerText(), new RegExp(email.replace(/\./g, '\\.')));

    const json = await downloadOf(page, 'Download JSON');
    assert.match(json.download.suggestedFilename(), /^mite-export-\d{4}-\d\d-\d\d\.json$/);
    const exported = JSON.parse(json.bytes.toString('utf8')) as {
      sections: Record<string, Record<string, unknown>[]>;
    };
    assert.equal(exported.sections.users?.[0]?.email, email);
    assert.deepEqual(
      exported.sections.payments?.map((payment) => [payment.resource, payment.amount]),
      [['/articles/mites', '0.25']],
    );

    const csv = await downloadOf(page, 'Download CSV');
    assert.match(csv.download.suggestedFilename(), /^mite-export-\d{4}-\d\d-\d\d\.zip$/);
    assert.equal(csv.bytes.subarray(0, 4).toString('latin1'), 'PK\u0003\u0004', 'a zip');
    // A zip stores its files' names as they are: every section has its file.
    for (const name of ['README.txt', 'users.csv', 'payments.csv', 'wallet_movements.csv']) {
      assert.ok(csv.bytes.includes(Buffer.from(name)), `${name} in the zip`);
    }
    await kit.screenshot('your-data');
    assert.deepEqual(await seriousAxeViolations(page), []);
  });

  test('fits a phone and sends a visitor without a session to log in', async (kit) => {
    const { page } = kit;
    await kit.open('/wallet/data/');
    await page.waitForURL('**/wallet/login/');
    await userWithAPurchase(kit);
    await page.setViewportSize(viewports.phone);
    await kit.open('/wallet/data/');
    await page.getByRole('table', { name: 'What is kept, and for how long' }).waitFor();
    assert.equal(await overflowsWidth(page), false, 'the page scrolls sideways on a phone');
    assert.deepEqual(await seriousAxeViolations(page), []);
  });

  test('a purchase past its retention shows as no longer kept, in the history and on its receipt page', async (kit) => {
    const { page, world } = kit;
    const { paymentId } = await userWithAPurchase(kit);
    // What the compaction job does to a purchase past its retention (its own tests run it on a
    // clock they move; this platform's clock is the real one).
    await world.platform.platformDb.db
      .updateTable('payments')
      .set({ offer_id: null, resource: null, details_erased_at: BigInt(Date.now()) })
      .where('id', '=', paymentId)
      .execute();
    await kit.open('/wallet/');
    const row = page
      .getByRole('table', { name: 'Purchases' })
      .getByRole('row')
      .filter({ hasText: 'The Daily Mite' });
    await row.waitFor();
    assert.match(await row.innerText(), /No longer kept/);
    assert.doesNotMatch(await row.innerText(), /Mites in the machine/);
    await Promise.all([
      page.waitForURL(`**/wallet/receipt/?payment=${paymentId}`),
      page.getByRole('link', { name: 'Receipt for this purchase' }).click(),
    ]);
    const notice = page.getByTestId('no-receipt');
    await notice.waitFor();
    assert.match(
      (await notice.innerText()).replace(/\s+/g, ' '),
      /^This purchase from The Daily Mite no longer has a receipt: .* retention period has passed/,
    );
    assert.equal(
      await notice.getByRole('link', { name: 'Your data' }).getAttribute('href'),
      '/wallet/data/',
    );
  });
});
