/**
 * The merchant's `402` challenge (`WWW-Authenticate: Payment ...`, draft-ryan-httpauth-payment):
 * what it asks for, how its id binds every field with an HMAC so that merchants keep no state, and
 * how it is written and read.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import * as z from 'zod/mini';
import {
  type AuthChallenge,
  formatAuthChallenge,
  parseAuthChallenges,
  sameScheme,
} from './auth-params.ts';
import {
  decodeBase64url,
  decodeBase64urlJson,
  encodeBase64url,
  encodeBase64urlJson,
} from './base64url.ts';
import { utf8Bytes } from './canonical-json.ts';
import { formatBaseUnits, parseBaseUnits, requestCurrency } from './amounts.ts';
import {
  accessPeriodSecondsSchema,
  baseUnitsSchema,
  categorySchema,
  decodeWithSchema,
  descriptionLengthMax,
  displayTextSchema,
  identifierSchema,
  platformUrlSchema,
  realmLengthMax,
  requestCurrencySchema,
  resourceSchema,
} from './fields.ts';
import { accepted, type Decoded, excerpt, refused, type Refusal } from './problems.ts';
import { formatTimestamp, parseTimestamp } from './timestamps.ts';

/** The authentication scheme of the draft. */
export const paymentScheme = 'Payment';
/** Mite's payment method identifier. */
export const miteMethod = 'mite';
/**
 * Mite's second method: the client pays with unlinkable tokens (RFC 9474 blind signatures, from
 * the platform's published keys) instead of the platform's receipt; the merchant verifies them
 * offline and deposits them. Its challenges carry the same charge request.
 */
export const miteTokenMethod = 'mite-token';
/** The methods a Mite challenge may name. */
export type MiteMethodName = typeof miteMethod | typeof miteTokenMethod;

function isMiteMethod(method: string): method is MiteMethodName {
  return method === miteMethod || method === miteTokenMethod;
}
/** The one intent Mite speaks: pay once for a resource. */
export const chargeIntent = 'charge';
/** Characters in a challenge id: base64url of a 32-byte HMAC-SHA256. */
export const challengeIdLength = 43;
/** The longest `request` parameter, as base64url text. */
export const requestEncodedLengthMax = 3072;
/** How far two clocks may disagree before a time is judged wrong. */
export const clockSkewSecondsMax = 120;
/** The furthest in the future a challenge may expire; beyond that it is refused as futureDated. */
export const challengeLifetimeSecondsMax = 86_400;
/** The shortest HMAC secret `issueChallenge` accepts: as long as the hash. */
export const challengeSecretLengthMin = 32;

/** Decimal places of a mite request's `amount`: it counts micro-units (10^-6) of the currency. */
export const miteAmountDecimals = 6;

/** Mite's own fields of a charge request, which the charge intent puts under `methodDetails`. */
export interface MiteMethodDetails {
  /** The platform's base URL, where the client pays. */
  readonly platform: string;
  /** What is sold: the URL (or path) the challenge was issued for. */
  readonly resource: string;
  readonly category?: string;
  /**
   * The platform's offer this charge sells, when the merchant sells the resource as one: the
   * platform then charges it as that offer (its price, which `amount` must equal, and its revenue
   * splits) while the receipt still answers this challenge.
   */
  readonly offer?: string;
  readonly accessPeriodSeconds: number;
  /** The scale of `amount`, always 6, so that any client can display it. */
  readonly decimals: typeof miteAmountDecimals;
}

/**
 * What the merchant asks the client to pay for: the `request` parameter, decoded, in the charge
 * intent's shape (draft-payment-intent-charge). `amount` is an integer string of base units, which
 * for method "mite" are micro-units ("20000" is 0.02); `currency` an ISO 4217 code, written in
 * lower case; `recipient` the platform's merchant id.
 */
export interface PaymentRequest {
  readonly amount: string;
  readonly currency: string;
  readonly recipient: string;
  readonly description?: string;
  readonly methodDetails: MiteMethodDetails;
}

const methodDetailsSchema: z.ZodMiniType<MiteMethodDetails> = z.object({
  platform: platformUrlSchema,
  resource: resourceSchema,
  category: z.exactOptional(categorySchema),
  offer: z.exactOptional(identifierSchema),
  accessPeriodSeconds: accessPeriodSecondsSchema,
  decimals: z.literal(miteAmountDecimals),
});

/**
 * The request's schema. Unknown fields are dropped, at both levels, as the draft requires of
 * implementations ("implementations MUST ignore unknown parameters and fields"); the HMAC covers
 * the request as sent, so nothing dropped here can be altered unnoticed. The intent's optional
 * `externalId` is one of them: Mite does not use it.
 */
export const paymentRequestSchema: z.ZodMiniType<PaymentRequest> = z.object({
  amount: baseUnitsSchema,
  currency: requestCurrencySchema,
  recipient: identifierSchema,
  description: z.exactOptional(displayTextSchema),
  methodDetails: methodDetailsSchema,
});

export function decodePaymentRequest(json: unknown): Decoded<PaymentRequest> {
  return decodeWithSchema(paymentRequestSchema, json, 'request');
}

/** What a merchant sells, in code's terms, to be written as a payment request. */
export interface ChargeTerms {
  readonly amountMicros: bigint;
  /** Any case; the request writes it in lower case. */
  readonly currency: string;
  /** The merchant id. */
  readonly recipient: string;
  readonly platform: string;
  readonly resource: string;
  readonly accessPeriodSeconds: number;
  readonly description?: string;
  readonly category?: string;
  /** The platform's offer sold (MiteMethodDetails.offer). */
  readonly offer?: string;
}

/** The payment request for these terms, as the charge intent spells it. */
export function chargeRequest(terms: ChargeTerms): PaymentRequest {
  const methodDetails: MiteMethodDetails = {
    platform: terms.platform,
    resource: terms.resource,
    accessPeriodSeconds: terms.accessPeriodSeconds,
    decimals: miteAmountDecimals,
    ...(terms.category === undefined ? {} : { category: terms.category }),
    ...(terms.offer === undefined ? {} : { offer: terms.offer }),
  };
  return {
    amount: formatBaseUnits(terms.amountMicros),
    currency: requestCurrency(terms.currency),
    recipient: terms.recipient,
    ...(terms.description === undefined ? {} : { description: terms.description }),
    methodDetails,
  };
}

/** A decoded request's amount in micro-units. */
export function requestAmountMicros(request: PaymentRequest): bigint {
  const parsed = parseBaseUnits(request.amount);
  if (!parsed.ok) throw new RangeError(`bug: a request amount does not parse: ${request.amount}`);
  return parsed.value;
}

export interface Challenge {
  readonly id: string;
  readonly realm: string;
  readonly method: MiteMethodName;
  readonly intent: typeof chargeIntent;
  readonly request: PaymentRequest;
  /** The exact base64url text of `request`, which the HMAC covers. */
  readonly requestEncoded: string;
  readonly expiresAtSeconds: number;
  /** A header-safe description: printable ASCII (the request's may be any language). */
  readonly description?: string;
}

/** A challenge's parameters as text, as the header carries them and the credential echoes them. */
export interface ChallengeEcho {
  readonly id: string;
  readonly realm: string;
  readonly method: string;
  readonly intent: string;
  readonly request: string;
  readonly expires: string;
  readonly description?: string;
}

/** The text form of a challenge. */
export function challengeEcho(challenge: Challenge): ChallengeEcho {
  const echo = {
    id: challenge.id,
    realm: challenge.realm,
    method: challenge.method,
    intent: challenge.intent,
    request: challenge.requestEncoded,
    expires: formatTimestamp(challenge.expiresAtSeconds),
  };
  return challenge.description === undefined
    ? echo
    : { ...echo, description: challenge.description };
}

// Strings are bounded here only generously; challengeFromEcho applies the precise rules.
const echoTextLengthMax = 64;

/**
 * The echo's schema. Unknown members are dropped, as the draft requires: Mite never issues the
 * draft's `opaque`, `digest` or `header`, so an echo of them binds nothing Mite checks, and the
 * HMAC over the members Mite issued still decides whether the challenge is Mite's.
 */
export const challengeEchoSchema: z.ZodMiniType<ChallengeEcho> = z.object({
  id: z.string().check(z.maxLength(challengeIdLength)),
  realm: z.string().check(z.maxLength(realmLengthMax)),
  method: z.string().check(z.maxLength(echoTextLengthMax)),
  intent: z.string().check(z.maxLength(echoTextLengthMax)),
  request: z.string().check(z.maxLength(requestEncodedLengthMax)),
  expires: z.string().check(z.maxLength(echoTextLengthMax)),
  description: z.exactOptional(z.string().check(z.maxLength(descriptionLengthMax))),
});

/** Validates a challenge echo's JSON into a challenge. */
export function decodeChallengeEcho(json: unknown, subject: string): Decoded<Challenge> {
  const echo = decodeWithSchema(challengeEchoSchema, json, subject);
  return echo.ok ? challengeFromEcho(echo.value) : echo;
}

const printableAscii = /^[\x20-\x7e]+$/;

/** Shared with the session intent (session-challenge.ts). */
export function checkHeaderText(
  name: string,
  value: string,
  lengthMax: number,
): Refusal | undefined {
  if (value.length > lengthMax) {
    return refused('valueTooLong', `${name} is longer than ${lengthMax} characters`);
  }
  if (!printableAscii.test(value)) {
    return refused('badParameter', `${name} must be non-empty printable ASCII`);
  }
  return undefined;
}

/** Shared with the session intent (session-challenge.ts). */
export function checkChallengeId(id: string): Refusal | undefined {
  const decoded =
    id.length === challengeIdLength ? decodeBase64url(id, challengeIdLength) : undefined;
  if (decoded?.ok !== true) {
    return refused('badParameter', `id must be ${challengeIdLength} characters of base64url`);
  }
  return undefined;
}

/** Validates a challenge's text fields, whichever way they arrived, into a challenge. */
export function challengeFromEcho(echo: ChallengeEcho): Decoded<Challenge> {
  const { method } = echo;
  if (!isMiteMethod(method)) {
    return refused(
      'unsupportedMethod',
      `method ${excerpt(method)} is not "${miteMethod}" or "${miteTokenMethod}"`,
    );
  }
  if (echo.intent !== chargeIntent) {
    return refused('unsupportedIntent', `intent ${excerpt(echo.intent)} is not "${chargeIntent}"`);
  }
  const textDefect =
    checkChallengeId(echo.id) ??
    checkHeaderText('realm', echo.realm, realmLengthMax) ??
    (echo.description === undefined
      ? undefined
      : checkHeaderText('description', echo.description, descriptionLengthMax));
  if (textDefect !== undefined) return textDefect;
  const expiresAtSeconds = parseTimestamp(echo.expires);
  if (!expiresAtSeconds.ok) return expiresAtSeconds;
  const json = decodeBase64urlJson(echo.request, requestEncodedLengthMax);
  if (!json.ok) return refused(json.code, `request: ${json.detail}`);
  const request = decodePaymentRequest(json.value);
  if (!request.ok) return request;
  const challenge = {
    id: echo.id,
    realm: echo.realm,
    method,
    intent: chargeIntent,
    request: request.value,
    requestEncoded: echo.request,
    expiresAtSeconds: expiresAtSeconds.value,
  } as const;
  return accepted(
    echo.description === undefined ? challenge : { ...challenge, description: echo.description },
  );
}

// The HMAC input: a domain tag, then realm, method, intent, the request's base64url text, the
// expiry as written, and the description (empty when absent, which is unambiguous because a
// present description is never empty), each as a 4-byte big-endian UTF-8 length and the bytes.
// Lengths make the encoding injective whatever the fields contain, where the draft's "|"-joined
// string would let a "|" in the realm shift bytes from one field into the next.
const challengeIdDomain = 'mite-challenge-id-v1';

function challengeIdInput(echo: ChallengeEcho): Uint8Array {
  const fields = [
    challengeIdDomain,
    echo.realm,
    echo.method,
    echo.intent,
    echo.request,
    echo.expires,
    echo.description ?? '',
  ].map((field) => utf8Bytes(field));
  const input = new Uint8Array(fields.reduce((total, field) => total + 4 + field.length, 0));
  const view = new DataView(input.buffer);
  let offset = 0;
  for (const field of fields) {
    view.setUint32(offset, field.length);
    input.set(field, offset + 4);
    offset += 4 + field.length;
  }
  return input;
}

/** Shared with the session intent (session-challenge.ts). */
export function challengeIdBytes(echo: ChallengeEcho, secret: Uint8Array): Uint8Array {
  return hmac(sha256, secret, challengeIdInput(echo));
}

/** Shared with the session intent (session-challenge.ts). */
export function checkSecret(secret: Uint8Array): void {
  if (!(secret instanceof Uint8Array) || secret.length < challengeSecretLengthMin) {
    throw new RangeError(`a challenge secret is at least ${challengeSecretLengthMin} bytes`);
  }
}

export interface ChallengeOptions {
  readonly secret: Uint8Array;
  readonly realm: string;
  readonly request: PaymentRequest;
  readonly expiresAtSeconds: number;
  readonly description?: string;
  /** "mite" unless given: a merchant that takes tokens issues a "mite-token" challenge too. */
  readonly method?: MiteMethodName;
}

/**
 * Issues a challenge whose id is the HMAC of its fields, so that the middleware can later check
 * a credential's echo without having stored anything. Invalid options are a configuration bug
 * and throw; `decodePaymentRequest` checks a request ahead of time.
 */
export function issueChallenge(options: ChallengeOptions): Challenge {
  checkSecret(options.secret);
  const unsigned = {
    id: '',
    realm: options.realm,
    method: options.method ?? miteMethod,
    intent: chargeIntent,
    request: encodeBase64urlJson(options.request),
    expires: formatTimestamp(options.expiresAtSeconds),
  };
  const echo: ChallengeEcho =
    options.description === undefined
      ? unsigned
      : { ...unsigned, description: options.description };
  const id = encodeBase64url(challengeIdBytes(echo, options.secret));
  const challenge = challengeFromEcho({ ...echo, id });
  if (!challenge.ok) throw new RangeError(`cannot issue this challenge: ${challenge.detail}`);
  return challenge.value;
}

/** Shared with the session intent (session-challenge.ts). */
export function constantTimeEqual(left: Uint8Array, right: Uint8Array): boolean {
  if (left.length !== right.length) return false;
  let difference = 0;
  for (let index = 0; index < left.length; index += 1) {
    difference |= (left[index] ?? 0) ^ (right[index] ?? 0);
  }
  return difference === 0;
}

/** Whether this secret issued this challenge with these very fields; compares in constant time. */
export function challengeIdMatches(challenge: Challenge, secret: Uint8Array): boolean {
  checkSecret(secret);
  const presented = decodeBase64url(challenge.id, challengeIdLength);
  if (!presented.ok) return false;
  return constantTimeEqual(presented.value, challengeIdBytes(challengeEcho(challenge), secret));
}

/** The `WWW-Authenticate` value of a challenge, every parameter quoted. */
export function formatChallengeHeader(challenge: Challenge): string {
  const echo = challengeEcho(challenge);
  const params: [string, string][] = [
    ['id', echo.id],
    ['realm', echo.realm],
    ['method', echo.method],
    ['intent', echo.intent],
    ['request', echo.request],
    ['expires', echo.expires],
  ];
  if (echo.description !== undefined) params.push(['description', echo.description]);
  return formatAuthChallenge(paymentScheme, params);
}

/** Whether a challenge is usable at `nowSeconds`: not expired, not absurdly far in the future. */
export function checkChallengeTimes(challenge: Challenge, nowSeconds: number): Decoded<Challenge> {
  if (!Number.isFinite(nowSeconds)) throw new RangeError('nowSeconds must be a finite number');
  if (nowSeconds >= challenge.expiresAtSeconds + clockSkewSecondsMax) {
    return refused(
      'challengeExpired',
      `the challenge expired at ${formatTimestamp(challenge.expiresAtSeconds)}`,
    );
  }
  if (challenge.expiresAtSeconds > nowSeconds + challengeLifetimeSecondsMax + clockSkewSecondsMax) {
    return refused(
      'futureDated',
      `the challenge expires more than ${challengeLifetimeSecondsMax} s ahead`,
    );
  }
  return accepted(challenge);
}

const requiredParams = ['id', 'realm', 'method', 'intent', 'request', 'expires'] as const;
/**
 * Draft parameters that change what the client must do; Mite's HMAC does not cover them and its
 * client cannot honour them, so a challenge carrying one is refused rather than half-obeyed.
 * Shared with the session intent (session-challenge.ts).
 */
export const unsupportedChallengeParams = ['header', 'digest', 'opaque'] as const;

function challengeFromParams(auth: AuthChallenge, nowSeconds: number): Decoded<Challenge> {
  if (auth.token68 !== undefined) {
    return refused('malformedHeader', 'a Payment challenge carries parameters, not token68');
  }
  const missing = requiredParams.find((name) => !auth.params.has(name));
  if (missing !== undefined)
    return refused('missingParameter', `parameter "${missing}" is missing`);
  const unsupported = unsupportedChallengeParams.find((name) => auth.params.has(name));
  if (unsupported !== undefined) {
    return refused('unsupportedParameter', `Mite challenges do not use "${unsupported}"`);
  }
  const text = (name: string): string => auth.params.get(name) ?? '';
  const description = auth.params.get('description');
  const echo = {
    id: text('id'),
    realm: text('realm'),
    method: text('method'),
    intent: text('intent'),
    request: text('request'),
    expires: text('expires'),
  };
  const challenge = challengeFromEcho(description === undefined ? echo : { ...echo, description });
  return challenge.ok ? checkChallengeTimes(challenge.value, nowSeconds) : challenge;
}

/**
 * Reads the Mite challenge out of a `WWW-Authenticate` value that may hold several challenges of
 * several schemes and methods. The first usable `Payment` challenge with the method asked for
 * ("mite" unless `method` says "mite-token") wins; when none is usable, the first one's defect is
 * returned. Unknown parameters are ignored, as the draft requires of clients.
 */
export function parseChallengeHeader(
  header: string,
  options: { readonly nowSeconds: number; readonly method?: MiteMethodName },
): Decoded<Challenge> {
  const wanted = options.method ?? miteMethod;
  const parsed = parseAuthChallenges(header);
  if (!parsed.ok) return parsed;
  const payments = parsed.value.filter((auth) => sameScheme(auth.scheme, paymentScheme));
  if (payments.length === 0)
    return refused('unknownScheme', 'the header holds no Payment challenge');
  const mites = payments.filter((auth) => auth.params.get('method') === wanted);
  if (mites.length === 0) {
    const methods = payments.map((auth) => excerpt(auth.params.get('method') ?? ''));
    return refused(
      'unsupportedMethod',
      `no Payment challenge uses method "${wanted}" (${methods.join(', ')})`,
    );
  }
  let firstRefusal: Refusal | undefined;
  for (const auth of mites) {
    const challenge = challengeFromParams(auth, options.nowSeconds);
    if (challenge.ok) return challenge;
    firstRefusal ??= challenge;
  }
  return firstRefusal ?? refused('unsupportedMethod', 'no Mite challenge');
}
