/**
 * The merchant dashboard's payouts, API keys, webhooks and fees screens in a real browser
 * (Chromium) against a real platform on loopback: a merchant person logged in issues and revokes
 * a key, adds a webhook endpoint and sees its delivery after a sale, sets the bank account and
 * sees the payout of an operator's payout run, and reads the fee report; every screen checked by
 * axe, at 375 px and on a desktop.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import {
  apiCall,
  type BrowserTestKit,
  type BrowserWorld,
  describeInBrowser,
  overflowsWidth,
  assertLoadedFast,
  seriousAxeViolations,
  tabTo,
  viewports,
} from './testing/browser-harness.ts';

const password = 'correct horse battery';
let people = 0;

interface Merchant {
  readonly merchantId: string;
  readonly offerId: string;
}

/**
 * A merchant signed up by its person (its owner, on the sign-up terms: a 5% fee, payouts from
 * 10.00), who is logged in in the test's browser (the dashboard's session cookie), with an offer
 * of 12.00 published by an operator's key for it.
 */
async function loggedInMerchant(kit: BrowserTestKit): Promise<Merchant> {
  const { world } = kit;
  const email = `merchant${++people}-${process.pid}@example.com`;
  const signedUp = await apiCall(world, 'POST', '/v1/merchant-signups', {
    body: { email, password, merchantName: `Shop ${people}` },
  });
  const merchantId = String(signedUp.merchantId);
  const session = await apiCall(world, 'POST', '/v1/merchant-sessions', {
    body: { email, password },
  });
  await kit.context.addCookies([
    {
      name: 'mite_merchant_session',
      value: String(session.token),
      url: world.baseUrl,
      httpOnly: true,
      secure: true,
    },
  ]);
  const key = await apiCall(world, 'POST', `/v1/merchants/${merchantId}/api-keys`, {
    auth: world.adminKey,
    body: { scopes: ['offers:write'] },
  });
  const offer = await apiCall(world, 'POST', '/v1/offers', {
    auth: String(key.secret),
    body: {
      resource: `/articles/${randomUUID()}`,
      title: 'Mites in the machine',
      price: '12.00',
      category: 'content',
      accessPeriodSeconds: 0,
    },
  });
  return { merchantId, offerId: String(offer.id) };
}

/** A buyer who tops up by card and buys the offer: one sale. */
async function sale(world: BrowserWorld, offerId: string): Promise<void> {
  const email = `buyer${++people}-${process.pid}@example.com`;
  await apiCall(world, 'POST', '/v1/users', { body: { email, password } });
  const session = await apiCall(world, 'POST', '/v1/sessions', { body: { email, password } });
  const token = String(session.token);
  await apiCall(world, 'POST', '/v1/topups', {
    auth: token,
    body: {
      amount: '20.00',
      card: { number: '4242424242424242', expMonth: 12, expYear: 2039, cvc: '123' },
    },
  });
  await apiCall(world, 'POST', '/v1/payments', { auth: token, body: { offerId } });
}

/** No serious accessibility violation, and no sideways scroll at 375 px; a screenshot of both. */
async function checkScreen(kit: BrowserTestKit, name: string): Promise<void> {
  const { page } = kit;
  await assertLoadedFast(page, name);
  assert.deepEqual(await seriousAxeViolations(page), [], `${name}: accessibility`);
  await kit.screenshot(`${name}-desktop`);
  await page.setViewportSize(viewports.phone);
  assert.equal(await overflowsWidth(page), false, `${name} fits 375 px`);
  await kit.screenshot(`${name}-phone`);
  await page.setViewportSize(viewports.desktop);
}

/** Accepts the next confirmation the page asks for. */
function acceptNextConfirm(page: Page): void {
  page.once('dialog', (dialog) => void dialog.accept());
}

/** A webhook receiver on loopback answering 200; `first` settles once a webhook arrived. */
async function startReceiver() {
  let arrived: () => void = () => {};
  const first = new Promise<void>((resolve) => (arrived = resolve));
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200).end('thanks', arrived);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    first,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describeInBrowser(
  'merchant dashboard screens',
  (test) => {
    test('a merchant issues an API key, sees it once, then only its prefix, and revokes it', async (kit) => {
      const { page, world } = kit;
      await loggedInMerchant(kit);
      await kit.open('/dashboard/keys/');
      await page.getByRole('heading', { name: 'Your keys' }).waitFor();
      await page.getByRole('button', { name: 'Create key' }).click();
      await page.getByText('Choose at least one scope').waitFor();

      // With the keyboard alone: the focus is on the first scope after the refusal.
      assert.equal(await page.evaluate('document.activeElement.name'), 'offers:read');
      await page.keyboard.press('Space');
      await tabTo(page, 'button[type="submit"]');
      await page.keyboard.press('Enter');
      const secret = (await page.getByTestId('secret').textContent())?.trim() ?? '';
      assert.match(secret, /^mite_k_/);
      const usable = await fetch(`${world.baseUrl}/v1/api-keys`, {
        headers: { authorization: `Bearer ${secret}` },
      });
      assert.equal(usable.status, 403, 'the key works, within its scope only');
      await checkScreen(kit, 'keys');

      await page.getByRole('button', { name: /I have saved it/ }).click();
      await kit.open('/dashboard/keys/');
      const keys = page.getByTestId('keys');
      await keys.waitFor();
      assert.doesNotMatch((await page.content()) ?? '', new RegExp(secret), 'never shown again');
      const listed = await keys
        .locator('tr[data-key-id]')
        .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-key-id') ?? ''));
      const keyId = listed.find((id) => secret.startsWith(`mite_k_${id}_`)) ?? '';
      assert.notEqual(keyId, '', 'the new key is listed');
      await keys.locator('code', { hasText: `mite_k_${keyId}_…` }).waitFor();

      acceptNextConfirm(page);
      await page.getByRole('button', { name: `Revoke mite_k_${keyId}_…` }).click();
      await page.getByText(`Revoked mite_k_${keyId}_…: it no longer works.`).waitFor();
      const refused = await fetch(`${world.baseUrl}/v1/merchants/x/offers`, {
        headers: { authorization: `Bearer ${secret}` },
      });
      assert.equal(refused.status, 401, 'a revoked key stops working');
    });

    test('a merchant adds a webhook endpoint and sees the delivery of a sale', async (kit) => {
      const { page, world } = kit;
      const merchant = await loggedInMerchant(kit);
      const receiver = await startReceiver();
      try {
        await kit.open('/dashboard/webhooks/');
        await page.getByLabel('Endpoint URL').fill('not a url');
        await page.getByRole('button', { name: 'Add endpoint' }).click();
        await page.getByText('Enter the full URL, starting with https://.').waitFor();
        assert.equal(await page.evaluate('document.activeElement.id'), 'url');

        await page.getByLabel('Endpoint URL').fill(receiver.url);
        await page.getByRole('checkbox', { name: /A purchase succeeded/ }).check();
        await page.getByRole('button', { name: 'Add endpoint' }).click();
        assert.match((await page.getByTestId('secret').textContent()) ?? '', /whsec_/);
        await page.getByRole('heading', { name: receiver.url }).waitFor();

        await sale(world, merchant.offerId);
        await receiver.first;
        const attempts = page.getByTestId('attempts');
        // The attempt is recorded once the receiver's answer is in: ask until it is listed.
        for (let tries = 0; !(await attempts.isVisible()); tries++) {
          assert.ok(tries < 20, 'the delivery attempt is listed');
          await page.getByRole('button', { name: `delivery attempts to ${receiver.url}` }).click();
          await page
            .getByText(/No delivery attempts yet|payment\.succeeded/)
            .first()
            .waitFor();
        }
        assert.match((await attempts.textContent()) ?? '', /payment\.succeeded[\s\S]*HTTP 200/);
        await page.getByRole('button', { name: /^Send again/ }).click();
        await page.getByText(/queued again for 1 endpoint/).waitFor();
        await checkScreen(kit, 'webhooks');
      } finally {
        await receiver.close();
      }
    });

    test('a merchant sets its bank account and sees the payout of a payout run, and its fees', async (kit) => {
      const { page, world } = kit;
      const merchant = await loggedInMerchant(kit);
      await kit.open('/dashboard/payouts/');
      await page.getByText('No bank account is set').waitFor();
      await page.getByLabel('Account holder').fill('Shop & Sons');
      await page.getByLabel('IBAN').fill('DE89 3704 0044 0532 0130 01');
      await page.getByLabel('BIC').fill('COBADEFF');
      await page.getByRole('button', { name: 'Save bank account' }).click();
      await page.getByText('This is not an IBAN').waitFor();
      await page.getByLabel('IBAN').fill('DE89 3704 0044 0532 0130 00');
      await page.getByRole('button', { name: 'Save bank account' }).click();
      await page.getByText(/^\s*Saved\. Payouts to this account start after/).waitFor();
      assert.match((await page.getByTestId('bank-account').textContent()) ?? '', /3000/);
      assert.doesNotMatch((await page.getByTestId('bank-account').textContent()) ?? '', /0532/);

      await sale(world, merchant.offerId);
      const run = await apiCall(world, 'POST', '/v1/payout-runs', { auth: world.adminKey });
      assert.ok(run.batchId, JSON.stringify(run));
      await kit.open('/dashboard/payouts/');
      const payouts = page.getByTestId('payouts');
      await payouts.waitFor();
      const row = (await payouts.textContent()) ?? '';
      assert.match(row, /\$11\.40/);
      assert.match(row, new RegExp(String(run.batchId)));
      assert.match(row, /Mite payout po_\w+” to the account ending in\s+3000/);
      assert.match(row, /Matches the ledger/);
      await checkScreen(kit, 'payouts');

      await kit.open('/dashboard/fees/');
      await page.getByTestId('fee-report').waitFor();
      // 12.00 sold: one card charge would have cost 2.9% of it and 0.30, 0.648.
      await page.getByTestId('card-fees').getByText('$0.648').waitFor();
      await page.getByLabel('From (UTC day)').fill('2027-02-01');
      await page.getByLabel('To (UTC day, included)').fill('2027-01-01');
      await page.getByRole('button', { name: 'Show fees' }).click();
      await page.getByText('Choose a day after the first.').waitFor();
      await checkScreen(kit, 'fees');
    });
  },
  { env: { MITE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: '1', MITE_BANK_CHANGE_HOLD_HOURS: '0' } },
);
