import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BudgetLedger, parseBudget, utcDay } from './budget.ts';
import { isMitePaymentError } from './errors.ts';

const noon = Date.UTC(2027, 0, 15, 12);

function ledger(perPayment = '0.10', perOriginPerDay = '0.05', total = '0.08'): BudgetLedger {
  return new BudgetLedger(
    parseBudget({
      maxPerPayment: perPayment,
      maxPerOriginPerDay: perOriginPerDay,
      maxTotal: total,
    }),
  );
}

function refusedLimit(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (isMitePaymentError(error, 'overBudget')) return error.limit;
    throw error;
  }
  return undefined;
}

describe('parseBudget', () => {
  it('reads decimal strings into exact micro-units', () => {
    assert.deepEqual(
      parseBudget({
        maxPerPayment: '0.000001',
        maxPerOriginPerDay: '0.1',
        maxTotal: '12.50',
        approveAbove: '0',
      }),
      {
        maxPerPaymentMicros: 1n,
        maxPerOriginPerDayMicros: 100_000n,
        maxTotalMicros: 12_500_000n,
        approveAboveMicros: 0n,
      },
    );
  });

  it('refuses floats, signs and exponents', () => {
    for (const bad of ['-1', '1e3', '0.0000001', '01', '', ' 1']) {
      assert.throws(
        () => parseBudget({ maxPerPayment: '1', maxPerOriginPerDay: '1', maxTotal: bad }),
        /budget\.maxTotal/,
        bad,
      );
    }
  });
});

describe('BudgetLedger', () => {
  it('holds reservations against every limit and counts them once committed', () => {
    const budget = ledger();
    const first = budget.reserve('https://a.example', 30_000n, noon);
    assert.equal(budget.spent().reservedMicros, 30_000n);
    assert.equal(
      refusedLimit(() => budget.reserve('https://a.example', 30_000n, noon)),
      'perOriginPerDay',
      'the reservation counts before it is spent',
    );
    first.commit();
    first.commit();
    first.release();
    assert.deepEqual(budget.spent(), {
      totalMicros: 30_000n,
      total: '0.03',
      byOrigin: { 'https://a.example': 30_000n },
      reservedMicros: 0n,
    });
  });

  it('commits part of a hold (a session paid less than its deposit) and frees the rest', () => {
    const budget = ledger();
    const deposit = budget.reserve('https://a.example', 40_000n, noon);
    assert.throws(() => deposit.commit(40_001n), RangeError);
    assert.throws(() => deposit.commit(-1n), RangeError);
    deposit.commit(12_345n);
    deposit.commit();
    assert.deepEqual(budget.spent(), {
      totalMicros: 12_345n,
      total: '0.012345',
      byOrigin: { 'https://a.example': 12_345n },
      reservedMicros: 0n,
    });
    // What was not spent is free again for this origin today.
    budget.reserve('https://a.example', 37_655n, noon).commit(0n);
    assert.equal(budget.spent().totalMicros, 12_345n);
  });

  it('tells what each limit still allows at an origin, payments under way counted', () => {
    const budget = ledger();
    assert.deepEqual(budget.headroom('https://a.example', noon), {
      perPayment: '0.10',
      originToday: '0.05',
      total: '0.08',
    });
    budget.reserve('https://a.example', 30_000n, noon).commit();
    const held = budget.reserve('https://b.example', 10_000n, noon);
    assert.deepEqual(budget.headroom('https://a.example', noon), {
      perPayment: '0.10',
      originToday: '0.02',
      total: '0.04',
    });
    assert.equal(budget.headroom('https://b.example', noon).originToday, '0.04');
    held.release();
    assert.equal(budget.headroom('https://a.example', noon + 86_400_000).originToday, '0.05');
  });

  it('names the first limit a payment would pass', () => {
    const budget = ledger();
    assert.equal(
      refusedLimit(() => budget.reserve('https://a.example', 100_001n, noon)),
      'perPayment',
    );
    budget.reserve('https://a.example', 50_000n, noon).commit();
    assert.equal(
      refusedLimit(() => budget.reserve('https://a.example', 1n, noon)),
      'perOriginPerDay',
    );
    budget.reserve('https://b.example', 30_000n, noon).commit();
    assert.equal(
      refusedLimit(() => budget.reserve('https://c.example', 1n, noon)),
      'total',
    );
  });

  it('releases a reservation entirely', () => {
    const budget = ledger('1', '1', '0.05');
    budget.reserve('https://a.example', 50_000n, noon).release();
    budget.reserve('https://a.example', 50_000n, noon).commit();
    assert.equal(budget.spent().totalMicros, 50_000n);
  });

  it('is exact over many tiny payments', () => {
    const budget = ledger('1', '1', '0.001');
    for (let index = 0; index < 1000; index += 1) {
      budget.reserve('https://a.example', 1n, noon).commit();
    }
    assert.equal(budget.spent().total, '0.001');
    assert.equal(
      refusedLimit(() => budget.reserve('https://a.example', 1n, noon)),
      'total',
    );
  });

  it('starts each origin afresh at midnight UTC', () => {
    const budget = ledger('1', '0.05', '1');
    const lastSecond = Date.UTC(2027, 0, 15, 23, 59, 59);
    budget.reserve('https://a.example', 50_000n, lastSecond).commit();
    assert.equal(
      refusedLimit(() => budget.reserve('https://a.example', 1n, lastSecond)),
      'perOriginPerDay',
    );
    const midnight = Date.UTC(2027, 0, 16);
    assert.equal(utcDay(midnight), utcDay(lastSecond) + 1);
    budget.reserve('https://a.example', 50_000n, midnight).commit();
    assert.equal(budget.spent().totalMicros, 100_000n);
  });

  it('asks approval above the threshold, or always when only a callback is given', () => {
    const withThreshold = new BudgetLedger(
      parseBudget({
        maxPerPayment: '1',
        maxPerOriginPerDay: '1',
        maxTotal: '1',
        approveAbove: '0.05',
      }),
    );
    assert.equal(withThreshold.needsApproval(50_000n, true), false);
    assert.equal(withThreshold.needsApproval(50_001n, true), true);
    assert.equal(withThreshold.needsApproval(50_001n, false), true);
    const without = ledger();
    assert.equal(without.needsApproval(1n, true), true);
    assert.equal(without.needsApproval(1n, false), false);
  });
});
