import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  calendarDateAt,
  monthKeyAt,
  monthStartMsAt,
  operatorTimeZoneFromEnv,
} from './operator-time-zone.ts';

describe('the operator\u2019s time zone', () => {
  it('is UTC by default, an IANA name when set, and refuses a name it does not know', () => {
    assert.equal(operatorTimeZoneFromEnv({}), 'UTC');
    assert.equal(operatorTimeZoneFromEnv({ MITE_TIME_ZONE: 'Asia/Seoul' }), 'Asia/Seoul');
    assert.throws(
      () => operatorTimeZoneFromEnv({ MITE_TIME_ZONE: 'Mars/Olympus' }),
      /MITE_TIME_ZONE is an IANA time zone name/,
    );
  });

  it('turns the month at midnight there, not in UTC', () => {
    const seoulMidnight = Date.UTC(2026, 11, 31, 15, 0, 0); // 2027-01-01 00:00 in Seoul
    assert.equal(monthKeyAt(seoulMidnight - 1, 'Asia/Seoul'), '2026-12');
    assert.equal(monthKeyAt(seoulMidnight, 'Asia/Seoul'), '2027-01');
    assert.equal(monthKeyAt(seoulMidnight, 'UTC'), '2026-12');
    assert.deepEqual(calendarDateAt(seoulMidnight, 'Asia/Seoul'), { year: 2027, month: 1, day: 1 });
    assert.equal(monthStartMsAt(seoulMidnight + 5 * 86_400_000, 'Asia/Seoul'), seoulMidnight);
  });

  it('finds a month\u2019s start across a change to summer time', () => {
    // New York: 2026-03-08 is the day clocks go forward; April starts at 04:00 UTC (EDT), March
    // started at 05:00 UTC (EST).
    const april = Date.UTC(2026, 3, 15, 12);
    assert.equal(monthStartMsAt(april, 'America/New_York'), Date.UTC(2026, 3, 1, 4));
    assert.equal(
      monthStartMsAt(Date.UTC(2026, 2, 20), 'America/New_York'),
      Date.UTC(2026, 2, 1, 5),
    );
    assert.equal(monthStartMsAt(Date.UTC(2026, 10, 20), 'UTC'), Date.UTC(2026, 10, 1));
  });
});
