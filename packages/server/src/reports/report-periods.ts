/**
 * The periods reports are cut into: UTC days, weeks starting on Monday, and calendar months, all
 * in UTC, so that a bucket means the same to every merchant and every node whatever its zone.
 */

export const dayMs = 86_400_000;

export type ReportInterval = 'day' | 'week' | 'month';
export const reportIntervals = ['day', 'week', 'month'] as const;

/** Most buckets one earnings report holds: a leap year of days, so a year of days fits. */
export const reportBucketsMax = 366;

/** Midnight UTC of the day `ms` falls in. */
export function dayStartMs(ms: number): number {
  return Math.floor(ms / dayMs) * dayMs;
}

/** The start of the interval holding `ms`: its day, its week's Monday, or its month's first. */
export function intervalStartMs(interval: ReportInterval, ms: number): number {
  const day = dayStartMs(ms);
  switch (interval) {
    case 'day':
      return day;
    case 'week': {
      // 1970-01-01 was a Thursday: three days after a Monday.
      const sinceMonday = (((day / dayMs + 3) % 7) + 7) % 7;
      return day - sinceMonday * dayMs;
    }
    case 'month': {
      const date = new Date(day);
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
    }
  }
}

/** The start of the interval after the one starting at `startMs`. */
export function nextIntervalStartMs(interval: ReportInterval, startMs: number): number {
  switch (interval) {
    case 'day':
      return startMs + dayMs;
    case 'week':
      return startMs + 7 * dayMs;
    case 'month': {
      const date = new Date(startMs);
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
    }
  }
}

/** How many buckets of `interval` the days from `fromDayMs` to `toDayMs` (inclusive) touch. */
export function bucketCount(interval: ReportInterval, fromDayMs: number, toDayMs: number): number {
  const first = intervalStartMs(interval, fromDayMs);
  const last = intervalStartMs(interval, toDayMs);
  switch (interval) {
    case 'day':
      return (last - first) / dayMs + 1;
    case 'week':
      return (last - first) / (7 * dayMs) + 1;
    case 'month': {
      const a = new Date(first);
      const b = new Date(last);
      return (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + b.getUTCMonth() - a.getUTCMonth() + 1;
    }
  }
}

/** A bucket of a report: the days from `startMs` (inclusive) to `endMs` (exclusive). */
export interface Bucket {
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * The buckets covering the days from `fromDayMs` to `toDayMs` inclusive, each clipped to them: a
 * report from a Wednesday by week starts with the days from that Wednesday to Sunday.
 */
export function buckets(interval: ReportInterval, fromDayMs: number, toDayMs: number): Bucket[] {
  const endMs = toDayMs + dayMs;
  const result: Bucket[] = [];
  for (let start = intervalStartMs(interval, fromDayMs); start < endMs;) {
    const next = nextIntervalStartMs(interval, start);
    result.push({ startMs: Math.max(start, fromDayMs), endMs: Math.min(next, endMs) });
    start = next;
  }
  return result;
}

/** The midnight UTC a `YYYY-MM-DD` date names, or undefined for no such date. */
export function parseDay(text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (match === null) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const ms = Date.UTC(year, month - 1, day);
  const date = new Date(ms);
  const same =
    date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return same && year >= 1970 ? ms : undefined;
}

/** `YYYY-MM-DD` of a midnight UTC. */
export function formatDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
