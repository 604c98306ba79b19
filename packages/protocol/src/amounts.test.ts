import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  amountMicrosMax,
  amountScale,
  currency,
  formatAmount,
  formatLedgerAmount,
  isAmountText,
  parseAmount,
  parsePositiveAmount,
  sameAmountText,
} from './amounts.ts';

describe('amounts', () => {
  it('parses decimal strings into micro-units exactly', () => {
    assert.deepEqual(parseAmount('0.02'), { ok: true, value: 20_000n });
    assert.deepEqual(parseAmount('0.000001'), { ok: true, value: 1n });
    assert.deepEqual(parseAmount('12'), { ok: true, value: 12_000_000n });
    assert.deepEqual(parseAmount('0'), { ok: true, value: 0n });
    assert.deepEqual(parseAmount('1000000000000'), { ok: true, value: amountMicrosMax });
    assert.equal(currency, 'USD');
    assert.equal(amountScale, 6);
  });

  it('refuses signs, exponents, floats in disguise and excess precision', () => {
    for (const text of [
      '-1',
      '+1',
      '1e3',
      '0.0000001',
      '01',
      '.5',
      '5.',
      '1,00',
      ' 1',
      '1 ',
      '',
      'NaN',
      '0x10',
      '١',
    ]) {
      const parsed = parseAmount(text);
      assert.equal(parsed.ok, false, text);
      assert.equal(!parsed.ok && parsed.code, 'badAmount', text);
    }
    const tooLarge = parseAmount('1000000000000.000001');
    assert.deepEqual(tooLarge, { ok: false, code: 'badAmount', detail: 'the amount is too large' });
    assert.equal(parseAmount(12 as unknown as string).ok, false);
  });

  it('refuses zero where a price is expected', () => {
    assert.deepEqual(parsePositiveAmount('0.00'), {
      ok: false,
      code: 'badAmount',
      detail: 'the amount must be above 0',
    });
    assert.deepEqual(parsePositiveAmount('0.01'), { ok: true, value: 10_000n });
  });

  it('formats like the platform: at least two decimals, no trailing zeros beyond', () => {
    assert.equal(formatAmount(10_000n), '0.01');
    assert.equal(formatAmount(1n), '0.000001');
    assert.equal(formatAmount(12_500_000n), '12.50');
    assert.equal(formatAmount(0n), '0.00');
    assert.equal(formatAmount(1_230_000n), '1.23');
    assert.throws(() => formatAmount(-1n), RangeError);
    assert.throws(() => formatAmount(amountMicrosMax + 1n), RangeError);
  });

  it('formats ledger amounts the same way, negative ones with a sign and large ones unbounded', () => {
    assert.equal(formatLedgerAmount(10_500_000n), '10.50');
    assert.equal(formatLedgerAmount(0n), '0.00');
    assert.equal(formatLedgerAmount(-1_230_000n), '-1.23');
    assert.equal(formatLedgerAmount(-1n), '-0.000001');
    assert.equal(formatLedgerAmount(amountMicrosMax * 3n + 1n), '3000000000000.000001');
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: amountMicrosMax }), (micros) => {
        assert.equal(formatLedgerAmount(micros), formatAmount(micros));
        assert.equal(
          formatLedgerAmount(-micros),
          micros === 0n ? '0.00' : `-${formatAmount(micros)}`,
        );
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips every amount: parse(format(micros)) = micros', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: amountMicrosMax }), (micros) => {
        assert.deepEqual(parseAmount(formatAmount(micros)), { ok: true, value: micros });
      }),
      { numRuns: 500 },
    );
  });

  it('tells valid amount texts without a bigint, exactly as parseAmount does', () => {
    for (const text of ['0', '0.02', '999999999999.999999', '1000000000000', '12.5']) {
      assert.equal(isAmountText(text), true, text);
    }
    for (const text of ['1000000000000.000001', '9999999999999', '01', '0.0000001', '', ' 1']) {
      assert.equal(isAmountText(text), false, text);
    }
    assert.equal(isAmountText(12 as unknown as string), false);
    const spellings = fc.oneof(
      fc.bigInt({ min: 0n, max: amountMicrosMax + 10n }).map((micros) => {
        const whole = micros / 1_000_000n;
        return `${whole}.${(micros % 1_000_000n).toString().padStart(6, '0')}`;
      }),
      fc.stringMatching(/^[0-9.]{1,16}$/),
    );
    fc.assert(
      fc.property(spellings, (text) => {
        assert.equal(isAmountText(text), parseAmount(text).ok, text);
      }),
      { numRuns: 1000 },
    );
  });

  it('compares amount texts by value, equal texts only when valid', () => {
    assert.equal(sameAmountText('0.02', '0.02'), true);
    assert.equal(sameAmountText('0.02', '0.020'), true);
    assert.equal(sameAmountText('0.02', '0.03'), false);
    assert.equal(sameAmountText('01', '01'), false, 'equal but not an amount');
    assert.equal(sameAmountText('9999999999999', '9999999999999'), false, 'equal but too large');
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9.]{1,8}$/),
        fc.stringMatching(/^[0-9.]{1,8}$/),
        (a, b) => {
          const left = parseAmount(a);
          const right = parseAmount(b);
          const expected = left.ok && right.ok && left.value === right.value;
          assert.equal(sameAmountText(a, b), expected);
          assert.equal(sameAmountText(a, a), left.ok);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
