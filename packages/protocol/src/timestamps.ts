/**
 * RFC 3339 timestamps, as the Payment draft writes `expires` and receipt times. Mite writes and
 * reads one profile only: UTC, whole seconds, upper-case `T` and `Z` ("2025-01-15T12:05:00Z").
 * One spelling per instant keeps a timestamp that an HMAC covers from being re-spelled.
 */
import { accepted, type Decoded, refused } from './problems.ts';

/** The latest instant the profile can write: 9999-12-31T23:59:59Z. */
export const timestampSecondsMax = 253_402_300_799;

const timestampPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

function isTimestampSeconds(seconds: number): boolean {
  return Number.isSafeInteger(seconds) && seconds >= 0 && seconds <= timestampSecondsMax;
}

/** Formats seconds since the epoch; a time outside years 1970-9999 is a bug in the caller. */
export function formatTimestamp(seconds: number): string {
  if (!isTimestampSeconds(seconds)) {
    throw new RangeError(`a timestamp is whole seconds from 0 to ${timestampSecondsMax}`);
  }
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

/** Parses the profile back into seconds; impossible dates (February 30th, 24:00) are refused. */
export function parseTimestamp(text: string): Decoded<number> {
  if (typeof text !== 'string') return refused('wrongType', 'a timestamp is a string');
  if (!timestampPattern.test(text)) {
    return refused(
      'badTimestamp',
      'a timestamp is RFC 3339 UTC to the second, like 2025-01-15T12:05:00Z',
    );
  }
  const milliseconds = Date.parse(text);
  const seconds = milliseconds / 1000;
  // Date.parse rolls some impossible dates over; writing the result back catches them.
  if (!isTimestampSeconds(seconds) || formatTimestamp(seconds) !== text) {
    return refused('badTimestamp', `${text} is not a real instant`);
  }
  return accepted(seconds);
}
