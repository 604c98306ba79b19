import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBudget } from './budget.ts';
import { budgetFromStored } from './stored-budget.ts';

/** `GET /v1/wallet/budget`'s answer, as the platform sends it. */
const answer = {
  maxPerPayment: '0.25',
  maxPerOriginPerDay: '2.50',
  maxTotal: '20.00',
  approveAbove: '0.10',
  currency: 'USD',
  updatedAt: null,
  maximums: { maxPerPayment: '100.00', maxPerOriginPerDay: '1000.00', maxTotal: '100000.00' },
};

describe('budgetFromStored', () => {
  it('turns the platform\u2019s stored budget into the client\u2019s Budget, with the approval', () => {
    const approve = () => true;
    const budget = budgetFromStored(answer, approve);
    assert.ok(budget.ok);
    assert.deepEqual(budget.value, {
      maxPerPayment: '0.25',
      maxPerOriginPerDay: '2.50',
      maxTotal: '20.00',
      approveAbove: '0.10',
      approve,
    });
    assert.deepEqual(parseBudget(budget.value), {
      maxPerPaymentMicros: 250_000n,
      maxPerOriginPerDayMicros: 2_500_000n,
      maxTotalMicros: 20_000_000n,
      approveAboveMicros: 100_000n,
    });
    const unasked = budgetFromStored(answer);
    assert.ok(unasked.ok);
    assert.equal(
      'approve' in unasked.value,
      false,
      'without a callback, payments above are refused',
    );
  });

  it('refuses an answer that is not a budget, saying which field', () => {
    const cases: [unknown, RegExp][] = [
      [null, /not a JSON object/],
      ['0.25', /not a JSON object/],
      [{ ...answer, maxTotal: undefined }, /maxTotal is not an amount/],
      [{ ...answer, approveAbove: '-1' }, /approveAbove is not an amount/],
      [{ ...answer, maxPerPayment: 0.25 }, /maxPerPayment is not an amount/],
      [{ ...answer, maxPerOriginPerDay: '1e3' }, /maxPerOriginPerDay is not an amount/],
    ];
    for (const [stored, detail] of cases) {
      const refused = budgetFromStored(stored);
      assert.equal(refused.ok, false);
      if (!refused.ok) {
        assert.equal(refused.code, 'invalidBudget');
        assert.match(refused.detail, detail);
      }
    }
  });
});
