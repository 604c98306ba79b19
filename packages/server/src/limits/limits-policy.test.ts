/**
 * The limits policy's decisions for users with limits of their own, minors and dormant accounts,
 * on both databases (its spending is read from the platform's real tables): the profile is given
 * here, as the users' settings would give it.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { forEachDialect } from '../db/testing.ts';
import type { PurchaseFacts, TokenWithdrawalFacts, TopUpFacts } from '../policy/policy.ts';
import { signUpAndTopUp, startPlatformUnderTest } from '../platform-testing.ts';
import type { LimitProfile, LimitScope } from './limit-profile.ts';
import { createSpendingLimits } from './spending-limits.ts';
import type { PlatformCaps } from './platform-caps.ts';

const units = 1_000_000n;
const caps: PlatformCaps = {
  categoryMonthlyMicros: { content: 10n * units, goods: 20n * units },
  resellableMonthlyMicros: 3n * units,
  minorMonthlyMicros: 2n * units,
};
const atMs = Date.UTC(2026, 11, 7, 12);

function profile(overrides: Partial<LimitProfile> & { limits?: [LimitScope, bigint][] } = {}) {
  return {
    userLimits: new Map(overrides.limits ?? []),
    minor: overrides.minor ?? false,
    guardianConsented: overrides.guardianConsented ?? false,
    dormant: overrides.dormant ?? false,
  };
}

function purchase(amountMicros: bigint, more: Partial<PurchaseFacts> = {}): PurchaseFacts {
  return {
    kind: 'purchase',
    userId: 'usr_test',
    merchantId: 'mer_test',
    amountMicros,
    offerId: null,
    resource: '/a',
    atMs,
    ...more,
  };
}

const topUp = (amountMicros: bigint): TopUpFacts => ({
  kind: 'topUp',
  userId: 'usr_test',
  amountMicros,
  atMs,
});
const withdrawal = (amountMicros: bigint): TokenWithdrawalFacts => ({
  kind: 'tokenWithdrawal',
  userId: 'usr_test',
  amountMicros,
  atMs,
});

forEachDialect('the limits policy', (backend, it) => {
  async function limitsFor(t: TestContext, given: LimitProfile) {
    const env = await startPlatformUnderTest(t, backend, { backgroundJobs: false });
    return createSpendingLimits({
      platform: env.platform.platformDb,
      profiles: { profileOf: async () => given },
      caps,
      timeZone: 'Asia/Seoul',
    });
  }

  it('refuses everything of a dormant account until it is re-enabled', async (t) => {
    const { policy } = await limitsFor(t, profile({ dormant: true }));
    for (const subject of [purchase(1n), topUp(1n), withdrawal(1n)]) {
      const decision = await policy.decide(subject);
      assert.equal(decision.verdict, 'block');
      assert.equal(decision.rule, 'limit.dormant');
      assert.match(decision.userMessage ?? '', /Re-enable it in your wallet/);
    }
  });

  it('refuses a minor without a guardian\u2019s consent, and caps one with it lower', async (t) => {
    const without = await limitsFor(t, profile({ minor: true }));
    assert.equal((await without.policy.decide(topUp(units))).rule, 'limit.minor-consent');
    const minor = await limitsFor(t, profile({ minor: true, guardianConsented: true }));
    assert.equal((await minor.policy.decide(purchase(2n * units))).verdict, 'allow');
    const over = await minor.policy.decide(purchase(2n * units + 1n));
    assert.equal(over.rule, 'limit.monthly.content');
    assert.match(over.userMessage ?? '', /limit of 2\.00/);
    const goods = await minor.policy.decide(purchase(3n * units, { spendingCategory: 'goods' }));
    assert.equal(
      goods.rule,
      'limit.monthly.goods',
      'the minor cap is lower than goods\u2019 20.00',
    );
    const summary = await minor.summaryFor('usr_test', atMs);
    assert.deepEqual(
      summary.scopes.map((scope) => [scope.scope, scope.capMicros]),
      [
        ['content', 2n * units],
        ['goods', 2n * units],
        ['resellable', 2n * units],
      ],
    );
  });

  it('applies the user\u2019s own limits: per category (zero blocks), per payment, per merchant', async (t) => {
    const limits = await limitsFor(
      t,
      profile({
        limits: [
          ['goods', 0n],
          ['perPayment', units],
          ['merchant:mer_test', 5n * units],
          ['topUpMonthly', 30n * units],
        ],
      }),
    );
    const goods = await limits.policy.decide(purchase(1n, { spendingCategory: 'goods' }));
    assert.equal(goods.rule, 'limit.monthly.goods');
    assert.match(goods.userMessage ?? '', /blocked on this account/);
    assert.equal((await limits.policy.decide(purchase(units))).verdict, 'allow');
    assert.equal((await limits.policy.decide(purchase(units + 1n))).rule, 'limit.per-payment');
    assert.equal((await limits.policy.decide(withdrawal(units + 1n))).rule, 'limit.per-payment');
    // A top-up is no payment: the limit per payment does not apply, its monthly limit does.
    assert.equal((await limits.policy.decide(topUp(30n * units))).verdict, 'allow');
    assert.equal(
      (await limits.policy.decide(topUp(30n * units + 1n))).rule,
      'limit.monthly.top-ups',
    );
    const plan = await limits.planFor(purchase(units, { resellable: true }));
    assert.deepEqual(plan, {
      month: '2026-12',
      charges: [
        { scope: 'content', capMicros: 10n * units },
        { scope: 'resellable', capMicros: 3n * units },
        { scope: 'merchant:mer_test', capMicros: 5n * units },
      ],
    });
  });

  it('sums the month\u2019s top-ups that did not fail against the monthly top-up limit', async (t) => {
    // A minute before December starts in Seoul: this top-up is November's.
    const clock = { nowMs: Date.UTC(2026, 10, 30, 14, 59) };
    const env = await startPlatformUnderTest(t, backend, {
      backgroundJobs: false,
      clock: () => clock.nowMs,
    });
    const { user, userId } = await signUpAndTopUp(env, {
      email: 'ada@example.com',
      password: 'a long passphrase',
      topUp: '20.00',
    });
    clock.nowMs = atMs;
    const card = (number: string) => ({ number, expMonth: 12, expYear: 2099, cvc: '123' });
    for (const [amount, number, status] of [
      ['5.00', '4242424242424242', 201],
      ['7.00', '4242424242424242', 201],
      ['4.00', '4000000000000002', 422],
    ] as const) {
      const answer = await env.call('POST', '/v1/topups', {
        auth: user,
        body: { amount, card: card(number) },
      });
      assert.equal(answer.status, status, answer.text);
    }
    const limits = createSpendingLimits({
      platform: env.platform.platformDb,
      profiles: { profileOf: async () => profile({ limits: [['topUpMonthly', 15n * units]] }) },
      caps,
      timeZone: 'Asia/Seoul',
    });
    const asking = (amountMicros: bigint) =>
      limits.policy.decide({ ...topUp(amountMicros), userId });
    // 12.00 this month (not November's 20.00, not the declined 4.00): 3.00 more is the limit.
    assert.equal((await asking(3n * units)).verdict, 'allow');
    assert.equal((await asking(3n * units + 1n)).rule, 'limit.monthly.top-ups');
  });

  it('uses the lower of the platform\u2019s cap and the user\u2019s own, raised or lowered', async (t) => {
    const lower = await limitsFor(t, profile({ limits: [['content', 4n * units]] }));
    assert.equal((await lower.policy.decide(purchase(4n * units))).verdict, 'allow');
    assert.equal((await lower.policy.decide(purchase(4n * units + 1n))).verdict, 'block');
    // A limit above the platform's cap does not raise the cap.
    const higher = await limitsFor(t, profile({ limits: [['content', 50n * units]] }));
    assert.equal((await higher.policy.decide(purchase(10n * units + 1n))).verdict, 'block');
  });
});
