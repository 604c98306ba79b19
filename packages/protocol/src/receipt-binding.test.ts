import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clockSkewSecondsMax } from './challenge.ts';
import { checkReceiptBinding } from './receipt-binding.ts';
import { codeOf, testChallenge, testClaims, testNowSeconds } from './testing.ts';

describe('receipt binding', () => {
  const challenge = testChallenge();
  const claims = testClaims(challenge);
  const now = { nowSeconds: testNowSeconds + 10 };

  it('accepts a receipt that pays for this challenge', () => {
    assert.deepEqual(checkReceiptBinding(claims, challenge, now), { ok: true, value: claims });
    assert.ok(
      checkReceiptBinding({ ...claims, amount: '0.020' }, challenge, now).ok,
      'amounts compare by value',
    );
    const { challengeId: _omitted, ...unbound } = claims;
    assert.ok(checkReceiptBinding(unbound, challenge, now).ok);
  });

  it('names each way a receipt can pay for something else', () => {
    const late = challenge.expiresAtSeconds + clockSkewSecondsMax;
    const cases: [typeof claims, string, number][] = [
      [{ ...claims, merchantId: 'mer_2' }, 'wrongMerchant', now.nowSeconds],
      [
        { ...claims, resource: 'https://news.example/articles/43' },
        'wrongResource',
        now.nowSeconds,
      ],
      [{ ...claims, currency: 'EUR' }, 'wrongCurrency', now.nowSeconds],
      [{ ...claims, amount: '0.01' }, 'wrongAmount', now.nowSeconds],
      [
        { ...claims, issuedAt: now.nowSeconds + clockSkewSecondsMax + 1 },
        'futureDated',
        now.nowSeconds,
      ],
      [{ ...claims, issuedAt: late }, 'challengeExpired', late + 1],
      [{ ...claims, accessUntil: now.nowSeconds }, 'accessExpired', now.nowSeconds],
      [
        { ...claims, challengeId: testChallenge({ realm: 'other' }).id },
        'challengeMismatch',
        now.nowSeconds,
      ],
    ];
    for (const [variant, code, nowSeconds] of cases) {
      assert.equal(codeOf(checkReceiptBinding(variant, challenge, { nowSeconds })), code);
    }
    assert.throws(
      () => checkReceiptBinding(claims, challenge, { nowSeconds: Infinity }),
      RangeError,
    );
  });

  it('accepts less than the price only under a signed fair-price cap on this very price', () => {
    // The test challenge's price is 0.02.
    const capped = (amount: string, fairPriceCap: string) => ({ ...claims, amount, fairPriceCap });
    assert.ok(checkReceiptBinding(capped('0.00', '0.02'), challenge, now).ok, 'free under the cap');
    assert.ok(checkReceiptBinding(capped('0.015', '0.020'), challenge, now).ok, 'the remainder');
    assert.ok(checkReceiptBinding(capped('0.02', '0.02'), challenge, now).ok);
    const refusedCases = [
      capped('0.00', '0.03'),
      capped('0.00', '0.01'),
      capped('0.03', '0.02'),
      { ...claims, amount: '0.00' },
    ];
    for (const variant of refusedCases) {
      assert.equal(codeOf(checkReceiptBinding(variant, challenge, now)), 'wrongAmount');
    }
    const elsewhere = { ...capped('0.00', '0.02'), merchantId: 'mer_2' };
    assert.equal(codeOf(checkReceiptBinding(elsewhere, challenge, now)), 'wrongMerchant');
  });

  it('checks the challenge id last, so an access-period reuse is told apart', () => {
    const earlier = {
      ...claims,
      challengeId: testChallenge({ realm: 'yesterday' }).id,
      issuedAt: testNowSeconds - 3600,
    };
    assert.equal(codeOf(checkReceiptBinding(earlier, challenge, now)), 'challengeMismatch');
    assert.equal(
      codeOf(checkReceiptBinding({ ...earlier, amount: '0.01' }, challenge, now)),
      'wrongAmount',
    );
  });
});
