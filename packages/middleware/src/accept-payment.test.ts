import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptedWeight, acceptPaymentLengthMax, refusesMiteCharge } from './accept-payment.ts';

describe('Accept-Payment', () => {
  it('weighs mite/charge by the most specific range that matches it', () => {
    const weight = (header: string) => acceptedWeight(header, 'mite', 'charge');
    assert.equal(weight('mite/charge'), 1);
    assert.equal(weight('mite/charge;q=0.5'), 0.5);
    assert.equal(weight('*/*'), 1);
    assert.equal(weight('tempo/charge'), 0);
    assert.equal(weight('tempo/charge, stripe/*'), 0);
    assert.equal(weight('*/*, mite/*;q=0'), 0);
    assert.equal(weight('mite/charge;q=0, */*'), 0);
    assert.equal(weight('mite/*;q=0, mite/charge'), 1);
    // An exact method outranks an exact intent.
    assert.equal(weight('*/charge;q=0, mite/*'), 1);
    assert.equal(weight('*/charge, mite/*;q=0'), 0);
    assert.equal(weight('tempo/charge, */*;q=0.1'), 0.1);
    assert.equal(weight('MITE/Charge ; Q=0.000'), 0);
    assert.equal(weight(' , mite/charge ,'), 1);
  });

  it('reads a malformed header as absent, which the draft allows to ignore', () => {
    for (const header of [
      'mite',
      'mite/charge;q=2',
      'mite/charge;q=0.0001',
      'mite/charge;level=1',
      'mite charge',
      'mite/charge/x',
      `tempo/charge,${' '.repeat(acceptPaymentLengthMax)}`,
    ]) {
      assert.equal(acceptedWeight(header, 'mite', 'charge'), undefined, header);
      assert.equal(refusesMiteCharge({ 'accept-payment': header }), false, header);
    }
  });

  it('refuses only when the header is there, well-formed, and excludes mite/charge', () => {
    assert.equal(refusesMiteCharge({}), false);
    assert.equal(refusesMiteCharge({ 'accept-payment': 'mite/charge' }), false);
    assert.equal(refusesMiteCharge({ 'accept-payment': 'tempo/charge' }), true);
    assert.equal(refusesMiteCharge({ 'Accept-Payment': 'tempo/charge' }), true);
    assert.equal(refusesMiteCharge({ 'accept-payment': ['tempo/charge', 'mite/*'] }), false);
    assert.equal(refusesMiteCharge({ 'accept-payment': ['tempo/charge', 'stripe/*'] }), true);
  });
});
