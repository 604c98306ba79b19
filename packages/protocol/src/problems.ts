/**
 * Every way a Mite protocol message can be refused, as one closed union of codes, and the RFC 9457
 * problem each code becomes on the wire. Decoders return these codes instead of throwing, so a
 * caller handles every defect by a `switch` the compiler checks for exhaustiveness.
 */
import type { ExplainedFailure, Success } from './result.ts';

/** Defects a decoder finds in a header or document: the message itself is malformed. */
export type DecodeErrorCode =
  | 'headerTooLong'
  | 'badCharacter'
  | 'malformedHeader'
  | 'unterminatedQuote'
  | 'duplicateParameter'
  | 'tooManyParameters'
  | 'unknownScheme'
  | 'unsupportedMethod'
  | 'unsupportedIntent'
  | 'unsupportedParameter'
  | 'unsupportedVersion'
  | 'missingParameter'
  | 'badParameter'
  | 'badBase64'
  | 'badJson'
  | 'valueTooLong'
  | 'tooManyEntries'
  | 'duplicateEntry'
  | 'unknownField'
  | 'missingField'
  | 'wrongType'
  | 'badValue'
  | 'badAmount'
  | 'badCurrency'
  | 'badUrl'
  | 'badTimestamp'
  | 'badJws'
  | 'futureDated'
  | 'challengeExpired';

/** Outcomes of the merchant middleware's verification of a well-formed credential. */
export type VerificationErrorCode =
  | 'paymentRequired'
  | 'invalidChallenge'
  | 'receiptInvalid'
  | 'unknownKey'
  | 'wrongMerchant'
  | 'wrongResource'
  | 'wrongAmount'
  | 'wrongCurrency'
  | 'receiptReplayed'
  | 'accessExpired'
  | 'challengeMismatch';

export type ProtocolErrorCode = DecodeErrorCode | VerificationErrorCode;

/**
 * The result of every decoder: a value, or a code from the closed union with a human detail. It is
 * a `Result` whose failures always say why, so a decoder's answer can be returned as a result.
 */
export type Decoded<T> = Success<T> | ExplainedFailure<ProtocolErrorCode>;

/** A refusal, assignable to `Decoded<T>` for any `T`. */
export type Refusal = Extract<Decoded<never>, { ok: false }>;

export function accepted<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

export function refused(code: ProtocolErrorCode, detail: string): Refusal {
  return { ok: false, code, detail };
}

/** Quotes a piece of received text for a detail, clipped, since details may be shown or logged. */
export function excerpt(text: string, lengthMax = 40): string {
  return JSON.stringify(text.length > lengthMax ? `${text.slice(0, lengthMax)}…` : text);
}

/** The prefix of every Mite problem `type` URI; the rest is the code in kebab case. */
export const problemTypeBase = 'https://mite.dev/problems/';

/** The media type of a problem body (RFC 9457). */
export const problemMediaType = 'application/problem+json';

interface ProblemEntry {
  readonly type: `${typeof problemTypeBase}${string}`;
  readonly title: string;
  /** 400 for a malformed message, 402 for a payment the client can make or make again. */
  readonly status: 400 | 402;
}

function entry(slug: string, title: string, status: 400 | 402): ProblemEntry {
  return { type: `${problemTypeBase}${slug}`, title, status };
}

/**
 * One row per code. The `type` URIs are stable: clients switch on them, so a row may be added but
 * never renamed. `satisfies` makes the table exhaustive: a new code does not compile without a row.
 */
export const problemTable = {
  headerTooLong: entry('header-too-long', 'Header too long', 400),
  badCharacter: entry('bad-character', 'Forbidden character in header', 400),
  malformedHeader: entry('malformed-header', 'Malformed header', 400),
  unterminatedQuote: entry('unterminated-quote', 'Unterminated quoted string', 400),
  duplicateParameter: entry('duplicate-parameter', 'Duplicate parameter', 400),
  tooManyParameters: entry('too-many-parameters', 'Too many parameters', 400),
  unknownScheme: entry('unknown-scheme', 'Not a Payment authentication scheme', 400),
  unsupportedMethod: entry('unsupported-method', 'Unsupported payment method', 400),
  unsupportedIntent: entry('unsupported-intent', 'Unsupported payment intent', 400),
  unsupportedParameter: entry('unsupported-parameter', 'Unsupported parameter', 400),
  unsupportedVersion: entry('unsupported-version', 'Unsupported protocol version', 400),
  missingParameter: entry('missing-parameter', 'Missing parameter', 400),
  badParameter: entry('bad-parameter', 'Invalid parameter value', 400),
  badBase64: entry('bad-base64', 'Invalid base64', 400),
  badJson: entry('bad-json', 'Invalid JSON', 400),
  valueTooLong: entry('value-too-long', 'Value too long', 400),
  tooManyEntries: entry('too-many-entries', 'Too many entries', 400),
  duplicateEntry: entry('duplicate-entry', 'Duplicate entry', 400),
  unknownField: entry('unknown-field', 'Unknown field', 400),
  missingField: entry('missing-field', 'Missing field', 400),
  wrongType: entry('wrong-type', 'Wrong type', 400),
  badValue: entry('bad-value', 'Invalid value', 400),
  badAmount: entry('bad-amount', 'Invalid amount', 400),
  badCurrency: entry('bad-currency', 'Invalid currency', 400),
  badUrl: entry('bad-url', 'Invalid URL', 400),
  badTimestamp: entry('bad-timestamp', 'Invalid timestamp', 400),
  badJws: entry('bad-jws', 'Malformed receipt token', 400),
  futureDated: entry('future-dated', 'Dated in the future', 400),
  challengeExpired: entry('challenge-expired', 'Challenge expired', 402),
  paymentRequired: entry('payment-required', 'Payment required', 402),
  invalidChallenge: entry('invalid-challenge', 'Challenge not issued here', 402),
  receiptInvalid: entry('receipt-invalid', 'Receipt invalid', 402),
  unknownKey: entry('unknown-key', 'Receipt signed by an unknown key', 402),
  wrongMerchant: entry('wrong-merchant', 'Receipt for another merchant', 402),
  wrongResource: entry('wrong-resource', 'Receipt for another resource', 402),
  wrongAmount: entry('wrong-amount', 'Receipt for another amount', 402),
  wrongCurrency: entry('wrong-currency', 'Receipt in another currency', 402),
  receiptReplayed: entry('receipt-replayed', 'Receipt already used', 402),
  accessExpired: entry('access-expired', 'Access period over', 402),
  challengeMismatch: entry('challenge-mismatch', 'Receipt bound to another challenge', 402),
} as const satisfies Record<ProtocolErrorCode, ProblemEntry>;

/** Every code, in table order: for exhaustive tests and documentation. */
export const protocolErrorCodes = Object.keys(problemTable) as readonly ProtocolErrorCode[];

/** An RFC 9457 problem object. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance?: string;
}

/** The RFC 9457 body for a code: the type URI, title and status come from the table. */
export function problemDetails(
  code: ProtocolErrorCode,
  detail: string,
  instance?: string,
): ProblemDetails {
  const row = problemTable[code];
  const problem = { type: row.type, title: row.title, status: row.status, detail };
  return instance === undefined ? problem : { ...problem, instance };
}
