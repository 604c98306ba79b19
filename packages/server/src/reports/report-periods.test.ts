import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bucketCount,
  buckets,
  formatDay,
  intervalStartMs,
  parseDay,
  type ReportInterval,
} from './report-periods.ts';

const day = (text: string) => {
  const ms = parseDay(text);
  assert.ok(ms !== undefined, text);
  return ms;
};

const shown = (interval: ReportInterval, from: string, to: string) =>
  buckets(interval, day(from), day(to)).map(
    (bucket) => `${formatDay(bucket.startMs)}..${formatDay(bucket.endMs - 86_400_000)}`,
  );

describe('report periods', () => {
  it('starts weeks on Monday and months on the first, in UTC', () => {
    // 2027-01-03 is a Sunday, 2027-01-04 a Monday.
    assert.equal(
      formatDay(intervalStartMs('week', Date.UTC(2027, 0, 3, 23, 59, 59, 999))),
      '2026-12-28',
    );
    assert.equal(formatDay(intervalStartMs('week', Date.UTC(2027, 0, 4))), '2027-01-04');
    assert.equal(formatDay(intervalStartMs('week', Date.UTC(1970, 0, 1))), '1969-12-29');
    assert.equal(formatDay(intervalStartMs('month', Date.UTC(2024, 1, 29, 12))), '2024-02-01');
    assert.equal(formatDay(intervalStartMs('day', Date.UTC(2024, 1, 29, 23, 59))), '2024-02-29');
  });

  it('covers the days asked, every bucket clipped to them', () => {
    assert.deepEqual(shown('week', '2026-12-31', '2027-01-11'), [
      '2026-12-31..2027-01-03',
      '2027-01-04..2027-01-10',
      '2027-01-11..2027-01-11',
    ]);
    assert.deepEqual(shown('month', '2024-01-31', '2024-03-01'), [
      '2024-01-31..2024-01-31',
      '2024-02-01..2024-02-29',
      '2024-03-01..2024-03-01',
    ]);
    assert.deepEqual(shown('day', '2024-12-31', '2025-01-01'), [
      '2024-12-31..2024-12-31',
      '2025-01-01..2025-01-01',
    ]);
  });

  it('counts buckets before making them', () => {
    for (const [interval, from, to] of [
      ['day', '2024-01-01', '2024-12-31'],
      ['week', '2026-12-31', '2027-01-11'],
      ['month', '2020-02-29', '2027-01-01'],
      ['month', '2027-01-01', '2027-01-01'],
    ] as const) {
      assert.equal(
        bucketCount(interval, day(from), day(to)),
        buckets(interval, day(from), day(to)).length,
      );
    }
    assert.equal(bucketCount('day', day('2024-01-01'), day('2024-12-31')), 366);
  });

  it('reads only real days of the calendar', () => {
    assert.equal(parseDay('2024-02-29'), Date.UTC(2024, 1, 29));
    for (const text of [
      '2023-02-29',
      '2024-13-01',
      '2024-1-01',
      '24-01-01',
      '2024-01-01T00:00:00Z',
      '1969-12-31',
    ]) {
      assert.equal(parseDay(text), undefined, text);
    }
  });
});
