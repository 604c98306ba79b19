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

  it('names no record for 0 (transfers made before) and refuses ids of other records', () => {
    assert.equal(chainRecordId('pay_', 0n), undefined);
    assert.throws(() => chainUserData(`off_${uuidv7()}`), /not a payment or refund id/);
    assert.throws(() => chainUserData('pay_not-a-uuid'), /not a payment or refund id/);
  });
});
