/**
 * The wallet's Consents page in a real browser (Chromium) against a real platform on loopback:
 * each consent granted and revoked with one click, shown with its time and text version, kept in
 * the history, and its enforcement seen at once (the suggestions appear and go; the merchant's
 * view of the customer gains and loses the email).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import {
  apiCall,
  type BrowserTestKit,
  describeInBrowser,
  seriousAxeViolations,
} from './testing/browser-harness.ts';

const password = 'correct horse battery';
let users = 0;

/**
 * A logged-in user who bought one offer of a merchant that sells another; the merchant's key
 * reads customers.
 */
async function customer(kit: BrowserTestKit) {
  const { world } = kit;
  const email = `consents${++users}-${process.pid}@example.com`;
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
  const merchantName = `Shop ${users}`;
  const merchant = await apiCall(world, 'POST', '/v1/merchants', {
    auth: world.adminKey,
    body: { name: merchantName, feeBasisPoints: 1000, payoutThreshold: '10.00' },
  });
  const merchantId = String(merchant.merchantId);
  const key = await apiCall(world, 'POST', `/v1/merchants/${merchantId}/api-keys`, {
    auth: world.adminKey,
    body: { scopes: ['offers:write', 'customers:read', 'payments:read'] },
  });
  const merchantKey = String(key.secret);
  const offer = async (title: string) =>
    apiCall(world, 'POST', '/v1/offers', {
      auth: merchantKey,
      body: {
        resource: `/items/${randomUUID()}`,
        title,
        price: '0.10',
        category: 'goods',
        accessPeriodSeconds: 0,
      },
    });
  const bought = await offer('A bought thing');
  await offer('Another thing');
  const paid = await apiCall(world, 'POST', '/v1/payments', {
    auth: token,
    body: { offerId: String(bought.id) },
  });
  const payment = await apiCall(world, 'GET', `/v1/payments/${String(paid.paymentId)}`, {
    auth: merchantKey,
  });
  const customerPath = `/v1/merchants/${merchantId}/customers/${String(payment.payer)}`;
  const merchantSees = async () =>
    (await apiCall(world, 'GET', customerPath, { auth: merchantKey })).email;
  return { email, merchantId, merchantName, merchantSees };
}

async function status(page: Page, testId: string): Promise<string> {
  const text = await page.getByTestId(testId).getByTestId('consent-status').textContent();
  return (text ?? '').replace(/\s+/g, ' ').trim();
}

describeInBrowser('wallet consents', (test) => {
  test('each consent is turned on and off with one click, and its use follows at once', async (kit) => {
    const { page } = kit;
    const { email, merchantId, merchantName, merchantSees } = await customer(kit);
    await kit.open('/wallet/consents/');
    await page.getByRole('heading', { name: 'Your consents' }).waitFor();
    await page.getByText('Suggestions are off: your purchases are not used for them.').waitFor();
    assert.equal(await status(page, 'suggestions:all'), 'Off for personalised suggestions.');
    assert.equal(await merchantSees(), null);
    assert.deepEqual(await seriousAxeViolations(page), [], 'the consents page');

    const suggestions = page.getByTestId('suggestions:all');
    await suggestions.getByRole('button', { name: 'Turn on' }).click();
    await suggestions.getByRole('button', { name: 'Turn off' }).waitFor();
    assert.match(
      await status(page, 'suggestions:all'),
      /^On for personalised suggestions since .+ \(text suggestions-2026-12-07\)\.$/,
    );
    await page.getByText(`Another thing, from ${merchantName}: $0.10`).waitFor();

    const sharing = page.getByTestId(`shareEmail:${merchantId}`);
    assert.equal(await status(page, `shareEmail:${merchantId}`), `Off for ${merchantName}.`);
    await sharing.getByRole('button', { name: 'Turn on' }).click();
    await sharing.getByRole('button', { name: 'Turn off' }).waitFor();
    assert.equal(await merchantSees(), email, 'the merchant sees the email once shared');
    await kit.screenshot('consents-on');

    await suggestions.getByRole('button', { name: 'Turn off' }).click();
    await page.getByText('Suggestions are off: your purchases are not used for them.').waitFor();
    await sharing.getByRole('button', { name: 'Turn off' }).click();
    await sharing.getByRole('button', { name: 'Turn on' }).waitFor();
    assert.equal(await merchantSees(), null, 'and no longer once the sharing is turned off');

    const history = (await page.getByTestId('consent-history').innerText()).replace(/\s+/g, ' ');
    assert.match(
      history,
      new RegExp(
        `Email shared ${merchantName} .+ \\(text shareEmail-2026-12-07\\) .+ \\(text shareEmail-2026-12-07\\)`,
      ),
    );
    assert.match(
      history,
      /Suggestions Your whole wallet .+ \(text suggestions-2026-12-07\) .+ \(text suggestions-2026-12-07\)/,
    );
    await kit.screenshot('consents-history');
  });
});
