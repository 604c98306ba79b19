import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { PlatformDialect } from '../db/platform-db.ts';
import { forEachDialect } from '../db/testing.ts';
import { logInOperatorPerson, setUpShop, startPlatformUnderTest } from '../platform-testing.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import { verificationIntervalMinMs, verificationStaleMs } from './ledger-verifications.ts';

type Json = Record<string, unknown>;

/**
 * A platform on loopback with a shop (a merchant, a user who topped up 5.00 and bought a 0.02
 * offer, a webhook endpoint), on a clock the test moves, with no background jobs: the webhook
 * worker would otherwise try to deliver to the shop's endpoint.
 */
async function start(t: TestContext, dialect: PlatformDialect) {
  const clock = { nowMs: Date.UTC(2027, 4, 2, 12, 0, 0) };
  const env = await startPlatformUnderTest(t, dialect, {
    clock: () => clock.nowMs,
    backgroundJobs: false,
  });
  const shop = await setUpShop(env);
  const asAdmin = (method: string, path: string, body?: unknown) =>
    env.call(method, path, { auth: env.admin, ...(body === undefined ? {} : { body }) });
  const { verifications } = env.platform.services.operator;
  return { ...env, shop, clock, asAdmin, verifications };
}

const operatorGets = [
  '/v1/operator/ledger-health',
  '/v1/operator/ledger-verifications',
  '/v1/operator/merchants',
  '/v1/operator/topups',
  '/v1/operator/webhook-backlog',
  '/v1/operator/personal-data-views',
];

forEachDialect('operator console routes', (dialect, it) => {
  it('answer operators only: 401 without a credential, 403 for a merchant or a user', async (t) => {
    const { call, shop } = await start(t, dialect);
    for (const path of [...operatorGets, `/v1/operator/topups/${shop.topUpId}`]) {
      assert.equal((await call('GET', path)).status, 401, path);
      assert.equal((await call('GET', path, { auth: shop.apiKey })).status, 403, path);
      assert.equal((await call('GET', path, { auth: shop.user })).status, 403, path);
    }
    const view = {
      recordKind: 'topUp',
      recordId: shop.topUpId,
      field: 'email',
      reason: 'A dispute about this top-up',
    };
    const asUser = await call('POST', '/v1/operator/personal-data-views', {
      auth: shop.user,
      body: view,
    });
    assert.equal(asUser.status, 403);
    assert.doesNotMatch(asUser.text, /ada@/);
    const verify = await call('POST', '/v1/operator/ledger-verifications', { auth: shop.apiKey });
    assert.equal(verify.status, 403);
  });

  it('verifies the ledger in the background, one run at a time, and shows its balances', async (t) => {
    const { asAdmin, verifications, clock } = await start(t, dialect);
    const before = (await asAdmin('GET', '/v1/operator/ledger-health')).body as Json;
    assert.equal(before.lastVerification, null);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => asAdmin('POST', '/v1/operator/ledger-verifications')),
    );
    const started = answers.filter((answer) => answer.status === 202);
    assert.equal(started.length, 1, answers.map((answer) => answer.status).join(' '));
    const ids = new Set(
      answers.map((answer) => (answer.body?.verification as Json).verificationId),
    );
    assert.equal(ids.size, 1, 'every request is answered with the one run');
    await verifications.drain();
    const health = (await asAdmin('GET', '/v1/operator/ledger-health')).body as Json;
    assert.equal(health.runningVerification, null);
    const last = health.lastVerification as Json;
    assert.equal(last.state, 'done');
    assert.equal(last.ok, true);
    assert.equal(last.problemCount, 0);
    const balances = last.balances as Record<string, Json>;
    assert.deepEqual(
      Object.fromEntries(Object.entries(balances).map(([kind, sums]) => [kind, sums.balance])),
      {
        wallets: '4.98',
        merchants: '0.018',
        platformFees: '0.002',
        processorReceivable: '4.555',
        cardFees: '0.445',
        settlement: '0.00',
        tokensOutstanding: '0.00',
        unclaimedBalances: '0.00',
        sessionHolds: '0.00',
      },
    );
    assert.equal(balances.wallets?.accounts, 1);
    assert.deepEqual(health.pending, {
      payments: { count: 0, amount: '0.00', oldestAt: null },
      refunds: { count: 0, amount: '0.00', oldestAt: null },
      topUps: { count: 0, amount: '0.00', oldestAt: null },
    });
    // Within the interval after a start, a request gets that run; after it, a new one starts.
    const again = await asAdmin('POST', '/v1/operator/ledger-verifications');
    assert.equal(again.status, 200);
    assert.equal((again.body?.verification as Json).verificationId, last.verificationId);
    clock.nowMs += verificationIntervalMinMs;
    const later = await asAdmin('POST', '/v1/operator/ledger-verifications');
    assert.equal(later.status, 202);
    await verifications.drain();
    const one = await asAdmin('GET', '/v1/operator/ledger-verifications?limit=1');
    const firstPage = one.body as { items: Json[]; nextCursor: string };
    assert.equal(
      firstPage.items[0]?.verificationId,
      (later.body?.verification as Json).verificationId,
    );
    const second = await asAdmin(
      'GET',
      `/v1/operator/ledger-verifications?limit=1&cursor=${firstPage.nextCursor}`,
    );
    assert.equal(((second.body?.items as Json[])[0] as Json).verificationId, last.verificationId);
    assert.equal(second.body?.nextCursor, null);
    const byId = await asAdmin(
      'GET',
      `/v1/operator/ledger-verifications/${String(last.verificationId)}`,
    );
    assert.equal(byId.body?.state, 'done');
    assert.equal((await asAdmin('GET', '/v1/operator/ledger-verifications/lvr_none')).status, 404);
  });

  it('abandons a run a stopped node left running once it is stale', async (t) => {
    const { asAdmin, verifications, clock, platform } = await start(t, dialect);
    await platform.platformDb.db
      .insertInto('ledger_verifications')
      .values({
        id: 'lvr_left',
        state: 'running',
        running_slot: 1,
        requested_by: 'operator:gone',
        started_at: BigInt(clock.nowMs),
      })
      .execute();
    const blocked = await asAdmin('POST', '/v1/operator/ledger-verifications');
    assert.equal(blocked.status, 200);
    assert.equal((blocked.body?.verification as Json).verificationId, 'lvr_left');
    clock.nowMs += verificationStaleMs + 1;
    const fresh = await asAdmin('POST', '/v1/operator/ledger-verifications');
    assert.equal(fresh.status, 202);
    await verifications.drain();
    const left = await asAdmin('GET', '/v1/operator/ledger-verifications/lvr_left');
    assert.equal(left.body?.state, 'abandoned');
  });

  it('lists merchants a page at a time with balance and payout hold', async (t) => {
    const { asAdmin, call, shop, clock } = await start(t, dialect);
    for (const name of ['Second Shop', 'Third Shop']) {
      const made = await asAdmin('POST', '/v1/merchants', {
        name,
        feeBasisPoints: 1000,
        payoutThreshold: '10.00',
      });
      assert.equal(made.status, 201, made.text);
    }
    const bank = await call('PUT', '/v1/bank-account', {
      auth: shop.apiKey,
      body: { holderName: 'Daily News Ltd', iban: 'DE89370400440532013000', bic: 'COBADEFFXXX' },
    });
    assert.equal(bank.status, 200, bank.text);
    const seen: Json[] = [];
    let cursor: unknown = null;
    do {
      const query = cursor === null ? '' : `&cursor=${String(cursor)}`;
      const answer = await asAdmin('GET', `/v1/operator/merchants?limit=2${query}`);
      assert.equal(answer.status, 200);
      seen.push(...(answer.body?.items as Json[]));
      cursor = answer.body?.nextCursor;
    } while (cursor !== null);
    assert.equal(seen.length, 3);
    const daily = seen.find((merchant) => merchant.merchantId === shop.merchantId);
    assert.equal(daily?.balance, '0.018');
    assert.equal(daily?.state, 'payoutsHeld');
    assert.equal(daily?.bankAccount, 'held');
    assert.equal(daily?.payoutsHeldUntil, new Date(clock.nowMs + 48 * 3_600_000).toISOString());
    assert.equal(seen.filter((merchant) => merchant.bankAccount === 'none').length, 2);
    clock.nowMs += 48 * 3_600_000;
    const later = await asAdmin('GET', '/v1/operator/merchants?limit=100');
    const after = (later.body?.items as Json[]).find((m) => m.merchantId === shop.merchantId);
    assert.equal(after?.state, 'active');
    assert.equal(after?.bankAccount, 'ready');
    const bad = await asAdmin('GET', '/v1/operator/merchants?cursor=not-a-cursor');
    assert.equal(bad.status, 400);
  });

  it('lists top-ups with their card fees and shows a user email only with a logged reason', async (t) => {
    const { asAdmin, shop } = await start(t, dialect);
    const listed = await asAdmin('GET', '/v1/operator/topups');
    const items = listed.body?.items as Json[];
    assert.equal(items.length, 1);
    assert.equal(items[0]?.topUpId, shop.topUpId);
    assert.equal(items[0]?.amount, '5.00');
    assert.equal(items[0]?.cardFee, '0.445');
    assert.doesNotMatch(listed.text, /ada@|userId/);
    const detail = await asAdmin('GET', `/v1/operator/topups/${shop.topUpId}`);
    assert.equal(detail.body?.cardFee, '0.445');
    assert.doesNotMatch(detail.text, /ada@/);
    assert.equal((await asAdmin('GET', '/v1/operator/topups/top_none')).status, 404);

    const view = { recordKind: 'topUp', recordId: shop.topUpId, field: 'email' };
    const short = await asAdmin('POST', '/v1/operator/personal-data-views', {
      ...view,
      reason: 'because',
    });
    assert.equal(short.status, 400);
    const missing = await asAdmin('POST', '/v1/operator/personal-data-views', {
      ...view,
      recordId: 'top_none',
      reason: 'A dispute about this top-up',
    });
    assert.equal(missing.status, 404);
    const shown = await asAdmin('POST', '/v1/operator/personal-data-views', {
      ...view,
      reason: 'Chargeback dispute 4411 from the card processor',
    });
    assert.equal(shown.status, 201, shown.text);
    assert.equal(shown.body?.value, 'ada@example.com');
    const log = await asAdmin('GET', '/v1/operator/personal-data-views');
    const entries = log.body?.items as Json[];
    assert.equal(entries.length, 1, 'the refused and the missing views are not logged');
    assert.equal(entries[0]?.recordId, shop.topUpId);
    assert.equal(entries[0]?.field, 'email');
    assert.equal(entries[0]?.reason, 'Chargeback dispute 4411 from the card processor');
    assert.match(String(entries[0]?.operator), /^operator:/);
    assert.equal(entries[0]?.operatorEmail, null, 'an admin key is no person');
    assert.doesNotMatch(log.text, /ada@/);
  });

  it('shows the webhook backlog and the endpoints that keep failing', async (t) => {
    const { asAdmin, call, shop, platform, clock } = await start(t, dialect);
    const empty = (await asAdmin('GET', '/v1/operator/webhook-backlog')).body as Json;
    assert.equal(empty.pending, 0);
    const offer = await call('POST', '/v1/offers', {
      auth: shop.apiKey,
      body: {
        resource: '/articles/2',
        title: 'Two',
        price: '0.02',
        category: 'content',
        accessPeriodSeconds: 86400,
      },
    });
    assert.equal(offer.status, 201, offer.text);
    const paid = await call('POST', '/v1/payments', {
      auth: shop.user,
      body: { offerId: String(offer.body?.id) },
    });
    assert.equal(paid.status, 201, paid.text);
    await platform.platformDb.db
      .updateTable('webhook_deliveries')
      .set({ attempts: 3, last_status: 503, last_error: 'HTTP 503' })
      .where('endpoint_id', '=', shop.webhookEndpointId)
      .execute();
    clock.nowMs += 60_000;
    const backlog = (await asAdmin('GET', '/v1/operator/webhook-backlog')).body as Json;
    assert.equal(backlog.pending, 1);
    assert.equal(backlog.due, 1);
    const failing = backlog.failingEndpoints as Json[];
    assert.equal(failing.length, 1);
    assert.equal(failing[0]?.endpointId, shop.webhookEndpointId);
    assert.equal(failing[0]?.origin, 'https://example.com');
    assert.equal(failing[0]?.attemptsMax, 3);
    assert.equal(failing[0]?.lastStatus, 503);
  });

  it("shows a payout batch's progress by state, without bank details", async (t) => {
    const { asAdmin, call, shop, clock, platform } = await start(t, dialect);
    const bank = await call('PUT', '/v1/bank-account', {
      auth: shop.apiKey,
      body: { holderName: 'Daily News Ltd', iban: 'DE89370400440532013000', bic: 'COBADEFFXXX' },
    });
    assert.equal(bank.status, 200, bank.text);
    const merchant = await platform.platformDb.db
      .selectFrom('merchants')
      .select('account_id')
      .where('id', '=', shop.merchantId)
      .executeTakeFirstOrThrow();
    const earned = await platform.ledger.createTransfers([
      {
        id: platform.services.transferIds.next(),
        debitAccountId: platformAccountIds.processorReceivable,
        creditAccountId: BigInt(merchant.account_id),
        amount: 12_000_000n,
        ledger: ledgers.usd,
        code: transferCodes.payment,
      },
    ]);
    assert.deepEqual(earned, ['ok']);
    clock.nowMs += 48 * 3_600_000;
    const run = await asAdmin('POST', '/v1/payout-runs');
    assert.equal(run.status, 201, run.text);
    const batchId = String(run.body?.batchId);
    const progress = await asAdmin('GET', `/v1/operator/payout-batches/${batchId}/progress`);
    assert.equal(progress.status, 200);
    assert.deepEqual(progress.body, {
      batchId,
      paid: { count: 1, amount: '12.01', oldestAt: new Date(clock.nowMs).toISOString() },
      pending: { count: 0, amount: '0.00', oldestAt: null },
      failed: { count: 0, amount: '0.00', oldestAt: null },
      currency: 'USD',
    });
    assert.doesNotMatch(progress.text, /DE89|Daily News Ltd/);
    const missing = await asAdmin('GET', '/v1/operator/payout-batches/pb_none/progress');
    assert.equal(missing.status, 404);
  });

  it("takes an operator person's console session, and logs views under that person", async (t) => {
    const env = await start(t, dialect);
    const operator = await logInOperatorPerson(env);
    const asPerson = (method: string, path: string, body?: unknown) =>
      env.call(method, path, { auth: operator.token, ...(body === undefined ? {} : { body }) });
    assert.equal((await asPerson('GET', '/v1/operator/ledger-health')).status, 200);
    const verify = await asPerson('POST', '/v1/operator/ledger-verifications');
    assert.equal(verify.status, 202);
    assert.equal((verify.body?.verification as Json).requestedBy, `operator:${operator.userId}`);
    await env.verifications.drain();
    const shown = await asPerson('POST', '/v1/operator/personal-data-views', {
      recordKind: 'topUp',
      recordId: env.shop.topUpId,
      field: 'email',
      reason: 'Support request 12 about a missing top-up',
    });
    assert.equal(shown.status, 201);
    const log = await env.asAdmin('GET', '/v1/operator/personal-data-views');
    const entry = (log.body?.items as Json[])[0] as Json;
    assert.equal(entry.operator, `operator:${operator.userId}`);
    assert.equal(entry.operatorEmail, operator.email);
  });
});
