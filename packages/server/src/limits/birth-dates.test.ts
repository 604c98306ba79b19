import assert from 'node:assert/strict';
import { test } from 'node:test';
import { birthDateProblem, isMinorAt, parseBirthDate } from './birth-dates.ts';

test('parseBirthDate takes real dates only', () => {
  assert.deepEqual(parseBirthDate('2008-02-29'), { year: 2008, month: 2, day: 29 });
  for (const wrong of ['2007-02-29', '2007-04-31', '2007-13-01', '2007-00-10', '07-01-01', '']) {
    assert.equal(parseBirthDate(wrong), undefined, wrong);
  }
});

test('a minor comes of age at the start of the 19th birthday in the zone given', () => {
  const born = { year: 2007, month: 12, day: 8 };
  const seoulMidnight = Date.UTC(2026, 11, 7, 15);
  assert.equal(isMinorAt(born, seoulMidnight - 1, 'Asia/Seoul'), true);
  assert.equal(isMinorAt(born, seoulMidnight, 'Asia/Seoul'), false);
  assert.equal(isMinorAt(born, seoulMidnight, 'UTC'), true, 'still the 7th in UTC');
  assert.equal(isMinorAt(born, Date.UTC(2026, 11, 8), 'UTC'), false);
  // West of UTC the birthday starts later: 05:00 UTC in New York in winter.
  assert.equal(isMinorAt(born, Date.UTC(2026, 11, 8, 4, 59), 'America/New_York'), true);
  assert.equal(isMinorAt(born, Date.UTC(2026, 11, 8, 5), 'America/New_York'), false);
});

test('born on 29 February, one comes of age on 1 March in a year without one', () => {
  const born = { year: 2008, month: 2, day: 29 };
  assert.equal(isMinorAt(born, Date.UTC(2027, 1, 28, 23, 59), 'UTC'), true);
  assert.equal(isMinorAt(born, Date.UTC(2027, 2, 1), 'UTC'), false);
});

test('a birth date is not in the future nor absurdly long ago', () => {
  const now = Date.UTC(2026, 11, 7, 15);
  assert.match(String(birthDateProblem({ year: 2026, month: 12, day: 8 }, now, 'UTC')), /future/);
  assert.equal(birthDateProblem({ year: 2026, month: 12, day: 8 }, now, 'Asia/Seoul'), undefined);
  assert.match(String(birthDateProblem({ year: 1870, month: 1, day: 1 }, now, 'UTC')), /150/);
});
