/**
 * "Delete my account" in the wallet, in a real browser (Chromium) against a real platform on
 * loopback: the checks before sending, a wrong password, the refusal while the wallet holds
 * money, then the erasure, after which the session and the password open nothing; the page's
 * accessibility, load time and fit on a phone; the operator console then shows the top-up as an
 * erased user's, with no card digits and no email to reveal.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  apiCall,
  assertLoadedFast,
  describeInBrowser,
  overflowsWidth,
  seriousAxeViolations,
  viewports,
} from './testing/browser-harness.ts';

const password = 'correct horse battery';

describeInBrowser('wallet account erasure', (test) => {
  test('deletes the account once the password is confirmed and the balance spent', async (kit) => {
    const { page, world } = kit;
    const email = `erase-${process.pid}@example.com`;
    await apiCall(world, 'POST', '/v1/users', { body: { email, password } });
    const session = await apiCall(world, 'POST', '/v1/sessions', { body: { email, password } });
    const token = String(session.token);
    await kit.context.addCookies([
      { name: 'mite_session', value: token, url: world.baseUrl, httpOnly: true, secure: true },
    ]);
    const topUp = await apiCall(world, 'POST', '/v1/topups', {
      auth: token,
      body: {
        amount: '1.00',
        card: { number: '4242424242424242', expMonth: 12, expYear: 2039, cvc: '123' },
      },
    });

    await kit.open('/wallet/account/');
    await page.getByTestId('account-email').getByText(email).waitFor();
    await assertLoadedFast(page, 'the account page');
    assert.deepEqual(await seriousAxeViolations(page), []);
    const remove = page.getByRole('button', { name: 'Delete my account' });

    // Nothing is sent until both the password and the confirmation are given.
    const sent: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST') sent.push(request.url());
    });
    await remove.click();
    await page.getByText('Enter your password.').waitFor();
    await page.getByText('Tick the box to confirm.').waitFor();
    assert.deepEqual(sent, []);

    await page.getByLabel('Your password').fill('not my password');
    await page.getByLabel('I understand that my account is deleted for good.').check();
    await remove.click();
    await page.getByText('The password is wrong.').waitFor();

    // The wallet still holds 1.00: the platform refuses, and the page says why.
    await page.getByLabel('Your password').fill(password);
    await remove.click();
    await page.getByRole('alert').getByText('The wallet still holds money').waitFor();

    // Spent, the account can go.
    const merchant = await apiCall(world, 'POST', '/v1/merchants', {
      auth: world.adminKey,
      body: { name: 'The Erasure Times', feeBasisPoints: 1000, payoutThreshold: '10.00' },
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
        resource: `/items/${randomUUID()}`,
        title: 'Everything',
        price: '1.00',
        category: 'content',
        accessPeriodSeconds: 86_400,
      },
    });
    await apiCall(world, 'POST', '/v1/payments', {
      auth: token,
      body: { offerId: String(offer.id) },
    });
    await remove.click();
    await page.getByTestId('erased').waitFor();
    await page.getByRole('heading', { name: 'Your account was deleted' }).waitFor();
    assert.deepEqual(await seriousAxeViolations(page), []);

    const wallet = await fetch(`${world.baseUrl}/v1/wallet`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(wallet.status, 401);
    const logIn = await fetch(`${world.baseUrl}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.200.0.1' },
      body: JSON.stringify({ email, password }),
    });
    assert.equal(logIn.status, 401);

    // The operator console: the top-up is an erased user's, with nothing personal left.
    const operator = await world.platform.bootstrapOperator('operator@example.com');
    assert.ok(operator);
    await kit.open('/console/login/');
    await page.getByLabel('Email').fill(operator.email);
    await page.getByLabel('Password').fill(operator.password);
    await Promise.all([
      page.waitForURL('**/console/'),
      page.getByRole('button', { name: 'Log in' }).click(),
    ]);
    await kit.open(`/console/topup/?topup=${String(topUp.id)}`);
    await page.getByTestId('user-erased').waitFor();
    assert.match((await page.getByTestId('topup').textContent()) ?? '', /erased/);
    assert.equal(await page.getByLabel("Why you need the user's email").count(), 0);
    assert.deepEqual(await seriousAxeViolations(page), []);
  });

  test(
    'fits a phone',
    async (kit) => {
      const { page, world } = kit;
      const email = `erase-phone-${process.pid}@example.com`;
      await apiCall(world, 'POST', '/v1/users', { body: { email, password } });
      const session = await apiCall(world, 'POST', '/v1/sessions', { body: { email, password } });
      await kit.context.addCookies([
        {
          name: 'mite_session',
          value: String(session.token),
          url: world.baseUrl,
          httpOnly: true,
          secure: true,
        },
      ]);
      await kit.open('/wallet/account/');
      await page.getByRole('button', { name: 'Delete my account' }).waitFor();
      assert.equal(await overflowsWidth(page), false);
    },
    { viewport: viewports.phone },
  );
});
