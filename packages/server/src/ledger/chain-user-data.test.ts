import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uuidv7 } from 'uuidv7';
import { chainRecordId, chainUserData } from './chain-user-data.ts';

describe('chain user data', () => {
  it('carries a payment or refund id in 128 bits and reads it back', () => {
    for (const prefix of ['pay_', 'ref_'] as const) {
      const id = `${prefix}${uuidv7()}`;
      const userData = chainUserData(id);
      assert.ok(userData > 0n && userData < 1n << 128n);
      assert.equal(chainRecordId(prefix, userData), id);
    }
  });

  it('names no record for 0 (transfers made before), which other ids carry', () => {
    assert.equal(chainRecordId('pay_', 0n), undefined);
    assert.equal(chainUserData(`off_${uuidv7()}`), 0n);
    assert.equal(chainUserData('pay_written-by-hand'), 0n);
  });
});
