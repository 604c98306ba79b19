/**
 * The field rules every Mite message shares, as zod schemas, and the one place where a zod issue
 * becomes a protocol error code. Each limit is a named constant so that documentation, tests and
 * callers refer to the same number.
 */
import * as z from 'zod/mini';
import {
  amountTextLengthMax,
  parseAmount,
  parseBaseUnits,
  parsePositiveAmount,
} from './amounts.ts';
import { accepted, type Decoded, type ProtocolErrorCode, refused } from './problems.ts';
import { timestampSecondsMax } from './timestamps.ts';

/** The longest identifier (merchant, payment, payer pseudonym). */
export const identifierLengthMax = 128;
/** The longest resource: a URL or a path, already percent-encoded. */
export const resourceLengthMax = 1024;
/** The longest human description, in UTF-16 code units. */
export const descriptionLengthMax = 200;
/** The longest realm. */
export const realmLengthMax = 128;
/** The longest platform base URL. */
export const platformUrlLengthMax = 256;
/** The longest category slug. */
export const categoryLengthMax = 32;
/** The longest access period a purchase may grant: ten years of 365 days. */
export const accessPeriodSecondsMax = 315_360_000;

/** A refinement whose failure is reported as `code` rather than the generic badValue. */
export function codedRefine<T>(
  test: (value: T) => boolean,
  code: ProtocolErrorCode,
  message: string,
): z.core.$ZodCheck<T> {
  return z.refine(test, { message, params: { protocolCode: code } });
}

/** A positive decimal amount ("0.02"). */
export const amountTextSchema = z.string().check(
  z.maxLength(amountTextLengthMax),
  codedRefine(
    (text: string) => parsePositiveAmount(text).ok,
    'badAmount',
    'a positive decimal amount with at most 6 decimals, like "0.02"',
  ),
);

/**
 * A decimal amount that may be zero ("0.00"): what a receipt says was charged, which a merchant's
 * fair-price cap can bring down to nothing (receipt-claims.ts requires the signed full price then).
 */
export const chargedAmountTextSchema = z.string().check(
  z.maxLength(amountTextLengthMax),
  codedRefine(
    (text: string) => parseAmount(text).ok,
    'badAmount',
    'a decimal amount with at most 6 decimals, like "0.02"',
  ),
);

/** A payment request's amount: an integer string of micro-units above zero ("20000"). */
export const baseUnitsSchema = z.string().check(
  z.maxLength(amountTextLengthMax),
  codedRefine(
    (text: string) => parseBaseUnits(text).ok,
    'badAmount',
    'an integer of micro-units above 0, like "20000" for 0.02',
  ),
);

/**
 * A payment request's currency: an ISO 4217 code, which the charge intent writes in lower case
 * ("usd"); upper case is read too, since Mite wrote it so before.
 */
export const requestCurrencySchema = z
  .string()
  .check(
    codedRefine(
      (text: string) => /^(?:[a-z]{3}|[A-Z]{3})$/.test(text),
      'badCurrency',
      'three letters, all lower case (or all upper case)',
    ),
  );

/** An ISO 4217 code; which codes a platform accepts is the verifier's business. */
export const currencySchema = z
  .string()
  .check(
    codedRefine(
      (text: string) => /^[A-Z]{3}$/.test(text),
      'badCurrency',
      'three upper-case letters',
    ),
  );

/** An opaque identifier: letters, digits and `._:~-`, starting with a letter or digit. */
export const identifierSchema = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(identifierLengthMax),
    z.regex(/^[A-Za-z0-9][A-Za-z0-9._:~-]*$/, 'letters, digits and ._:~- only'),
  );

/** A resource: visible ASCII, since URLs and paths on the wire are percent-encoded. */
export const resourceSchema = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(resourceLengthMax),
    z.regex(/^[\x21-\x7e]+$/, 'visible ASCII only (percent-encode the rest)'),
  );

/** Whether a text is an absolute http(s) URL without credentials or fragment. */
export function isPlatformUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  const webScheme = url.protocol === 'https:' || url.protocol === 'http:';
  return webScheme && url.username === '' && url.password === '' && !text.includes('#');
}

/** The platform's base URL, where the client pays. */
export const platformUrlSchema = z
  .string()
  .check(
    z.maxLength(platformUrlLengthMax),
    codedRefine(isPlatformUrl, 'badUrl', 'an absolute http(s) URL without credentials'),
  );

// Control characters, lone surrogates, line separators and bidirectional overrides could break a
// display or make a payment prompt read differently from what it says.
const undisplayable = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\u202a-\u202e\u2066-\u2069]/u;

/** Text shown to a person: any language, nothing that disturbs a display. */
export const displayTextSchema = z.string().check(
  z.minLength(1),
  z.maxLength(descriptionLengthMax),
  z.refine((text: string) => !undisplayable.test(text), 'no control or bidi-override characters'),
);

/** A category slug for budgets and policy ("news", "music-streams"). */
export const categorySchema = z
  .string()
  .check(
    z.maxLength(categoryLengthMax),
    z.regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and hyphens'),
  );

/** Whole seconds a purchase keeps the resource open. */
export const accessPeriodSecondsSchema = z
  .int()
  .check(z.minimum(0), z.maximum(accessPeriodSecondsMax));

/** Seconds since the epoch. */
export const timestampSecondsSchema = z.int().check(z.minimum(0), z.maximum(timestampSecondsMax));

function hasPath(input: unknown, path: readonly PropertyKey[]): boolean {
  let current: unknown = input;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return false;
    if (!Object.prototype.hasOwnProperty.call(current, key)) return false;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return true;
}

// The codes a custom issue may name; anything else is reported as badValue.
const refinementCodes: ReadonlySet<string> = new Set<ProtocolErrorCode>([
  'badAmount',
  'badCurrency',
  'badUrl',
  'badTimestamp',
  'duplicateEntry',
]);

function codeOf(issue: z.core.$ZodIssue, input: unknown): ProtocolErrorCode {
  switch (issue.code) {
    case 'unrecognized_keys':
      return 'unknownField';
    case 'invalid_type':
      return hasPath(input, issue.path) ? 'wrongType' : 'missingField';
    case 'invalid_value':
      // A literal (`decimals: 6`) that is absent is missing, not wrong.
      return hasPath(input, issue.path) ? 'badValue' : 'missingField';
    case 'too_big':
      if (issue.origin === 'string') return 'valueTooLong';
      return issue.origin === 'array' ? 'tooManyEntries' : 'badValue';
    case 'custom': {
      const code: unknown = issue.params?.['protocolCode'];
      return typeof code === 'string' && refinementCodes.has(code)
        ? (code as ProtocolErrorCode)
        : 'badValue';
    }
    default:
      return 'badValue';
  }
}

// zod/mini carries no message catalogue (which keeps it small in browsers), so the generic issues
// are described here; issues raised with a message of ours keep it.
function messageOf(issue: z.core.$ZodIssue, input: unknown): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown field ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`;
    case 'invalid_type':
      return hasPath(input, issue.path) ? `expected ${issue.expected}` : 'missing';
    case 'too_big':
      if (issue.origin === 'string') return `longer than ${issue.maximum} characters`;
      return issue.origin === 'array'
        ? `more than ${issue.maximum} entries`
        : `above ${issue.maximum}`;
    case 'too_small':
      if (issue.origin !== 'string') return `below ${issue.minimum}`;
      return issue.minimum === 1 ? 'must not be empty' : `shorter than ${issue.minimum} characters`;
    case 'invalid_value':
      if (!hasPath(input, issue.path)) return 'missing';
      return `must be ${issue.values.map((value) => JSON.stringify(value)).join(' or ')}`;
    default:
      return issue.message;
  }
}

function describePath(subject: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, key) => (typeof key === 'number' ? `${text}[${key}]` : `${text}.${String(key)}`),
    subject,
  );
}

/** Validates input against a schema; the first issue becomes the code and a detail. */
export function decodeWithSchema<T>(
  schema: z.ZodMiniType<T>,
  input: unknown,
  subject: string,
): Decoded<T> {
  const result = schema.safeParse(input);
  if (result.success) return accepted(result.data);
  const issue = result.error.issues[0];
  if (issue === undefined) return refused('badValue', `${subject} is invalid`);
  const where = describePath(subject, issue.path);
  return refused(codeOf(issue, input), `${where}: ${messageOf(issue, input)}`);
}
