import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitPayment } from './revenue-split.ts';

describe('revenue split', () => {
  it('takes the fee rounded half up and shares the rest by largest remainders', () => {
    const split = splitPayment(100n, 1_000, [
      { key: 'a', shareBasisPoints: 3_333 },
      { key: 'b', shareBasisPoints: 3_333 },
      { key: 'c', shareBasisPoints: 3_334 },
    ]);
    assert.equal(split.platformFeeMicros, 10n);
    // 90 micro-units: exact shares 29.997, 29.997, 30.006 -> floors 29, 29, 30; 2 left over go
    // to the largest fractions (a and b, 0.997 each).
    assert.deepEqual(
      split.legs.map((leg) => leg.amountMicros),
      [30n, 30n, 30n],
    );
  });

  it('gives equal fractions to the party listed first', () => {
    const split = splitPayment(1n, 0, [
      { key: 'first', shareBasisPoints: 5_000 },
      { key: 'second', shareBasisPoints: 5_000 },
    ]);
    assert.deepEqual(split.legs, [
      { key: 'first', amountMicros: 1n },
      { key: 'second', amountMicros: 0n },
    ]);
  });

  it('never loses or creates a micro-unit, and stays within one of every exact share', () => {
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 2_000; round++) {
      const parties = 1 + random(6);
      const cuts = Array.from({ length: parties - 1 }, () => random(10_001)).sort((a, b) => a - b);
      const bounds = [0, ...cuts, 10_000];
      const shares = bounds
        .slice(1)
        .map((end, i) => ({ key: i, shareBasisPoints: end - (bounds[i] ?? 0) }));
      const amount = BigInt(random(1_000_000)) * BigInt(1 + random(1000));
      const fee = random(3_001);
      const split = splitPayment(amount, fee, shares);
      const total = split.legs.reduce(
        (sum, leg) => sum + leg.amountMicros,
        split.platformFeeMicros,
      );
      assert.equal(total, amount);
      const rest = amount - split.platformFeeMicros;
      split.legs.forEach((leg, i) => {
        const exactTimes10k = rest * BigInt(shares[i]?.shareBasisPoints ?? 0);
        const diff = leg.amountMicros * 10_000n - exactTimes10k;
        assert.ok(diff > -10_000n && diff < 10_000n, `round ${round}: leg ${i} strays`);
      });
    }
  });

  it('refuses shares that do not add up, as a bug in the caller', () => {
    assert.throws(() => splitPayment(10n, 0, [{ key: 'a', shareBasisPoints: 9_999 }]), /10000/);
    assert.throws(() => splitPayment(10n, 0, []), /10000/);
    assert.throws(() => splitPayment(10n, 10_001, [{ key: 'a', shareBasisPoints: 10_000 }]), /fee/);
  });
});
