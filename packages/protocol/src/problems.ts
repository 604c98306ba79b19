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
  | 'challengeMismatch'
  // Payment with tokens (method "mite-token").
  | 'tokenInvalid'
  | 'tokenSpent'
  | 'tokenAmountMismatch'
  // Streaming and metered payments (intent "session").
  | 'grantInvalid'
  | 'voucherInvalid'
  | 'voucherExceedsDeposit'
  | 'voucherDeltaTooSmall'
  | 'voucherStale'
  | 'sessionUnknown'
  | 'sessionClosed'
  | 'insufficientBalance';

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

/**
 * The prefix of the Payment scheme's registered problem types (draft-httpauth-payment, "Problem
 * Types"): every problem Mite answers a payment with uses one of them as its `type`, so that any
 * client of the draft understands it, and carries Mite's finer code in the `miteCode` member.
 */
export const problemTypeBase = 'https://paymentauth.org/problems/';

/** The media type of a problem body (RFC 9457). */
export const problemMediaType = 'application/problem+json';

/** The draft's registered problem types that Mite answers with, by slug. */
export const paymentProblemTypes = {
  'payment-required': { title: 'Payment Required', status: 402 },
  'payment-expired': { title: 'Payment Expired', status: 402 },
  'verification-failed': { title: 'Verification Failed', status: 402 },
  'method-unsupported': { title: 'Method Unsupported', status: 400 },
  'malformed-credential': { title: 'Malformed Credential', status: 402 },
  'invalid-challenge': { title: 'Invalid Challenge', status: 402 },
  'invalid-payload': { title: 'Invalid Payload', status: 402 },
  'bad-request': { title: 'Bad Request', status: 400 },
  // The session intent's types, as the tempo session draft registers them under "session/".
  'session/invalid-signature': { title: 'Invalid Signature', status: 402 },
  'session/amount-exceeds-deposit': { title: 'Amount Exceeds Deposit', status: 402 },
  'session/delta-too-small': { title: 'Delta Too Small', status: 402 },
  'session/channel-not-found': { title: 'Channel Not Found', status: 410 },
  'session/channel-finalized': { title: 'Channel Finalized', status: 410 },
  'session/insufficient-balance': { title: 'Insufficient Balance', status: 402 },
} as const;

export type PaymentProblemSlug = keyof typeof paymentProblemTypes;

interface ProblemEntry {
  readonly type: `${typeof problemTypeBase}${PaymentProblemSlug}`;
  readonly title: string;
  /**
   * The draft's status: 402 with a fresh challenge, 400 for what no payment can fix, or 410 for a
   * session that is gone (the session drafts' status for a finalized or unknown channel).
   */
  readonly status: 400 | 402 | 410;
}

function entry(slug: PaymentProblemSlug): ProblemEntry {
  const { title, status } = paymentProblemTypes[slug];
  return { type: `${problemTypeBase}${slug}`, title, status };
}

const malformed = entry('malformed-credential');

/**
 * One row per code: the draft's problem type each of Mite's codes is an instance of. A defect in
 * how a credential is written is a malformed credential (402 and a fresh challenge, as the draft's
 * status table says); another method or intent is unsupported (400); a receipt that does not pay
 * for what is asked fails verification; expiry of the challenge or of the access is
 * payment-expired; a challenge not issued here, or a single-use receipt already spent, is an
 * invalid challenge ("unknown or already used"). Clients switch on `type` and may show `miteCode`;
 * `satisfies` makes the table exhaustive, so a new code does not compile without a row.
 */
export const problemTable = {
  headerTooLong: malformed,
  badCharacter: malformed,
  malformedHeader: malformed,
  unterminatedQuote: malformed,
  duplicateParameter: malformed,
  tooManyParameters: malformed,
  unknownScheme: entry('method-unsupported'),
  unsupportedMethod: entry('method-unsupported'),
  unsupportedIntent: entry('method-unsupported'),
  unsupportedParameter: malformed,
  unsupportedVersion: malformed,
  missingParameter: malformed,
  badParameter: malformed,
  badBase64: malformed,
  badJson: malformed,
  valueTooLong: malformed,
  tooManyEntries: malformed,
  duplicateEntry: malformed,
  unknownField: malformed,
  missingField: malformed,
  wrongType: malformed,
  badValue: malformed,
  badAmount: malformed,
  badCurrency: malformed,
  badUrl: malformed,
  badTimestamp: malformed,
  badJws: entry('invalid-payload'),
  futureDated: entry('verification-failed'),
  challengeExpired: entry('payment-expired'),
  paymentRequired: entry('payment-required'),
  invalidChallenge: entry('invalid-challenge'),
  receiptInvalid: entry('verification-failed'),
  unknownKey: entry('verification-failed'),
  wrongMerchant: entry('verification-failed'),
  wrongResource: entry('verification-failed'),
  wrongAmount: entry('verification-failed'),
  wrongCurrency: entry('verification-failed'),
  receiptReplayed: entry('invalid-challenge'),
  accessExpired: entry('payment-expired'),
  challengeMismatch: entry('verification-failed'),
  tokenInvalid: entry('invalid-payload'),
  tokenSpent: entry('invalid-payload'),
  tokenAmountMismatch: entry('verification-failed'),
  grantInvalid: entry('verification-failed'),
  voucherInvalid: entry('session/invalid-signature'),
  voucherExceedsDeposit: entry('session/amount-exceeds-deposit'),
  voucherDeltaTooSmall: entry('session/delta-too-small'),
  // A voucher below the accepted one: its delta is negative, so below any minimum; the fine code
  // says which.
  voucherStale: entry('session/delta-too-small'),
  sessionUnknown: entry('session/channel-not-found'),
  sessionClosed: entry('session/channel-finalized'),
  insufficientBalance: entry('session/insufficient-balance'),
} as const satisfies Record<ProtocolErrorCode, ProblemEntry>;

/** Every code, in table order: for exhaustive tests and documentation. */
export const protocolErrorCodes = Object.keys(problemTable) as readonly ProtocolErrorCode[];

/** An RFC 9457 problem object, with the extension members the draft's examples carry. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance?: string;
  /** Mite's finer code (`wrongAmount`, `receiptReplayed`, ...), one of `protocolErrorCodes`. */
  readonly miteCode?: string;
  /** The id of the fresh challenge the answer carries, as in the draft's examples. */
  readonly challengeId?: string;
}

/** The RFC 9457 body for a code: the type URI, title and status come from the table. */
export function problemDetails(
  code: ProtocolErrorCode,
  detail: string,
  extras: { readonly instance?: string; readonly challengeId?: string } = {},
): ProblemDetails {
  const row = problemTable[code];
  return {
    type: row.type,
    title: row.title,
    status: row.status,
    detail,
    ...(extras.instance === undefined ? {} : { instance: extras.instance }),
    miteCode: code,
    ...(extras.challengeId === undefined ? {} : { challengeId: extras.challengeId }),
  };
}
