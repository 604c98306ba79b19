import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeReceiptClaims } from './receipt-claims.ts';
import { codeOf, testClaims } from './testing.ts';

describe('receipt claims', () => {
  it('accepts what the platform signs, with and without a challenge id', () => {
    const claims = testClaims();
    assert.deepEqual(decodeReceiptClaims(claims), { ok: true, value: claims });
    const { challengeId: _omitted, ...unbound } = claims;
    assert.deepEqual(decodeReceiptClaims(unbound), { ok: true, value: unbound });
  });

  it('accepts a lower amount, down to zero, only beside a fair-price cap', () => {
    const free = { ...testClaims(), amount: '0.00', fairPriceCap: '0.02' };
    assert.deepEqual(decodeReceiptClaims(free), { ok: true, value: free });
    assert.equal(codeOf(decodeReceiptClaims({ ...free, fairPriceCap: '0' })), 'badAmount');
    assert.equal(codeOf(decodeReceiptClaims({ ...free, amount: '-0.01' })), 'badAmount');
  });

  it('names every defect', () => {
    const claims = testClaims();
    const cases: [unknown, string][] = [
      ['{}', 'wrongType'],
      [null, 'wrongType'],
      [{ ...claims, scope: 'all' }, 'unknownField'],
      [{ ...claims, payer: undefined }, 'wrongType'],
      [(({ payer: _p, ...rest }) => rest)(claims), 'missingField'],
      [{ ...claims, amount: '0' }, 'badAmount'],
      [{ ...claims, amount: '-0.02' }, 'badAmount'],
      [{ ...claims, currency: 'dollars' }, 'badCurrency'],
      [{ ...claims, issuedAt: '1800000000' }, 'wrongType'],
      [{ ...claims, issuedAt: -1 }, 'badValue'],
      [{ ...claims, accessUntil: claims.issuedAt - 1 }, 'badTimestamp'],
      [{ ...claims, challengeId: 'abc' }, 'badValue'],
      [{ ...claims, paymentId: 'p'.repeat(129) }, 'valueTooLong'],
      [{ ...claims, resource: 'has space' }, 'badValue'],
    ];
    for (const [input, code] of cases)
      assert.equal(codeOf(decodeReceiptClaims(input)), code, JSON.stringify(input));
  });

  it('says where the defect is', () => {
    assert.deepEqual(decodeReceiptClaims({ ...testClaims(), accessUntil: 1 }), {
      ok: false,
      code: 'badTimestamp',
      detail: 'receipt.accessUntil: accessUntil is before issuedAt',
    });
  });
});
