import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAmount } from '@mite/protocol';
import fc from 'fast-check';
import { amountSchema } from './amount-schema.ts';

/** Texts near the amounts' edges: digits, points and a few other characters. */
const amountLikeText = fc.oneof(
  fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** 13n }), fc.option(fc.stringMatching(/^[0-9]{0,7}$/)))
    .map(([whole, decimals]) => (decimals === null ? `${whole}` : `${whole}.${decimals}`)),
  fc.stringMatching(/^[0-9]{1,14}(\.[0-9]{0,7})?$/),
  fc.constantFrom(
    '1000000000000',
    '1000000000000.0',
    '1000000000000.000000',
    '999999999999.999999',
  ),
  fc.string({ unit: fc.constantFrom('0', '1', '9', '.', '-', 'e', ' '), maxLength: 16 }),
);

describe('the amount schema', () => {
  it('accepts exactly what the parser accepts', () => {
    fc.assert(
      fc.property(amountLikeText, (text) => {
        assert.equal(amountSchema.safeParse(text).success, parseAmount(text).ok, text);
      }),
      { numRuns: 5_000 },
    );
  });

  it('refuses amounts above 10^12 that have 13 whole digits', () => {
    for (const text of ['1000000000000.000001', '1000000000001', '9999999999999.999999']) {
      assert.equal(amountSchema.safeParse(text).success, false, text);
    }
    assert.equal(amountSchema.safeParse('1000000000000.000000').success, true);
  });
});
