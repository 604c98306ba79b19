import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { codeOf } from './testing.ts';
import { formatTimestamp, parseTimestamp, timestampSecondsMax } from './timestamps.ts';

describe('timestamps', () => {
  it('writes and reads RFC 3339 UTC to the second', () => {
    assert.equal(formatTimestamp(1_736_942_700), '2025-01-15T12:05:00Z');
    assert.deepEqual(parseTimestamp('2025-01-15T12:05:00Z'), { ok: true, value: 1_736_942_700 });
    assert.equal(formatTimestamp(0), '1970-01-01T00:00:00Z');
    assert.equal(formatTimestamp(timestampSecondsMax), '9999-12-31T23:59:59Z');
    assert.throws(() => formatTimestamp(1.5), RangeError);
    assert.throws(() => formatTimestamp(-1), RangeError);
  });

  it('refuses other profiles and impossible instants', () => {
    for (const text of [
      '2025-01-15T12:05:00+00:00',
      '2025-01-15T12:05:00.000Z',
      '2025-01-15t12:05:00z',
      '2025-01-15 12:05:00Z',
      '2025-02-30T00:00:00Z',
      '2025-01-15T24:00:00Z',
      '2016-12-31T23:59:60Z',
      '1969-12-31T23:59:59Z',
      '+02025-01-15T12:05:00Z',
      '',
    ]) {
      assert.equal(codeOf(parseTimestamp(text)), 'badTimestamp', text);
    }
    assert.equal(codeOf(parseTimestamp(5 as unknown as string)), 'wrongType');
  });

  it('round-trips every second from 1970 to 9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: timestampSecondsMax }), (seconds) => {
        assert.deepEqual(parseTimestamp(formatTimestamp(seconds)), { ok: true, value: seconds });
      }),
    );
  });
});
