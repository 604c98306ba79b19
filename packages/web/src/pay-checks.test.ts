/**
 * The payment window's budget arithmetic (apps/pay/pay-checks.ts), without a browser: the stored
 * budget's answer read as micro-units, and what the user's purchases add to the limits per site
 * per day and in all. The browser test (packages/cli/src/news-site-paywall.test.ts) shows the
 * window applying them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addPurchases,
  checkPerPayment,
  checkSpent,
  type ListedPurchase,
  nothingSpent,
  payBudgetOf,
  utcDayStartMs,
} from './apps/pay/pay-checks.ts';

const site = 'https://news.example';
const nowMs = Date.UTC(2026, 11, 7, 9, 30);
const dayStartMs = utcDayStartMs(nowMs);
const today = new Date(nowMs - 60_000).toISOString();
const yesterday = new Date(dayStartMs - 1).toISOString();

function purchase(terms: Partial<ListedPurchase>): ListedPurchase {
  return {
    title: null,
    resource: `${site}/articles/a`,
    amount: '0.020000',
    refunded: '0.000000',
    state: 'succeeded',
    at: today,
    ...terms,
  };
}

describe('the payment window\u2019s budget', () => {
  it('reads the stored budget as micro-units, and refuses an answer that is not one', () => {
    const stored = {
      maxPerPayment: '0.01',
      maxPerOriginPerDay: '5.00',
      maxTotal: '20.00',
      approveAbove: '0.005',
      updatedAt: null,
    };
    assert.deepEqual(payBudgetOf(stored), {
      maxPerPaymentMicros: 10_000n,
      maxPerOriginPerDayMicros: 5_000_000n,
      maxTotalMicros: 20_000_000n,
      approveAboveMicros: 5_000n,
      totalSinceMs: 0,
    });
    assert.equal(payBudgetOf({ ...stored, updatedAt: today })?.totalSinceMs, Date.parse(today));
    assert.equal(payBudgetOf({ ...stored, updatedAt: 'soon' }), undefined);
    assert.equal(payBudgetOf({ ...stored, maxTotal: 20 }), undefined);
    assert.equal(payBudgetOf({ ...stored, approveAbove: '-1' }), undefined);
    assert.equal(payBudgetOf(null), undefined);
  });

  it('refuses above the limit per payment and asks above approveAbove only', () => {
    const budget = payBudgetOf({
      maxPerPayment: '0.10',
      maxPerOriginPerDay: '5.00',
      maxTotal: '20.00',
      approveAbove: '0.05',
    });
    assert.ok(budget !== undefined);
    assert.deepEqual(checkPerPayment(50_000n, budget), { ok: true, value: { askFirst: false } });
    assert.deepEqual(checkPerPayment(50_001n, budget), { ok: true, value: { askFirst: true } });
    assert.deepEqual(checkPerPayment(100_001n, budget), {
      ok: false,
      reason: '$0.100001 is above your limit of $0.10 for one payment.',
    });
  });

  it('counts what purchases kept: refunds off, failed ones not, the day at this site only', () => {
    const spent = addPurchases(
      nothingSpent,
      [
        purchase({}),
        purchase({ amount: '0.500000', refunded: '0.200000' }),
        purchase({ state: 'failed', amount: '9.000000' }),
        purchase({ state: 'pending', amount: '0.010000' }),
        purchase({ resource: 'https://other.example/a', amount: '1.000000' }),
        purchase({ at: yesterday, amount: '2.000000' }),
        // An offer bought on the platform paid no site.
        purchase({ title: 'A guide', resource: 'guide-1', amount: '4.000000' }),
        // A challenge that named a bare path: its site is unknown, so it counts for every site.
        purchase({ resource: '/articles/b', amount: '0.030000' }),
      ],
      { askingOrigin: site, dayStartMs, totalSinceMs: 0 },
    );
    assert.deepEqual(spent, { todayAtOriginMicros: 360_000n, totalMicros: 7_360_000n });
  });

  it('counts towards the total only what was bought since the budget was saved', () => {
    const saved = Date.parse(today) - 1;
    const spent = addPurchases(
      nothingSpent,
      [purchase({}), purchase({ at: new Date(saved - 1).toISOString(), amount: '3.000000' })],
      { askingOrigin: site, dayStartMs, totalSinceMs: saved },
    );
    // The older purchase is today's too: it still counts for the day at the site.
    assert.deepEqual(spent, { todayAtOriginMicros: 3_020_000n, totalMicros: 20_000n });
  });

  it('refuses a purchase list it cannot read rather than counting it as nothing', () => {
    const context = { askingOrigin: site, dayStartMs, totalSinceMs: 0 };
    assert.equal(addPurchases(nothingSpent, [purchase({ amount: 'x' })], context), undefined);
    assert.equal(addPurchases(nothingSpent, [purchase({ at: 'never' })], context), undefined);
  });

  it('refuses when the payment would pass the day\u2019s limit at the site, then the total', () => {
    const budget = payBudgetOf({
      maxPerPayment: '1.00',
      maxPerOriginPerDay: '0.50',
      maxTotal: '1.00',
      approveAbove: '0.50',
    });
    assert.ok(budget !== undefined);
    const context = { askingOrigin: site, budget };
    const spent = { todayAtOriginMicros: 480_000n, totalMicros: 980_000n };
    assert.deepEqual(checkSpent(20_000n, spent, context), { ok: true, value: null });
    const overDay = checkSpent(20_001n, spent, context);
    assert.ok(!overDay.ok);
    assert.match(overDay.reason, /today to \$0\.500001, above your limit of \$0\.50 for one site/);
    const overTotal = checkSpent(20_001n, { ...spent, todayAtOriginMicros: 0n }, context);
    assert.ok(!overTotal.ok);
    assert.match(overTotal.reason, /in all to \$1\.000001, above your total limit of \$1\.00/);
  });

  it('starts the day at midnight UTC', () => {
    assert.equal(utcDayStartMs(Date.UTC(2026, 11, 7, 23, 59, 59)), Date.UTC(2026, 11, 7));
  });
});
