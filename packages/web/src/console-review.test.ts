/**
 * The operator's review in a real browser (Chromium) against a real platform on loopback, whose
 * policy blocks purchases of 5.00 or more: a blocked purchase appears in the review list, the
 * operator confirms it as fraud freezing the user, the user's next purchase is refused as
 * frozen, and the operator lifts the freeze, after which the user buys again.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { PlatformOptions } from '@mite/server';
import {
  apiCall,
  type BrowserTestKit,
  describeInBrowser,
  overflowsWidth,
  seriousAxeViolations,
  viewports,
} from './testing/browser-harness.ts';

const password = 'correct horse battery';
const largePurchaseMicros = 5_000_000n;

/** Blocks every purchase of 5.00 or more: what the test's fraud looks like. */
const largePurchases: NonNullable<PlatformOptions['policy']> = {
  decide: (subject) =>
    subject.kind === 'purchase' && subject.amountMicros >= largePurchaseMicros
      ? { verdict: 'block', rule: 'test.large-purchase', reason: 'a purchase of 5.00 or more' }
      : { verdict: 'allow', rule: 'default', reason: 'small' },
};

/** A merchant with a small and a large offer, and a user who topped up 20.00. */
async function shop(kit: BrowserTestKit) {
  const { world } = kit;
  const merchant = await apiCall(world, 'POST', '/v1/merchants', {
    auth: world.adminKey,
    body: {
      name: `Gift Codes ${randomUUID().slice(0, 8)}`,
      feeBasisPoints: 1000,
      payoutThreshold: '10.00',
    },
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
  const offer = async (price: string) =>
    String(
      (
        await apiCall(world, 'POST', '/v1/offers', {
          auth: String(key.secret),
          body: {
            resource: `/codes/${randomUUID()}`,
            title: `A code of ${price}`,
            price,
            category: 'goods',
            accessPeriodSeconds: 0,
          },
        })
      ).id,
    );
  const [small, large] = [await offer('0.50'), await offer('5.00')];
  const email = `buyer-${randomUUID().slice(0, 8)}@example.com`;
  const signedUp = await apiCall(world, 'POST', '/v1/users', { body: { email, password } });
  const session = await apiCall(world, 'POST', '/v1/sessions', { body: { email, password } });
  const user = String(session.token);
  await apiCall(world, 'POST', '/v1/topups', {
    auth: user,
    body: {
      amount: '20.00',
      card: { number: '4242424242424242', expMonth: 12, expYear: 2039, cvc: '123' },
    },
  });
  /** The user's purchase of an offer: its status and problem. */
  const buy = async (offerId: string) => {
    const response = await fetch(`${world.baseUrl}/v1/payments`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${user}`,
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
      },
      body: JSON.stringify({ offerId }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  return { userId: String(signedUp.userId), small, large, buy };
}

/** The platform's first operator person, made once per platform as setup makes it. */
const operators = new WeakMap<object, Promise<{ email: string; password: string }>>();

async function logInOperator(kit: BrowserTestKit): Promise<void> {
  const { page, world } = kit;
  let operator = operators.get(world.platform);
  if (operator === undefined) {
    operator = world.platform.bootstrapOperator('reviewer@example.com').then((made) => {
      if (made === undefined) throw new Error('the platform has an operator already');
      return made;
    });
    operators.set(world.platform, operator);
  }
  const made = await operator;
  await kit.open('/console/login/');
  await page.getByLabel('Email').fill(made.email);
  await page.getByLabel('Password').fill(made.password);
  await Promise.all([
    page.waitForURL('**/console/'),
    page.getByRole('button', { name: 'Log in' }).click(),
  ]);
}

async function checkPage(kit: BrowserTestKit, name: string): Promise<void> {
  assert.deepEqual(await seriousAxeViolations(kit.page), [], name);
  assert.equal(await overflowsWidth(kit.page), false, `${name} scrolls sideways`);
  await kit.screenshot(name);
}

describeInBrowser(
  'operator review',
  (test) => {
    for (const [size, viewport] of Object.entries(viewports)) {
      test(
        `a blocked purchase, confirmed as fraud: the user is frozen, then lifted (${size})`,
        async (kit) => {
          const { page } = kit;
          const data = await shop(kit);
          const blocked = await data.buy(data.large);
          assert.equal(blocked.status, 403);
          const decisionId = String(blocked.body.decisionId);
          await logInOperator(kit);

          await kit.open('/console/review/');
          const row = page.getByRole('row', { name: new RegExp(decisionId) });
          await row.waitFor();
          assert.match((await row.textContent()) ?? '', /test\.large-purchase/);
          assert.match((await row.textContent()) ?? '', /\$5\.00/);
          await checkPage(kit, `${size}-review`);

          await row.getByRole('link').click();
          await page.getByTestId('reason').getByText('a purchase of 5.00 or more').waitFor();
          // Checked in the page: a note, and for fraud at least one account.
          await page.getByRole('button', { name: 'Confirm fraud' }).click();
          assert.equal(await page.getByLabel('Note').getAttribute('aria-invalid'), 'true');
          await page.getByLabel('Note').fill('A mule for a gift-card broker');
          await page.getByRole('button', { name: 'Confirm fraud' }).click();
          const freezeError = page.getByText('Check at least one account to freeze.');
          await freezeError.waitFor();
          await page.getByLabel('The user').check();
          // Checking a box answers the error: it goes at once, before any other click.
          await freezeError.waitFor({ state: 'detached' });
          await checkPage(kit, `${size}-decision`);
          await page.getByRole('button', { name: 'Confirm fraud' }).click();
          await page.getByTestId('review-state').getByText('fraud').waitFor();
          await page.getByTestId('frozen').getByText(new RegExp(data.userId)).waitFor();

          const refused = await data.buy(data.small);
          assert.equal(refused.status, 403);
          assert.equal(refused.body.rule, 'account-frozen');
          assert.match(String(refused.body.detail), /frozen.*contact support/i);

          await kit.open('/console/freezes/');
          const freeze = page.getByRole('row', { name: new RegExp(data.userId) });
          await freeze.waitFor();
          await checkPage(kit, `${size}-freezes`);
          await freeze.getByRole('button', { name: /Lift the freeze/ }).click();
          await page
            .getByRole('status')
            .getByText(/Lifted the freeze/)
            .waitFor();
          await page.getByText('No account is frozen.').waitFor();
          assert.equal((await data.buy(data.small)).status, 201, 'the user buys again');

          // The refusal as frozen is a decision of its own, in the open queue.
          await kit.open('/console/review/');
          await page
            .getByRole('row', { name: /account-frozen/ })
            .first()
            .waitFor();
        },
        { viewport },
      );
    }
  },
  { policy: largePurchases },
);
