import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimeOrderedIds } from './time-ordered-ids.ts';
import { U128_MAX } from './types.ts';

describe('time-ordered ids', () => {
  it('are strictly increasing, unique, and carry the time in their top 48 bits', () => {
    const ids = new TimeOrderedIds();
    const before = BigInt(Date.now());
    let last = 0n;
    for (let i = 0; i < 100_000; i++) {
      const id = ids.next();
      assert.ok(id > last && id <= U128_MAX);
      last = id;
    }
    const ms = last >> 80n;
    assert.ok(ms >= before && ms <= BigInt(Date.now()));
  });
});
