import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { KyselyPlugin } from 'kysely';
import type { Ledger } from '@mite/ledger';
import { Webhook } from 'standardwebhooks';
import type { PlatformDb } from '../db/platform-db.ts';
import type { PlatformDialect } from '../db/platform-db.ts';
import { forEachDialect } from '../db/testing.ts';
import { platformAccountIds } from '../ledger/chart-of-accounts.ts';
import { platformFor } from '../platform-testing.ts';
import { createSandboxProvider, sandboxCards, sandboxFeeDefaults } from './sandbox-provider.ts';
import {
  createTopUpService,
  topUpMicrosMax,
  topUpMicrosMin,
  topUpPendingGraceMs,
  type TopUpService,
} from './topup-service.ts';
import { openPolicyGate } from '../policy/policy-decisions.ts';
import { looksEncrypted } from '../privacy/personal-data-cipher.ts';

type Dialect = PlatformDialect;
interface Message {
  readonly headers: Record<string, string>;
  readonly body: string;
}

const startMs = 1_800_000_000_000;
const card = (number: string, expYear = 2099) => ({
  kind: 'card' as const,
  card: { number, expMonth: 12, expYear, cvc: '123' },
});

/**
 * Routes the sandbox's webhooks to the service, as a running server would. Gated ones wait for
 * `open()`, so that a test sees the state before the webhook however slow the machine. Set up
 * before the databases open, its teardown runs before they close (after-hooks run in order): no
 * handler is left running against a closed database.
 */
function webhookRoute(t: TestContext, options: { deliver: boolean; gated: boolean }) {
  const messages: Message[] = [];
  const handled: Promise<unknown>[] = [];
  const running = new Set<Promise<unknown>>();
  let service: TopUpService | undefined;
  let closed = false;
  let open = () => {};
  const gate = options.gated ? new Promise<void>((resolve) => (open = resolve)) : Promise.resolve();
  t.after(async () => {
    closed = true;
    await Promise.allSettled([...running]);
  });
  const run = (headers: Record<string, string>, body: string) => {
    if (closed || service === undefined) return undefined;
    const handling = service.handleProviderWebhook(headers, Buffer.from(body));
    running.add(handling);
    return handling.finally(() => running.delete(handling));
  };
  /** Whoever waits for a number of webhooks, woken when that many have come. */
  const waiting: { count: number; wake: () => void }[] = [];
  const deliver = async (headers: Record<string, string>, body: string) => {
    messages.push({ headers, body });
    if (options.deliver) handled.push(gate.then(() => run(headers, body)));
    for (const waiter of waiting.filter((w) => messages.length >= w.count)) {
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.wake();
    }
  };
  /**
   * Waits (on the sandbox's sending, not on time) until it has sent `count` webhooks and the
   * service has handled them. Should fewer come, the test runner's timeout names the test.
   */
  const webhooks = async (count: number) => {
    if (messages.length < count) {
      await new Promise<void>((wake) => waiting.push({ count, wake }));
    }
    await Promise.all(handled);
    return messages;
  };
  const routeTo = (target: TopUpService) => {
    service = target;
  };
  return { deliver, webhooks, open: () => open(), routeTo };
}

/**
 * A platform as `mite serve` builds it (on PostgreSQL, the ledger shares its database), on a clock
 * the test moves, with no background jobs, and one user. Its top-up service is a variant over the
 * platform's stores whose sandbox processor sends its webhooks through `webhookRoute`, so that
 * the test sees them and says when they arrive, and whose ledger a test may wrap to crash.
 */
async function world(
  t: TestContext,
  dialect: Dialect,
  options: { deliver?: boolean; gated?: boolean; wrapLedger?: (ledger: Ledger) => Ledger } = {},
) {
  const route = webhookRoute(t, {
    deliver: options.deliver === true,
    gated: options.gated === true,
  });
  const clock = { nowMs: startMs };
  const {
    platformDb: platform,
    ledger,
    services,
  } = await platformFor(t, dialect, { clock: () => clock.nowMs, backgroundJobs: false });
  const { users, transferIds } = services;
  const deps = {
    platform,
    ledger,
    clock: services.clock,
    batcher: services.batcher,
    keyring: services.keyring,
  };
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const provider = createSandboxProvider({
    ...sandboxFeeDefaults,
    webhookSecret,
    cardTokenKey: randomBytes(32),
    // Sent on the next turn of the event loop: the tests wait for the webhook, not for time.
    confirmDelayMs: 0,
    deliverWebhook: route.deliver,
  });
  const serviceLedger = options.wrapLedger?.(ledger) ?? ledger;
  const topUps = createTopUpService({
    ...deps,
    ledger: serviceLedger,
    provider,
    transferIds,
    policy: openPolicyGate,
  });
  route.routeTo(topUps);
  const signedUp = await users.signUp({ email: 'ada@example.com', password: 'a long passphrase' });
  assert.ok(signedUp.ok);
  const profile = await users.profile(signedUp.value.userId);
  assert.ok(profile);
  const balances = async () => ({
    wallet: await balanceOf(ledger, profile.walletAccountId),
    receivable: await balanceOf(ledger, platformAccountIds.processorReceivable),
    cardFees: await balanceOf(ledger, platformAccountIds.cardFees),
  });
  return {
    platform,
    ledger,
    deps,
    clock,
    topUps,
    users,
    services,
    transferIds,
    userId: profile.id,
    webhookSecret,
    webhooks: route.webhooks,
    openGate: route.open,
    balances,
  };
}

async function balanceOf(ledger: Ledger, id: bigint): Promise<bigint> {
  const [account] = await ledger.lookupAccounts([id]);
  assert.ok(account);
  return account.creditsPosted - account.debitsPosted;
}

const nothingMoved = { wallet: 0n, receivable: 0n, cardFees: 0n };
const tenCredited = { wallet: 10_000_000n, receivable: -9_410_000n, cardFees: -590_000n };

/** A ledger whose next createTransfers call crashes, before or after the transfers are applied. */
function crashingOnce(when: 'before' | 'after') {
  return (ledger: Ledger): Ledger => {
    let crashed = false;
    return ledgerWithTransfers(ledger, async (transfers) => {
      if (crashed) return ledger.createTransfers(transfers);
      crashed = true;
      if (when === 'after') await ledger.createTransfers(transfers);
      throw new Error(`crash ${when} booking`);
    });
  };
}

/** The ledger with its createTransfers replaced. */
function ledgerWithTransfers(ledger: Ledger, createTransfers: Ledger['createTransfers']): Ledger {
  return {
    createAccounts: (accounts) => ledger.createAccounts(accounts),
    createTransfers,
    lookupAccounts: (ids) => ledger.lookupAccounts(ids),
    lookupTransfers: (ids) => ledger.lookupTransfers(ids),
    getAccountTransfers: (filter) => ledger.getAccountTransfers(filter),
    verify: () => ledger.verify(),
    close: () => ledger.close(),
  };
}

async function storedRows(platform: PlatformDb): Promise<string> {
  const tables = ['users', 'sessions', 'topups', 'payments', 'idempotency_records'] as const;
  const dumps = await Promise.all(
    tables.map((table) => platform.db.selectFrom(table).selectAll().execute()),
  );
  return JSON.stringify(dumps, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}

forEachDialect('top-ups', (dialect, it) => {
  it('credits $10.00 to the wallet and books the $0.59 card fee, once per idempotency key', async (t) => {
    const w = await world(t, dialect);
    const request = {
      userId: w.userId,
      amountMicros: 10_000_000n,
      source: card(sandboxCards.succeeds),
      idempotencyKey: 'first',
    };
    const result = await w.topUps.topUp(request);
    assert.ok(result.ok, result.ok ? undefined : result.code);
    assert.equal(result.value.state, 'succeeded');
    assert.equal(result.value.feeMicros, 590_000n);
    assert.equal(result.value.cardLast4, '4242');
    assert.equal(result.value.completedAtMs, startMs);
    assert.deepEqual(await w.balances(), tenCredited);
    assert.deepEqual((await w.ledger.verify()).problems, []);
    const again = await w.topUps.topUp(request);
    assert.deepEqual(again, result, 'a retry answers the first top-up');
    assert.deepEqual(await w.balances(), tenCredited);
    const reused = await w.topUps.topUp({ ...request, amountMicros: 20_000_000n });
    assert.equal(reused.ok || reused.code, 'validationFailed');
    assert.deepEqual(await w.topUps.getTopUp(w.userId, result.value.id), result.value);
    assert.equal(await w.topUps.getTopUp('someone-else', result.value.id), undefined);
  });

  it('answers each declined card with its code and moves nothing', async (t) => {
    const w = await world(t, dialect);
    const cases = [
      [card(sandboxCards.declines), 'cardDeclined'],
      [card(sandboxCards.insufficientFunds), 'insufficientFunds'],
      [card(sandboxCards.succeeds, 2020), 'expiredCard'],
      [card('4242424242424241'), 'invalidCard'],
    ] as const;
    for (const [declined, code] of cases) {
      const request = { userId: w.userId, amountMicros: 10_000_000n, source: declined };
      const result = await w.topUps.topUp({ ...request, idempotencyKey: code });
      assert.equal(result.ok || result.code, code);
    }
    const rows = await w.platform.db.selectFrom('topups').selectAll().execute();
    assert.deepEqual(rows.map((row) => [row.state, row.failure_code, row.fee_micros]).sort(), [
      ['failed', 'cardDeclined', null],
      ['failed', 'expiredCard', null],
      ['failed', 'insufficientFunds', null],
      ['failed', 'invalidCard', null],
    ]);
    assert.deepEqual(await w.balances(), nothingMoved);
  });

  it('keeps an asynchronously confirmed charge pending until its webhook credits it once', async (t) => {
    const w = await world(t, dialect, { deliver: true, gated: true });
    const base = { userId: w.userId, amountMicros: 10_000_000n };
    const later = await w.topUps.topUp({
      ...base,
      source: card(sandboxCards.confirmsLater),
      idempotencyKey: 'later',
    });
    assert.ok(later.ok);
    assert.equal(later.value.state, 'pending');
    assert.equal(later.value.feeMicros, null);
    const failing = await w.topUps.topUp({
      ...base,
      source: card(sandboxCards.failsLater),
      idempotencyKey: 'fails',
    });
    assert.ok(failing.ok);
    assert.equal(failing.value.state, 'pending');
    assert.deepEqual(await w.balances(), nothingMoved, 'nothing before the webhook');
    w.openGate();
    await w.webhooks(2);
    const confirmed = await w.topUps.getTopUp(w.userId, later.value.id);
    assert.equal(confirmed?.state, 'succeeded');
    assert.equal(confirmed.feeMicros, 590_000n);
    const failed = await w.topUps.getTopUp(w.userId, failing.value.id);
    assert.equal(failed?.state, 'failed');
    assert.equal(failed.failureCode, 'cardDeclined');
    assert.deepEqual(await w.balances(), tenCredited);
    assert.deepEqual((await w.ledger.verify()).problems, []);
  });

  it('credits once however often, and however concurrently, a webhook is delivered', async (t) => {
    const w = await world(t, dialect);
    const pending = await w.topUps.topUp({
      userId: w.userId,
      amountMicros: 10_000_000n,
      source: card(sandboxCards.confirmsLater),
      idempotencyKey: 'racy',
    });
    assert.ok(pending.ok);
    const [message] = await w.webhooks(1);
    assert.ok(message);
    const deliver = () =>
      w.topUps.handleProviderWebhook(message.headers, Buffer.from(message.body));
    const expected = { ok: true, value: { topUpId: pending.value.id, state: 'succeeded' } };
    // Three at once while the top-up is still pending: they race to book it.
    assert.deepEqual(await Promise.all([deliver(), deliver(), deliver()]), [
      expected,
      expected,
      expected,
    ]);
    for (let retry = 0; retry < 3; retry++) assert.deepEqual(await deliver(), expected);
    assert.deepEqual(await w.balances(), tenCredited);
    assert.deepEqual((await w.ledger.verify()).problems, []);
  });

  it('refuses a forged webhook and one for a charge it does not know, moving nothing', async (t) => {
    const w = await world(t, dialect);
    const pending = await w.topUps.topUp({
      userId: w.userId,
      amountMicros: 10_000_000n,
      source: card(sandboxCards.confirmsLater),
      idempotencyKey: 'forged',
    });
    assert.ok(pending.ok);
    const [message] = await w.webhooks(1);
    assert.ok(message);
    const sign = (secret: string, body: string) => {
      const at = new Date();
      const signature = new Webhook(secret).sign('msg_forged', at, body);
      return {
        'webhook-id': 'msg_forged',
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signature,
      };
    };
    const otherSecret = `whsec_${randomBytes(24).toString('base64')}`;
    const forged = await w.topUps.handleProviderWebhook(
      sign(otherSecret, message.body),
      Buffer.from(message.body),
    );
    assert.equal(forged.ok || forged.code, 'invalidSignature');
    const tampered = message.body.replace('"590000"', '"1"');
    const altered = await w.topUps.handleProviderWebhook(message.headers, Buffer.from(tampered));
    assert.equal(altered.ok || altered.code, 'invalidSignature');
    const unknownBody = JSON.stringify({
      type: 'charge.succeeded',
      chargeId: 'ch_nobody',
      feeMicros: '1',
    });
    const unknown = await w.topUps.handleProviderWebhook(
      sign(w.webhookSecret, unknownBody),
      Buffer.from(unknownBody),
    );
    assert.equal(unknown.ok || unknown.code, 'unknownCharge');
    assert.equal((await w.topUps.getTopUp(w.userId, pending.value.id))?.state, 'pending');
    assert.deepEqual(await w.balances(), nothingMoved);
  });

  it('refuses amounts outside 1.00 to 500.00 before charging', async (t) => {
    const w = await world(t, dialect);
    const attempt = (amountMicros: bigint) =>
      w.topUps.topUp({
        userId: w.userId,
        amountMicros,
        source: card(sandboxCards.succeeds),
        idempotencyKey: `amount-${amountMicros}`,
      });
    for (const amountMicros of [0n, topUpMicrosMin - 1n, topUpMicrosMax + 1n, -1n]) {
      const refused = await attempt(amountMicros);
      assert.equal(refused.ok || refused.code, 'validationFailed', String(amountMicros));
    }
    assert.equal((await w.platform.db.selectFrom('topups').select('id').execute()).length, 0);
    assert.equal((await attempt(topUpMicrosMin)).ok, true);
    assert.equal((await attempt(topUpMicrosMax)).ok, true);
    assert.equal((await w.balances()).wallet, topUpMicrosMin + topUpMicrosMax);
  });

  it('never stores a card number, only the token and the last four digits, sealed', async (t) => {
    const w = await world(t, dialect, { deliver: true });
    const numbers = Object.values(sandboxCards);
    for (const number of numbers) {
      await w.topUps.topUp({
        userId: w.userId,
        amountMicros: 2_000_000n,
        source: card(number),
        idempotencyKey: number,
      });
    }
    await w.webhooks(2);
    const stored = await storedRows(w.platform);
    for (const number of numbers) {
      assert.ok(!stored.includes(number), `card ${number.slice(-4)} is stored`);
      assert.ok(!stored.includes(number.slice(0, 12)), 'a card number prefix is stored');
    }
    const rows = await w.platform.db.selectFrom('topups').selectAll().execute();
    assert.equal(rows.length, numbers.length);
    for (const row of rows) {
      assert.match(row.card_token ?? '', /^[A-Za-z0-9_-]{43}$/);
      // Sealed under the user's data key (privacy/data-keys.ts), and opened for the user.
      assert.ok(looksEncrypted(row.card_last4 ?? ''), 'the last four digits are sealed');
      const topUp = await w.topUps.getTopUp(w.userId, row.id);
      assert.match(topUp?.cardLast4 ?? '', /^[0-9]{4}$/);
    }
  });

  for (const when of ['before', 'after'] as const) {
    it(`reconciles a top-up whose charge succeeded and whose booking crashed ${when} the ledger`, async (t) => {
      const w = await world(t, dialect, { wrapLedger: crashingOnce(when) });
      const request = {
        userId: w.userId,
        amountMicros: 10_000_000n,
        source: card(sandboxCards.succeeds),
        idempotencyKey: 'crash',
      };
      await assert.rejects(w.topUps.topUp(request), /crash/);
      const [row] = await w.platform.db.selectFrom('topups').selectAll().execute();
      assert.equal(row?.state, 'pending');
      assert.equal(row.fee_micros, '590000', 'the succeeded charge is on record');
      assert.equal(await w.topUps.reconcilePending(), 0, 'too recent: maybe still in flight');
      w.clock.nowMs += topUpPendingGraceMs + 1;
      assert.equal(await w.topUps.reconcilePending(), 1);
      assert.equal(await w.topUps.reconcilePending(), 0);
      assert.equal((await w.topUps.getTopUp(w.userId, row.id))?.state, 'succeeded');
      assert.deepEqual(await w.balances(), tenCredited);
      const retried = await w.topUps.topUp(request);
      assert.ok(retried.ok);
      assert.equal(retried.value.state, 'succeeded');
      assert.deepEqual(await w.balances(), tenCredited);
      assert.deepEqual((await w.ledger.verify()).problems, []);
    });
  }

  it('reconciles at most its cap of interrupted top-ups a run, the rest in the runs after', async (t) => {
    let down = true;
    const w = await world(t, dialect, {
      wrapLedger: (ledger) =>
        ledgerWithTransfers(ledger, (transfers) =>
          down
            ? Promise.reject(new Error('crash before booking'))
            : ledger.createTransfers(transfers),
        ),
    });
    for (const key of ['a', 'b', 'c']) {
      await assert.rejects(
        w.topUps.topUp({
          userId: w.userId,
          amountMicros: 10_000_000n,
          source: card(sandboxCards.succeeds),
          idempotencyKey: key,
        }),
        /crash/,
      );
      w.clock.nowMs += 1;
    }
    down = false;
    w.clock.nowMs += topUpPendingGraceMs + 1;
    const capped = createTopUpService({
      ...w.deps,
      provider: undefined,
      transferIds: w.transferIds,
      policy: openPolicyGate,
      reconcileRowsPerRun: 2,
    });
    assert.deepEqual([await capped.reconcilePending(), await capped.reconcilePending()], [2, 1]);
    assert.equal(await capped.reconcilePending(), 0);
    const states = await w.platform.db.selectFrom('topups').select('state').execute();
    assert.deepEqual(
      states.map((row) => row.state),
      ['succeeded', 'succeeded', 'succeeded'],
    );
    assert.equal((await w.balances()).wallet, 30_000_000n);
    assert.throws(
      () =>
        createTopUpService({
          ...w.deps,
          provider: undefined,
          transferIds: w.transferIds,
          policy: openPolicyGate,
          reconcileRowsPerRun: 0,
        }),
      /reconcileRowsPerRun/,
    );
    assert.deepEqual((await w.ledger.verify()).problems, []);
  });

  it('reports card fees paid through top-ups against paying each purchase by card', async (t) => {
    const w = await world(t, dialect);
    const { merchants, payments } = w.services;
    const shop = await merchants.createMerchant({
      name: 'Shop',
      feeBasisPoints: 0,
      payoutThresholdMicros: 0n,
    });
    const buy = async (priceMicros: bigint) => {
      const offer = await merchants.createOffer({
        merchantId: shop.merchantId,
        resource: `/items/${priceMicros}`,
        title: 'An item',
        priceMicros,
        category: 'content',
        accessPeriodSeconds: 60,
      });
      assert.ok(offer.ok);
      return payments.pay({ userId: w.userId, offerId: offer.value.id });
    };
    const topUp = (amountMicros: bigint, number: string, key: string) =>
      w.topUps.topUp({
        userId: w.userId,
        amountMicros,
        source: card(number),
        idempotencyKey: key,
      });
    const hourMs = 3_600_000;
    // In the period: one $10 top-up (fee 0.59), one declined, and three purchases.
    assert.ok((await topUp(10_000_000n, sandboxCards.succeeds, 'in')).ok);
    assert.ok(!(await topUp(10_000_000n, sandboxCards.declines, 'declined')).ok);
    w.clock.nowMs += 60_000;
    assert.ok((await buy(20_000n)).ok); // as a card payment: 580 + 300,000
    assert.ok((await buy(30_000n)).ok); // 870 + 300,000
    assert.ok((await buy(500_000n)).ok); // 14,500 + 300,000
    assert.ok(!(await buy(50_000_000n)).ok, 'insufficient funds: not a purchase');
    // After the period: another top-up and purchase.
    w.clock.nowMs = startMs + 2 * hourMs;
    assert.ok((await topUp(5_000_000n, sandboxCards.succeeds, 'after')).ok);
    assert.ok((await buy(100_000n)).ok);
    const report = await w.topUps.feeReport({ fromMs: startMs, toMs: startMs + hourMs });
    assert.deepEqual(report, {
      fromMs: startMs,
      toMs: startMs + hourMs,
      topUpCount: 1,
      topUpFeeMicros: 590_000n,
      paymentCount: 3,
      perPaymentCardFeeMicros: 915_950n,
      savingMicros: 325_950n,
    });
    const everything = await w.topUps.feeReport({ fromMs: 0, toMs: startMs + 3 * hourMs });
    assert.equal(everything.topUpFeeMicros, 590_000n + 445_000n);
    assert.equal(everything.perPaymentCardFeeMicros, 915_950n + 302_900n);

    // Paged two rows at a time (pages full, partial and empty), the report is the same, and no
    // query of it returns more than a page: a period is never loaded whole.
    const largestResults: number[] = [];
    const rowCounter: KyselyPlugin = {
      transformQuery: (args) => args.node,
      transformResult: (args) => {
        largestResults.push(args.result.rows.length);
        return Promise.resolve(args.result);
      },
    };
    const paged = createTopUpService({
      ...w.deps,
      platform: { ...w.platform, db: w.platform.db.withPlugin(rowCounter) },
      provider: undefined,
      transferIds: w.transferIds,
      policy: openPolicyGate,
      feeReportPageRows: 2,
    });
    assert.deepEqual(await paged.feeReport({ fromMs: startMs, toMs: startMs + hourMs }), report);
    assert.deepEqual(await paged.feeReport({ fromMs: 0, toMs: startMs + 3 * hourMs }), everything);
    assert.ok(largestResults.length > 4, 'read in pages');
    assert.ok(Math.max(...largestResults) <= 2, `rows per query: ${largestResults.join(', ')}`);
  });
});
