/**
 * Declared birth dates and the age of majority (issue 15 item 1: minors by declared birth date).
 * A person comes of age at midnight, in the operator's time zone, at the start of their 19th
 * birthday; born on 29 February, on 1 March in years without one. Dates are compared as
 * calendar dates (year, month, day), never as instants, so no offset arithmetic is involved.
 */
import { type CalendarDate, calendarDateAt } from './operator-time-zone.ts';

/** Korea's age of majority (Civil Act article 4), which the carrier-billing rules follow. */
export const ageOfMajorityYears = 19;
/** The oldest birth date taken, in years before today: anything older is a typing mistake. */
export const declaredAgeYearsMax = 150;

const birthDatePattern = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `YYYY-MM-DD` as a calendar date, if it is a real one (no 31 April, no 29 February 2023). */
export function parseBirthDate(text: string): CalendarDate | undefined {
  const match = birthDatePattern.exec(text);
  if (match === null) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (
    probe.getUTCFullYear() !== year ||
    probe.getUTCMonth() !== month - 1 ||
    probe.getUTCDate() !== day
  ) {
    return undefined;
  }
  return { year, month, day };
}

export function formatBirthDate(date: CalendarDate): string {
  const pad = (value: number, width: number) => String(value).padStart(width, '0');
  return `${pad(date.year, 4)}-${pad(date.month, 2)}-${pad(date.day, 2)}`;
}

/** Negative, zero or positive as `a` is before, on or after `b`. */
export function compareDates(a: CalendarDate, b: CalendarDate): number {
  return a.year - b.year || a.month - b.month || a.day - b.day;
}

/** Whether someone born on `birthDate` is under the age of majority at `atMs` in `zone`. */
export function isMinorAt(birthDate: CalendarDate, atMs: number, zone: string): boolean {
  const today = calendarDateAt(atMs, zone);
  const comingOfAge = { ...birthDate, year: birthDate.year + ageOfMajorityYears };
  return compareDates(today, comingOfAge) < 0;
}

/** What is wrong with a declared birth date at `atMs`, in a sentence; undefined if nothing. */
export function birthDateProblem(
  birthDate: CalendarDate,
  atMs: number,
  zone: string,
): string | undefined {
  const today = calendarDateAt(atMs, zone);
  if (compareDates(birthDate, today) > 0) return 'A birth date cannot be in the future.';
  if (today.year - birthDate.year > declaredAgeYearsMax) {
    return `A birth date is at most ${declaredAgeYearsMax} years ago.`;
  }
  return undefined;
}
