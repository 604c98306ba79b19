/**
 * Payment sessions (issue 16) in a real browser against a real platform on loopback: a user's
 * session, opened over HTTP with a PayWord chain as a client would, shows on the wallet's
 * Sessions page with its running cost, which moves as the merchant checkpoints vouchers; Stop
 * closes it (the page shows it stopping), and after the platform's close grace it shows settled
 * for exactly the last voucher. The merchant's dashboard lists its sessions with the payer's
 * pseudonym and the amounts, filtered by state.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  issueSessionChallenge,
  paywordChain,
  sessionChallengeEcho,
  sessionRequest,
  sessionVoucherWire,
} from '@mite/protocol';
import type { Page } from 'playwright-core';
import {
  apiCall,
  type BrowserTestKit,
  type BrowserWorld,
  describeInBrowser,
  overflowsWidth,
  seriousAxeViolations,
  viewports,
} from './testing/browser-harness.ts';

const password = 'correct horse battery';
/** The platform's wait between a payer's Stop and the settlement, in these tests. */
const closeGraceMs = 1_000;
/** The stream's price: $0.0001 per second. */
const unitPriceMicros = 100n;
/** The deposit held: $0.50, which a PayWord chain of this length pays in full. */
const depositMicros = 500_000n;
const chainLength = Number(depositMicros / unitPriceMicros);
/** The merchant's challenge secret: the platform never sees it. */
const merchantSecret = new Uint8Array(randomBytes(32));

/** A shop signed up through the API: its owner's email, its id, and a key for its sessions. */
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
  const merchantId = String(me.merchantId);
  // The merchant's server's key, made by the operator (a dashboard session may not make keys).
  const key = await apiCall(world, 'POST', `/v1/merchants/${merchantId}/api-keys`, {
    auth: world.adminKey,
    body: { scopes: ['sessions:read', 'sessions:write'] },
  });
  return { email, merchantId, apiKey: String(key.secret) };
}

/** A user with $20.00 in their wallet, logged in in the test's browser: their token. */
async function listener(kit: BrowserTestKit): Promise<string> {
  const { world } = kit;
  const email = `listener-${randomUUID()}@example.com`;
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
  await kit.context.addCookies([
    { name: 'mite_session', value: token, url: world.baseUrl, httpOnly: true, secure: true },
  ]);
  return token;
}

/**
 * A session of `resource` opened by the user as a client would (a PayWord chain; a $0.50
 * deposit), and the merchant's checkpoint of a voucher for a number of seconds.
 */
async function openStream(
  world: BrowserWorld,
  merchantId: string,
  token: string,
  resource: string,
) {
  const chain = paywordChain(new Uint8Array(randomBytes(32)), chainLength);
  const challenge = issueSessionChallenge({
    secret: merchantSecret,
    realm: 'radio.example',
    expiresAtSeconds: Math.floor(Date.now() / 1000) + 300,
    request: sessionRequest({
      unitPriceMicros,
      unitType: 'second',
      minVoucherDeltaMicros: unitPriceMicros,
      idleTimeoutSeconds: 60,
      vouchers: ['payword'],
      currency: 'usd',
      recipient: merchantId,
      platform: world.baseUrl,
      resource,
    }),
  });
  const opened = await apiCall(world, 'POST', '/v1/payment-sessions', {
    auth: token,
    body: {
      challenge: sessionChallengeEcho(challenge),
      deposit: depositMicros.toString(),
      voucher: {
        kind: 'payword',
        anchor: Buffer.from(chain.anchor).toString('base64url'),
        chainLength,
      },
    },
  });
  const sessionId = String((opened.session as { id: string }).id);
  const voucherFor = (seconds: number) =>
    sessionVoucherWire({
      channelId: sessionId,
      cumulativeMicros: BigInt(seconds) * unitPriceMicros,
      proof: { kind: 'payword', word: chain.word(seconds) },
    });
  return {
    sessionId,
    checkpoint: (apiKey: string, seconds: number) =>
      apiCall(world, 'POST', `/v1/payment-sessions/${sessionId}/vouchers`, {
        auth: apiKey,
        body: voucherFor(seconds),
      }),
    merchantClose: (apiKey: string, seconds: number) =>
      apiCall(world, 'POST', `/v1/payment-sessions/${sessionId}/close`, {
        auth: apiKey,
        body: { voucher: voucherFor(seconds) },
      }),
  };
}

async function checkPage(page: Page, what: string): Promise<void> {
  assert.deepEqual(await seriousAxeViolations(page), [], what);
  assert.equal(await overflowsWidth(page), false, `${what} scrolls sideways`);
}

describeInBrowser(
  'payment sessions in the wallet and the dashboard',
  (test) => {
    test('the wallet shows a session running, stops it, and shows what it paid', async (kit) => {
      const { page, world } = kit;
      const radio = await shop(world, 'Radio Mite');
      const token = await listener(kit);
      await kit.open('/wallet/sessions/');
      await page.getByTestId('no-sessions').waitFor();
      await kit.screenshot('empty');

      const stream = await openStream(world, radio.merchantId, token, '/songs/1');
      await stream.checkpoint(radio.apiKey, 42);
      await page.reload();
      const row = page.getByTestId(`session-${stream.sessionId}`);
      await row.getByText('$0.0042 so far').waitFor();
      assert.equal((await row.getByTestId('session-state').textContent())?.trim(), 'Playing');
      await row.getByText('$0.0001 per second').waitFor();
      await row.getByText('Radio Mite').waitFor();
      await row.getByText('$0.50').waitFor();
      await checkPage(page, 'the sessions page');

      // The page reads open sessions again by itself: the running cost moves.
      await stream.checkpoint(radio.apiKey, 50);
      await row.getByText('$0.005 so far').waitFor({ timeout: 10_000 });
      await kit.screenshot('playing');

      await row.getByRole('button', { name: 'Stop /songs/1' }).click();
      await row.getByText(/Stopping — settles at \d/).waitFor();
      assert.equal(await row.getByRole('button').count(), 0, 'no Stop once stopping');
      await kit.screenshot('stopping');

      // After the grace, the platform's sweeper settles it: here, or in its background jobs
      // if they came first (then this sweep finds nothing left to do).
      await new Promise((resolve) => setTimeout(resolve, closeGraceMs + 100));
      await world.platform.services.paymentSessions.sweepDue();
      await row.getByText('Paid $0.005').waitFor({ timeout: 10_000 });
      assert.equal(
        (await row.getByTestId('session-state').textContent())?.replace(/\s+/g, ' ').trim(),
        'Settled (stopped by the payer)',
      );
      const settled = await apiCall(world, 'GET', `/v1/payment-sessions/${stream.sessionId}`, {
        auth: token,
      });
      assert.equal((settled.session as { settledAmount: string }).settledAmount, '5000');
      await kit.screenshot('settled');
    });

    test(
      'the sessions page fits a phone',
      async (kit) => {
        const { page, world } = kit;
        const radio = await shop(world, 'Pocket Radio');
        const token = await listener(kit);
        const stream = await openStream(world, radio.merchantId, token, '/songs/phone');
        await stream.checkpoint(radio.apiKey, 7);
        await kit.open('/wallet/sessions/');
        await page.getByText('$0.0007 so far').waitFor();
        await checkPage(page, 'the sessions page on a phone');
        await kit.screenshot('phone');
      },
      { viewport: viewports.phone },
    );

    test('the dashboard lists the merchant’s sessions with the amounts, by state', async (kit) => {
      const { page, world } = kit;
      const radio = await shop(world, 'Night Radio');
      const token = await listener(kit);
      const settled = await openStream(world, radio.merchantId, token, '/songs/night');
      await settled.merchantClose(radio.apiKey, 1234);
      const open = await openStream(world, radio.merchantId, token, '/songs/dawn');
      await open.checkpoint(radio.apiKey, 30);

      await kit.open('/dashboard/login/');
      await page.getByLabel('Email').fill(radio.email);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL('**/dashboard/');
      await page
        .getByRole('navigation', { name: 'Dashboard' })
        .getByRole('link', { name: 'Sessions' })
        .click();
      await page.waitForURL('**/dashboard/sessions/');

      const settledRow = page.getByTestId(`session-${settled.sessionId}`);
      await settledRow.getByTestId('session-settled').getByText('$0.1234').waitFor();
      assert.match(
        (await settledRow.getByTestId('session-accepted').textContent()) ?? '',
        /1234 seconds/,
      );
      assert.equal(
        (await settledRow.getByTestId('session-state').textContent())?.trim(),
        'Settled',
      );
      const payer =
        (await settledRow.locator('td[data-label="Payer"]').textContent())?.trim() ?? '';
      assert.ok(payer.length > 3 && payer !== '–', `a pseudonym: ${payer}`);
      const openRow = page.getByTestId(`session-${open.sessionId}`);
      await openRow.getByText('$0.003').waitFor();
      assert.equal((await openRow.getByTestId('session-settled').textContent())?.trim(), '–');
      await checkPage(page, 'the dashboard sessions screen');
      await kit.screenshot('dashboard');

      await page.getByLabel('Show').selectOption({ label: 'Settled' });
      await openRow.waitFor({ state: 'detached' });
      await settledRow.waitFor();
      await page.getByLabel('Show').selectOption({ label: 'Failed' });
      await page.getByText('No sessions in this state.').waitFor();
    });
  },
  { sessionCloseGraceMs: closeGraceMs },
);
