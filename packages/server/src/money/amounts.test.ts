import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { amountMicrosMax, formatAmount, parseAmount } from './amounts.ts';

describe('amounts on the wire', () => {
  it('parses decimal strings exactly', () => {
    const cases: [string, bigint][] = [
      ['0', 0n],
      ['0.02', 20_000n],
      ['0.000001', 1n],
      ['10', 10_000_000n],
      ['10.5', 10_500_000n],
      ['1000000000000', amountMicrosMax],
    ];
    for (const [text, micros] of cases) assert.deepEqual(parseAmount(text), { ok: true, micros });
  });

  it('refuses anything that is not an exact, non-negative decimal', () => {
    for (const text of [
      '',
      '-1',
      '1e3',
      '0.0000001',
      '01',
      '1.',
      '.5',
      ' 1',
      '1,5',
      'NaN',
      '0x10',
    ]) {
      assert.equal(parseAmount(text).ok, false, text);
    }
    assert.deepEqual(parseAmount('1000000000000.000001'), {
      ok: false,
      reason: 'the amount is too large',
    });
  });

  it('formats with two decimals at least and no float rounding', () => {
    assert.equal(formatAmount(0n), '0.00');
    assert.equal(formatAmount(20_000n), '0.02');
    assert.equal(formatAmount(1n), '0.000001');
    assert.equal(formatAmount(10_500_000n), '10.50');
    assert.equal(formatAmount(-1_230_000n), '-1.23');
  });

  it('round-trips every formatted amount', () => {
    for (const micros of [0n, 1n, 99n, 100_000n, 123_456_789n, amountMicrosMax]) {
      assert.deepEqual(parseAmount(formatAmount(micros)), { ok: true, micros });
    }
  });
});
