/**
 * The operator's time zone (issue 15): months roll over, and a minor turns adult, at midnight
 * there, not in UTC. Set with MITE_TIME_ZONE, an IANA name (`Asia/Seoul`); UTC by default.
 * Calendar arithmetic is Intl's (the time zone database Node ships), never hand-written offsets.
 */

export const operatorTimeZoneDefault = 'UTC';

/** The operator's time zone from the environment; an unknown name stops the platform starting. */
export function operatorTimeZoneFromEnv(env: Readonly<Record<string, string | undefined>>): string {
  const zone = env.MITE_TIME_ZONE;
  if (zone === undefined || zone === '') return operatorTimeZoneDefault;
  if (!isTimeZone(zone)) {
    throw new Error(
      `MITE_TIME_ZONE is an IANA time zone name (Asia/Seoul), not ${JSON.stringify(zone)}`,
    );
  }
  return zone;
}

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A calendar date in a time zone. */
export interface CalendarDate {
  readonly year: number;
  /** 1 to 12. */
  readonly month: number;
  /** 1 to 31. */
  readonly day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

/** The date it is in `zone` at `atMs`. */
export function calendarDateAt(atMs: number, zone: string): CalendarDate {
  const parts = formatterFor(zone).formatToParts(new Date(atMs));
  const part = (type: 'year' | 'month' | 'day') =>
    Number(parts.find((candidate) => candidate.type === type)?.value);
  return { year: part('year'), month: part('month'), day: part('day') };
}

/** The month it is in `zone` at `atMs`, as `YYYY-MM`: the key monthly spending is kept under. */
export function monthKeyAt(atMs: number, zone: string): string {
  const { year, month } = calendarDateAt(atMs, zone);
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`;
}

/** The wall-clock offset of `zone` from UTC at `atMs`, in ms (positive east of Greenwich). */
function offsetMsAt(atMs: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(atMs));
  const part = (type: Intl.DateTimeFormatPartTypes) =>
    Number(parts.find((candidate) => candidate.type === type)?.value);
  const wall = Date.UTC(
    part('year'),
    part('month') - 1,
    part('day'),
    part('hour'),
    part('minute'),
    part('second'),
  );
  return wall - Math.floor(atMs / 1000) * 1000;
}

/** The instant the month of `atMs` began in `zone`: midnight of its first day there. */
export function monthStartMsAt(atMs: number, zone: string): number {
  const { year, month } = calendarDateAt(atMs, zone);
  const midnightAsUtc = Date.UTC(year, month - 1, 1);
  // The offset at the guess may differ from the one at midnight across a change of offset, so
  // the guess is corrected once with the offset found there.
  const guess = midnightAsUtc - offsetMsAt(midnightAsUtc, zone);
  return midnightAsUtc - offsetMsAt(guess, zone);
}
