import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  paywordChain,
  paywordChainLengthMax,
  paywordSeedLengthMin,
  paywordWordLength,
  paywordWordMatches,
} from './payword.ts';

const seed = new Uint8Array(32).map((_, index) => index + 11);
const sha256 = (bytes: Uint8Array) => new Uint8Array(createHash('sha256').update(bytes).digest());

describe('PayWord chain', () => {
  it('hashes the seed down to the anchor: H(word(k)) is word(k - 1)', () => {
    const chain = paywordChain(seed, 5);
    assert.equal(chain.length, 5);
    assert.deepEqual(chain.word(5), sha256(seed));
    for (let units = 1; units <= 5; units += 1) {
      assert.deepEqual(sha256(chain.word(units)), chain.word(units - 1));
    }
    assert.deepEqual(chain.anchor, chain.word(0));
    assert.equal(chain.anchor.length, paywordWordLength);
    // Words are copies: a caller that scribbles on one does not change the chain.
    chain.word(3).fill(0);
    assert.deepEqual(sha256(chain.word(3)), chain.word(2));
  });

  it('is a function of the seed: another seed, another anchor', () => {
    assert.deepEqual(paywordChain(seed, 4).anchor, paywordChain(seed, 4).anchor);
    const other = seed.slice();
    other[0] = 0;
    assert.notDeepEqual(paywordChain(other, 4).anchor, paywordChain(seed, 4).anchor);
    // The anchor commits to the length too.
    assert.notDeepEqual(paywordChain(seed, 5).anchor, paywordChain(seed, 4).anchor);
  });

  it('refuses short seeds, lengths out of range, and words beyond the chain', () => {
    assert.throws(() => paywordChain(new Uint8Array(paywordSeedLengthMin - 1), 4), RangeError);
    assert.throws(() => paywordChain(seed, 0), RangeError);
    assert.throws(() => paywordChain(seed, paywordChainLengthMax + 1), RangeError);
    assert.throws(() => paywordChain(seed, 1.5), RangeError);
    const chain = paywordChain(seed, 4);
    assert.throws(() => chain.word(5), RangeError);
    assert.throws(() => chain.word(-1), RangeError);
    assert.throws(() => chain.word(0.5), RangeError);
  });
});

describe('paywordWordMatches', () => {
  const chain = paywordChain(seed, 50);

  it('accepts the next word, and a word several units on', () => {
    assert.ok(paywordWordMatches(chain.word(1), 1, chain.anchor, 0));
    assert.ok(paywordWordMatches(chain.word(11), 11, chain.word(10), 10));
    assert.ok(paywordWordMatches(chain.word(50), 50, chain.anchor, 0));
    assert.ok(paywordWordMatches(chain.word(30), 30, chain.word(7), 7));
  });

  it('refuses a word for another count of units', () => {
    assert.equal(paywordWordMatches(chain.word(12), 11, chain.word(10), 10), false);
    assert.equal(paywordWordMatches(chain.word(11), 12, chain.word(10), 10), false);
  });

  it('refuses a wrong word, and words of the wrong length', () => {
    const wrong = chain.word(11);
    wrong[31] = (wrong[31] ?? 0) ^ 1;
    assert.equal(paywordWordMatches(wrong, 11, chain.word(10), 10), false);
    assert.equal(
      paywordWordMatches(paywordChain(seed.slice().reverse(), 50).word(1), 1, chain.anchor, 0),
      false,
    );
    assert.equal(paywordWordMatches(chain.word(11).slice(1), 11, chain.word(10), 10), false);
    assert.equal(paywordWordMatches(chain.word(11), 11, chain.word(10).slice(1), 10), false);
  });

  it('refuses units at or below the known ones: the anchor is no payment', () => {
    assert.equal(paywordWordMatches(chain.word(10), 10, chain.word(10), 10), false);
    assert.equal(paywordWordMatches(chain.word(9), 9, chain.word(10), 10), false);
    assert.equal(paywordWordMatches(chain.anchor, 0, chain.anchor, 0), false);
    assert.equal(paywordWordMatches(chain.word(1), 1.5, chain.anchor, 0), false);
    assert.equal(
      paywordWordMatches(chain.word(1), Number.MAX_SAFE_INTEGER + 2, chain.anchor, 0),
      false,
    );
  });

  it('for any j < k within the chain, word(k) reaches word(j) and no other', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 49 }),
        fc.integer({ min: 1, max: 50 }),
        (known, step) => {
          const units = Math.min(50, known + step);
          if (units <= known) return;
          assert.ok(paywordWordMatches(chain.word(units), units, chain.word(known), known));
          if (units < 50) {
            assert.equal(
              paywordWordMatches(chain.word(units + 1), units, chain.word(known), known),
              false,
            );
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
