/**
 * The session intent's challenge (`intent="session"`): pay per second, per request, per token or
 * per byte, out of a deposit the platform holds, with cumulative vouchers that the merchant
 * verifies offline. The request reuses the names of the IETF Payment scheme's session drafts
 * (draft-payment-intent-session, draft-tempo-session): `amount` is the price of one unit in base
 * units (micro-units for Mite), `unitType` names the unit, `suggestedDeposit` what the client
 * might hold, and `methodDetails` Mite's own terms. The challenge id is the same HMAC as a
 * charge's (challenge.ts), over the same fields, so a merchant keeps no state for it either.
 */
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
import { formatBaseUnits, parseBaseUnits, requestCurrency } from './amounts.ts';
import {
  type ChallengeEcho,
  challengeIdBytes,
  challengeIdLength,
  challengeLifetimeSecondsMax,
  checkChallengeId,
  checkHeaderText,
  checkSecret,
  clockSkewSecondsMax,
  constantTimeEqual,
  miteAmountDecimals,
  miteMethod,
  paymentScheme,
  requestEncodedLengthMax,
  unsupportedChallengeParams,
} from './challenge.ts';
import {
  baseUnitsSchema,
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

/** The intent of pay-as-you-go sessions. */
export const sessionIntent = 'session';
/** Mite's session protocol, named in `methodDetails.sessionProtocol`. */
export const sessionProtocolVersion = 'mite-v1';
/** What a unit of a session is. */
export const sessionUnitTypes = ['second', 'request', 'token', 'byte'] as const;
export type SessionUnitType = (typeof sessionUnitTypes)[number];
/**
 * How a client proves a cumulative amount: a PayWord hash chain (one SHA-256 per unit: fixed
 * prices per unit), or an Ed25519 signature over the amount (any amount: variable prices).
 */
export const voucherKinds = ['payword', 'ed25519'] as const;
export type VoucherKind = (typeof voucherKinds)[number];
/** The longest idle time a merchant may ask for before the platform settles a session. */
export const idleTimeoutSecondsMax = 86_400;
/** The shortest idle time: a merchant checkpoints its vouchers at least this often. */
export const idleTimeoutSecondsMin = 10;

/** Mite's own terms of a session, under `methodDetails`. */
export interface SessionMethodDetails {
  /** The platform's base URL, where the client opens the session. */
  readonly platform: string;
  /** What is metered: the URL (or path) the challenge was issued for. */
  readonly resource: string;
  readonly sessionProtocol: typeof sessionProtocolVersion;
  /** The smallest step between two vouchers, in base units (a multiple of `amount` for PayWord). */
  readonly minVoucherDelta: string;
  /** The session is settled at its last voucher once the merchant has been silent this long. */
  readonly idleTimeoutSeconds: number;
  /** The voucher kinds the merchant verifies, the one it prefers first. */
  readonly vouchers: readonly VoucherKind[];
  readonly decimals: typeof miteAmountDecimals;
}

export interface SessionRequest {
  /** The price of one unit, in base units. */
  readonly amount: string;
  readonly currency: string;
  /** The merchant id. */
  readonly recipient: string;
  readonly unitType: SessionUnitType;
  /** What the merchant suggests the client holds, in base units. */
  readonly suggestedDeposit?: string;
  readonly description?: string;
  readonly methodDetails: SessionMethodDetails;
}

/** Base units above zero (baseUnitsSchema refuses "0"). */
const positiveBaseUnitsSchema = baseUnitsSchema;

const sessionMethodDetailsSchema: z.ZodMiniType<SessionMethodDetails> = z.object({
  platform: platformUrlSchema,
  resource: resourceSchema,
  sessionProtocol: z.literal(sessionProtocolVersion),
  minVoucherDelta: positiveBaseUnitsSchema,
  idleTimeoutSeconds: z
    .int()
    .check(z.minimum(idleTimeoutSecondsMin), z.maximum(idleTimeoutSecondsMax)),
  vouchers: z.array(z.enum(voucherKinds)).check(
    z.minLength(1),
    z.maxLength(voucherKinds.length),
    z.refine((kinds) => new Set(kinds).size === kinds.length, 'no kind twice'),
  ),
  decimals: z.literal(miteAmountDecimals),
});

/** Unknown fields are dropped, as the draft requires; the HMAC covers the request as sent. */
export const sessionRequestSchema: z.ZodMiniType<SessionRequest> = z.object({
  amount: positiveBaseUnitsSchema,
  currency: requestCurrencySchema,
  recipient: identifierSchema,
  unitType: z.enum(sessionUnitTypes),
  suggestedDeposit: z.exactOptional(positiveBaseUnitsSchema),
  description: z.exactOptional(displayTextSchema),
  methodDetails: sessionMethodDetailsSchema,
});

/** What a merchant meters, in code's terms. */
export interface SessionTerms {
  readonly unitPriceMicros: bigint;
  readonly currency: string;
  readonly recipient: string;
  readonly platform: string;
  readonly resource: string;
  readonly unitType: SessionUnitType;
  readonly minVoucherDeltaMicros: bigint;
  readonly idleTimeoutSeconds: number;
  readonly vouchers: readonly VoucherKind[];
  readonly suggestedDepositMicros?: bigint;
  readonly description?: string;
}

export function sessionRequest(terms: SessionTerms): SessionRequest {
  return {
    amount: formatBaseUnits(terms.unitPriceMicros),
    currency: requestCurrency(terms.currency),
    recipient: terms.recipient,
    unitType: terms.unitType,
    ...(terms.suggestedDepositMicros === undefined
      ? {}
      : { suggestedDeposit: formatBaseUnits(terms.suggestedDepositMicros) }),
    ...(terms.description === undefined ? {} : { description: terms.description }),
    methodDetails: {
      platform: terms.platform,
      resource: terms.resource,
      sessionProtocol: sessionProtocolVersion,
      minVoucherDelta: formatBaseUnits(terms.minVoucherDeltaMicros),
      idleTimeoutSeconds: terms.idleTimeoutSeconds,
      vouchers: terms.vouchers,
      decimals: miteAmountDecimals,
    },
  };
}

/** A base-units text that the schema accepted, as micro-units. */
export function baseUnitsMicros(text: string): bigint {
  const parsed = parseBaseUnits(text);
  if (!parsed.ok) throw new RangeError(`bug: base units that do not parse: ${text}`);
  return parsed.value;
}

export interface SessionChallenge {
  readonly id: string;
  readonly realm: string;
  readonly method: typeof miteMethod;
  readonly intent: typeof sessionIntent;
  readonly request: SessionRequest;
  /** The exact base64url text of `request`, which the HMAC covers. */
  readonly requestEncoded: string;
  readonly expiresAtSeconds: number;
  readonly description?: string;
}

/** The text form of a session challenge: the header's parameters, which a credential echoes. */
export function sessionChallengeEcho(challenge: SessionChallenge): ChallengeEcho {
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

/** Validates a session challenge's text fields into a challenge (times are not judged here). */
export function sessionChallengeFromEcho(echo: ChallengeEcho): Decoded<SessionChallenge> {
  if (echo.method !== miteMethod) {
    return refused('unsupportedMethod', `method ${excerpt(echo.method)} is not "${miteMethod}"`);
  }
  if (echo.intent !== sessionIntent) {
    return refused('unsupportedIntent', `intent ${excerpt(echo.intent)} is not "${sessionIntent}"`);
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
  const request = decodeWithSchema(sessionRequestSchema, json.value, 'request');
  if (!request.ok) return request;
  const paywordDefect = checkPaywordTerms(request.value);
  if (paywordDefect !== undefined) return paywordDefect;
  const challenge: SessionChallenge = {
    id: echo.id,
    realm: echo.realm,
    method: miteMethod,
    intent: sessionIntent,
    request: request.value,
    requestEncoded: echo.request,
    expiresAtSeconds: expiresAtSeconds.value,
  };
  return accepted(
    echo.description === undefined ? challenge : { ...challenge, description: echo.description },
  );
}

/** PayWord pays whole units: its minimum step must be a whole number of units. */
function checkPaywordTerms(request: SessionRequest): Refusal | undefined {
  if (!request.methodDetails.vouchers.includes('payword')) return undefined;
  const unitMicros = baseUnitsMicros(request.amount);
  const deltaMicros = baseUnitsMicros(request.methodDetails.minVoucherDelta);
  return deltaMicros % unitMicros === 0n
    ? undefined
    : refused('badValue', 'request: minVoucherDelta must be whole units when PayWord is offered');
}

export interface SessionChallengeOptions {
  readonly secret: Uint8Array;
  readonly realm: string;
  readonly request: SessionRequest;
  readonly expiresAtSeconds: number;
  readonly description?: string;
}

/** Issues a session challenge whose id is the HMAC of its fields. Bad options are a bug. */
export function issueSessionChallenge(options: SessionChallengeOptions): SessionChallenge {
  checkSecret(options.secret);
  const unsigned: ChallengeEcho = {
    id: '',
    realm: options.realm,
    method: miteMethod,
    intent: sessionIntent,
    request: encodeBase64urlJson(options.request),
    expires: formatTimestamp(options.expiresAtSeconds),
    ...(options.description === undefined ? {} : { description: options.description }),
  };
  const id = encodeBase64url(challengeIdBytes(unsigned, options.secret));
  const challenge = sessionChallengeFromEcho({ ...unsigned, id });
  if (!challenge.ok) throw new RangeError(`cannot issue this challenge: ${challenge.detail}`);
  return challenge.value;
}

/** Whether this secret issued this session challenge with these very fields (constant time). */
export function sessionChallengeIdMatches(
  challenge: SessionChallenge,
  secret: Uint8Array,
): boolean {
  checkSecret(secret);
  const presented = decodeBase64url(challenge.id, challengeIdLength);
  if (!presented.ok) return false;
  const expected = challengeIdBytes(sessionChallengeEcho(challenge), secret);
  return constantTimeEqual(presented.value, expected);
}

/** The `WWW-Authenticate` value of a session challenge. */
export function formatSessionChallengeHeader(challenge: SessionChallenge): string {
  const echo = sessionChallengeEcho(challenge);
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

/** Whether a session challenge may still be opened at `nowSeconds`. */
export function checkSessionChallengeTimes(
  challenge: SessionChallenge,
  nowSeconds: number,
): Decoded<SessionChallenge> {
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

function sessionChallengeFromParams(
  auth: AuthChallenge,
  nowSeconds: number,
): Decoded<SessionChallenge> {
  if (auth.token68 !== undefined) {
    return refused('malformedHeader', 'a Payment challenge carries parameters, not token68');
  }
  const required = ['id', 'realm', 'method', 'intent', 'request', 'expires'] as const;
  const missing = required.find((name) => !auth.params.has(name));
  if (missing !== undefined)
    return refused('missingParameter', `parameter "${missing}" is missing`);
  const unsupported = unsupportedChallengeParams.find((name) => auth.params.has(name));
  if (unsupported !== undefined) {
    return refused('unsupportedParameter', `Mite challenges do not use "${unsupported}"`);
  }
  const text = (name: string): string => auth.params.get(name) ?? '';
  const description = auth.params.get('description');
  const echo: ChallengeEcho = {
    id: text('id'),
    realm: text('realm'),
    method: text('method'),
    intent: text('intent'),
    request: text('request'),
    expires: text('expires'),
    ...(description === undefined ? {} : { description }),
  };
  const challenge = sessionChallengeFromEcho(echo);
  return challenge.ok ? checkSessionChallengeTimes(challenge.value, nowSeconds) : challenge;
}

/**
 * Reads the first usable Mite session challenge out of a `WWW-Authenticate` value that may hold
 * several challenges (a charge beside a session, another method's); when none is usable, the
 * first one's defect.
 */
export function parseSessionChallengeHeader(
  header: string,
  options: { readonly nowSeconds: number },
): Decoded<SessionChallenge> {
  const parsed = parseAuthChallenges(header);
  if (!parsed.ok) return parsed;
  const sessions = parsed.value.filter(
    (auth) =>
      sameScheme(auth.scheme, paymentScheme) &&
      auth.params.get('method') === miteMethod &&
      auth.params.get('intent') === sessionIntent,
  );
  if (sessions.length === 0) {
    return refused('unsupportedIntent', `the header holds no "${miteMethod}" session challenge`);
  }
  let firstRefusal: Refusal | undefined;
  for (const auth of sessions) {
    const challenge = sessionChallengeFromParams(auth, options.nowSeconds);
    if (challenge.ok) return challenge;
    firstRefusal ??= challenge;
  }
  return firstRefusal ?? refused('unsupportedIntent', 'no Mite session challenge');
}
