/**
 * The merchant dashboard's list of codes reported redeemed, in a real browser against a real
 * platform: a gift-card shop (classed resellable by the operator) whose owner reported two of its
 * codes redeemed, one by another customer and one outside Mite, sees both on the payments screen,
 * newest first; a shop that reported none sees no such list.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  apiCall,
  type BrowserTestKit,
  type BrowserWorld,
  describeInBrowser,
  seriousAxeViolations,
} from './testing/browser-harness.ts';

const password = 'correct horse battery';

/** A person with a funded wallet: their session token. */
async function buyer(world: BrowserWorld, name: string): Promise<string> {
  const email = `${name}-${randomUUID()}@example.com`;
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
  return token;
}

/** A shop signed up through the API, its owner's API session and its id. */
async function shop(world: BrowserWorld, name: string) {
  const email = `owner-${randomUUID()}@example.com`;
  await apiCall(world, 'POST', '/v1/merchant-signups', {
    body: { email, password, merchantName: name },
  });
  const session = await apiCall(world, 'POST', '/v1/merchant-sessions', {
    body: { email, password },
  });
  const owner = String(session.token);
  const me = await apiCall(world, 'GET', '/v1/merchant-session', { auth: owner });
  return { email, owner, merchantId: String(me.merchantId) };
}

async function logIn(kit: BrowserTestKit, email: string): Promise<void> {
  const { page } = kit;
  await kit.open('/dashboard/login/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/dashboard/');
}

describeInBrowser('merchant dashboard: codes redeemed', (test) => {
  test('a gift-card shop sees the codes it reported redeemed, newest first', async (kit) => {
    const { page, world } = kit;
    const gifts = await shop(world, 'Gift Cards Ltd');
    // The operator classes it as selling codes (an idempotent PUT: its own key).
    const classed = await fetch(
      `${world.baseUrl}/v1/merchants/${gifts.merchantId}/spending-class`,
      {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${world.adminKey}`,
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
        },
        body: JSON.stringify({ category: 'goods', resellable: true }),
      },
    );
    assert.equal(classed.status, 200, await classed.text());
    const offer = await apiCall(world, 'POST', '/v1/offers', {
      auth: gifts.owner,
      body: {
        resource: '/gift-card',
        title: 'Gift card',
        price: '5.00',
        category: 'goods',
        accessPeriodSeconds: 0,
      },
    });
    const mule = await buyer(world, 'mule');
    const broker = await buyer(world, 'broker');
    const pay = async (token: string) =>
      String(
        (await apiCall(world, 'POST', '/v1/payments', { auth: token, body: { offerId: offer.id } }))
          .paymentId,
      );
    const first = await pay(mule);
    const second = await pay(mule);
    const brokerPayment = await pay(broker);
    const brokerHere = String(
      (await apiCall(world, 'GET', `/v1/payments/${brokerPayment}`, { auth: gifts.owner })).payer,
    );
    const report = (body: object) =>
      apiCall(world, 'POST', `/v1/merchants/${gifts.merchantId}/redemptions`, {
        auth: gifts.owner,
        body,
      });
    await report({ paymentId: first, redeemer: brokerHere });
    await report({ paymentId: second });

    await logIn(kit, gifts.email);
    await kit.open('/dashboard/payments/');
    const rows = page.getByTestId('redemptions').locator('tbody tr');
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    assert.match(
      (await rows.nth(0).textContent()) ?? '',
      new RegExp(`${second}[\\s\\S]*outside Mite`),
    );
    assert.match(
      (await rows.nth(1).textContent()) ?? '',
      new RegExp(`${first}[\\s\\S]*Another customer[\\s\\S]*${brokerHere}`),
    );
    assert.deepEqual(await seriousAxeViolations(page), []);
    await kit.screenshot('codes-redeemed');

    // A shop that reported no code shows no such list.
    const news = await shop(world, 'Daily News');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL('**/dashboard/login/');
    await logIn(kit, news.email);
    const listed = page.waitForResponse((response) => response.url().includes('/redemptions'));
    await kit.open('/dashboard/payments/');
    assert.equal((await listed).status(), 200);
    await page.getByText('No payments yet.').waitFor();
    assert.equal(await page.getByTestId('redemptions').count(), 0);
  });
});
