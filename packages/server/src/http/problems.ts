/**
 * Every error the API answers, as RFC 9457 problem details (`application/problem+json`).
 *
 * One closed union of codes and one exhaustive table: adding a code without its row, or a row
 * without its code, fails to compile. A code's `type` is a stable URI, `/v1/problems/<kebab-code>`
 * (relative, so resolved against the API's origin), which serves a page describing it.
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { problemMediaType } from '@mite/protocol';
import type { Result } from '../result.ts';

export type ProblemCode =
  // The framework: requests the API cannot take.
  | 'validationFailed'
  | 'malformedJson'
  | 'badRequest'
  | 'unsupportedMediaType'
  | 'payloadTooLarge'
  | 'requestHeadersTooLarge'
  | 'requestTimeout'
  | 'uriTooLong'
  | 'notFound'
  | 'methodNotAllowed'
  | 'rateLimited'
  // Who is asking.
  | 'unauthenticated'
  | 'forbidden'
  | 'invalidCredentials'
  // Idempotency-Key.
  | 'idempotencyKeyRequired'
  | 'idempotencyKeyInvalid'
  | 'idempotencyKeyReused'
  | 'idempotencyRequestInProgress'
  // The domain.
  | 'emailTaken'
  | 'insufficientFunds'
  | 'offerNotFound'
  | 'merchantNotFound'
  | 'paymentNotFound'
  | 'topUpNotFound'
  | 'cardDeclined'
  | 'cardExpired'
  | 'cardInvalid'
  | 'cardInsufficientFunds'
  | 'fundingUnavailable'
  | 'invalidSignature'
  | 'accountClosed'
  | 'duplicatePayment'
  | 'challengeExpired'
  | 'refundExceedsPayment'
  // The policy hook (policy/).
  | 'policyBlocked'
  | 'policyChallenged'
  | 'policyDecisionNotFound'
  | 'policyBlockNotConfirmable'
  | 'policyConfirmationExpired'
  | 'policyConfirmationUsed'
  // The operator's review of the policy's decisions (review/).
  | 'decisionNotFound'
  | 'decisionReviewed'
  | 'freezeNotFound'
  | 'freezeLifted'
  | 'accountFrozen'
  // Risk rules (risk/).
  | 'invalidRuleSet'
  | 'ruleSetVersionExists'
  | 'redemptionInvalid'
  | 'redemptionConflict'
  | 'lastAdminKey'
  // People who run merchants (staff/).
  | 'invitationNotFound'
  | 'lastOwner'
  // Privacy (privacy/).
  | 'balanceRemains'
  | 'erasureBlocked'
  | 'personalDataErased'
  // Unlinkable tokens (tokens/).
  | 'unknownTokenKey'
  | 'invalidToken'
  | 'tokenSpent'
  | 'tokenAmountMismatch'
  // Streaming and metered payments (sessions/).
  | 'sessionNotFound'
  | 'sessionClosed'
  | 'sessionTermsInvalid'
  | 'voucherInvalid'
  | 'voucherExceedsDeposit'
  | 'voucherStale'
  | 'voucherDeltaTooSmall'
  // Consents (consents/).
  | 'consentRequired'
  | 'consentTextChanged'
  | 'consentNotFound'
  // The users' own limits, minors and dormancy (limits/).
  | 'confirmationRequired'
  | 'birthDateDeclared'
  | 'guardianConsentNotNeeded'
  | 'guardianNotEligible'
  | 'guardianRequestOpen'
  | 'guardianRequestNotFound'
  // The platform itself.
  | 'internal'
  | 'unavailable';

export interface ProblemRow {
  readonly status: number;
  readonly title: string;
  /** Shown on the problem's page: what happened and what the client can do about it. */
  readonly description: string;
}

export const problemTable: { readonly [C in ProblemCode]: ProblemRow } = {
  validationFailed: {
    status: 400,
    title: 'The request does not match its schema',
    description:
      'A parameter, header or body field is missing, has the wrong type or is out of range. ' +
      'The `issues` member lists each one with where it is (`in`), its JSON pointer (`path`) ' +
      'and a message. Fix the request before retrying it.',
  },
  malformedJson: {
    status: 400,
    title: 'The request body is not valid JSON',
    description:
      'The body is declared as `application/json` but is empty, cannot be parsed as JSON, or ' +
      'nests arrays and objects deeper than the API accepts (32 levels).',
  },
  badRequest: {
    status: 400,
    title: 'The request cannot be processed',
    description:
      'The request is malformed at the HTTP level (headers, length, encoding, a URL that is not ' +
      'valid percent-encoded UTF-8).',
  },
  unsupportedMediaType: {
    status: 415,
    title: 'The request body has an unsupported media type',
    description: 'Request bodies are JSON: send them with `Content-Type: application/json`.',
  },
  payloadTooLarge: {
    status: 413,
    title: 'The request body is too large',
    description: 'The body is larger than the API accepts. Requests to this API are small.',
  },
  requestHeadersTooLarge: {
    status: 431,
    title: 'The request headers are too large',
    description: 'The request line and headers together are larger than the API accepts.',
  },
  requestTimeout: {
    status: 408,
    title: 'The request took too long to arrive',
    description: 'The client did not send the whole request in time; the connection is closed.',
  },
  uriTooLong: {
    status: 414,
    title: 'A path segment is too long',
    description:
      'A parameter in the URL path is longer than the API accepts (100 characters); no id is ' +
      'that long.',
  },
  notFound: {
    status: 404,
    title: 'No such resource',
    description: 'Nothing is found at this URL. Check the path against the API documentation.',
  },
  methodNotAllowed: {
    status: 405,
    title: 'The method is not allowed on this resource',
    description:
      'The resource exists but does not answer this method; `Allow` lists those it does.',
  },
  rateLimited: {
    status: 429,
    title: 'Too many requests',
    description:
      'The client sent more requests than its limit allows in the current window. Wait for ' +
      'the number of seconds in `Retry-After` before retrying.',
  },
  unauthenticated: {
    status: 401,
    title: 'Authentication is required',
    description:
      'The request carries no credential, or one that is unknown, expired or revoked. Send a ' +
      'valid session token, API key or admin key.',
  },
  forbidden: {
    status: 403,
    title: 'The credential does not allow this',
    description:
      'The caller is authenticated but its role or the scopes of its key do not allow this ' +
      'operation.',
  },
  invalidCredentials: {
    status: 401,
    title: 'The email or password is wrong',
    description: 'Logging in failed. Which of the two was wrong is deliberately not said.',
  },
  idempotencyKeyRequired: {
    status: 400,
    title: 'An Idempotency-Key header is required',
    description:
      'This operation changes state: send a unique `Idempotency-Key` header (for example a ' +
      'UUID) so that a retry of the same request is answered with the first response instead ' +
      'of running twice.',
  },
  idempotencyKeyInvalid: {
    status: 400,
    title: 'The Idempotency-Key header is invalid',
    description: 'An Idempotency-Key is 1 to 255 visible ASCII characters, without spaces.',
  },
  idempotencyKeyReused: {
    status: 422,
    title: 'The Idempotency-Key was used for a different request',
    description:
      'A request with this key was already made with a different method, path or body. Use a ' +
      'new key for a new request; resend the original request unchanged to get its response.',
  },
  idempotencyRequestInProgress: {
    status: 409,
    title: 'A request with this Idempotency-Key is still in progress',
    description:
      'The first request with this key has not finished yet. Retry a little later to get its ' +
      'response.',
  },
  emailTaken: {
    status: 409,
    title: 'The email address is already registered',
    description: 'An account with this email address exists. Log in instead.',
  },
  // 409, not 402: on this platform 402 means "pay this challenge" (the HTTP 402 protocol), and a
  // client paying for a resource must not mistake a short wallet for a payment request.
  insufficientFunds: {
    status: 409,
    title: 'The wallet does not hold enough funds',
    description: 'The balance available in the wallet is lower than the amount. Top up the wallet.',
  },
  offerNotFound: {
    status: 404,
    title: 'No such offer',
    description: 'The offer does not exist or is no longer sold.',
  },
  balanceRemains: {
    status: 409,
    title: 'The wallet still holds money',
    description:
      'An account is erased only once its balance is at most a fraction of a cent and no ' +
      'purchase is pending: the balance is owed to its holder, and erasure cannot pay it out. ' +
      'Spend it, or ask the operator to refund it to your card, then erase the account.',
  },
  erasureBlocked: {
    status: 409,
    title: 'The account cannot be erased yet',
    description:
      'The person is a member of a merchant or an operator of the platform: leave the merchant, ' +
      'or have the role revoked, first. The `detail` member says which.',
  },
  personalDataErased: {
    status: 410,
    title: 'Erased',
    description:
      'The person erased their account: their data key was destroyed, and their personal data ' +
      'with it. Nothing is left to show.',
  },
  topUpNotFound: {
    status: 404,
    title: 'No such top-up',
    description: 'The top-up does not exist, or is not one of this user\u2019s.',
  },
  cardDeclined: {
    status: 422,
    title: 'The card was declined',
    description: 'The card processor declined the charge. Try another card.',
  },
  cardExpired: {
    status: 422,
    title: 'The card has expired',
    description: 'The card\u2019s expiry date has passed. Try another card.',
  },
  cardInvalid: {
    status: 422,
    title: 'The card details are not valid',
    description: 'The card number, expiry or security code is malformed.',
  },
  cardInsufficientFunds: {
    status: 422,
    title: 'The card has insufficient funds',
    description: 'The card processor reports the card cannot cover the amount.',
  },
  // 503: the platform is up, but this operator configured no card processor (or the sandbox).
  fundingUnavailable: {
    status: 503,
    title: 'Top-ups are not available on this platform',
    description:
      'The operator has configured no card processor, so wallets cannot be topped up by card ' +
      'here. Nothing was charged or recorded.',
  },
  invalidSignature: {
    status: 400,
    title: 'The webhook signature is not valid',
    description:
      'The request is not signed with the shared secret, or it is older than the replay window.',
  },
  paymentNotFound: {
    status: 404,
    title: 'No such payment',
    description: 'The payment does not exist, or is not one this caller may see.',
  },
  merchantNotFound: {
    status: 404,
    title: 'No such merchant',
    description: 'The merchant does not exist.',
  },
  accountClosed: {
    status: 409,
    title: 'The account is closed',
    description: 'The wallet or merchant account involved is closed and cannot move money.',
  },
  policyBlocked: {
    status: 403,
    title: 'The platform\u2019s policy blocks this',
    description:
      'A rule of the platform\u2019s policy (a spending limit, a risk rule) stops this payment ' +
      'or top-up; nothing was charged. `rule` names the rule, `detail` says why, and ' +
      '`decisionId` identifies the decision for the operator.',
  },
  policyChallenged: {
    status: 403,
    title: 'The platform\u2019s policy asks for confirmation',
    description:
      'A rule of the platform\u2019s policy wants the payer to confirm this payment or top-up ' +
      'before it goes ahead; nothing was charged. `rule` names the rule, `detail` says why, ' +
      'and `decisionId` identifies the decision. The user confirms it with ' +
      '`POST /v1/policy-decisions/{decisionId}/confirmation`, then sends the request again ' +
      'with header `Mite-Policy-Confirmation: <decisionId>`; it then goes ahead, once.',
  },
  policyDecisionNotFound: {
    status: 404,
    title: 'No such policy decision',
    description: 'The decision does not exist, or is another user\u2019s.',
  },
  policyBlockNotConfirmable: {
    status: 409,
    title: 'A blocked request cannot be confirmed',
    description:
      'The policy blocked this request rather than asking for confirmation: no confirmation ' +
      'lets it through.',
  },
  policyConfirmationExpired: {
    status: 410,
    title: 'The challenge is too old to confirm',
    description:
      'A challenge is confirmed within minutes of the request it stopped. Send the request ' +
      'again: if the policy still challenges it, confirm the new challenge.',
  },
  policyConfirmationUsed: {
    status: 409,
    title: 'The confirmation was used already',
    description:
      'A confirmation lets one request through, and a request went ahead on this one. Send ' +
      'the request again to be asked anew.',
  },
  decisionNotFound: {
    status: 404,
    title: 'No such policy decision',
    description: 'No decision of the platform\u2019s policy has this id.',
  },
  decisionReviewed: {
    status: 409,
    title: 'The decision was reviewed already',
    description:
      'An operator released this decision or confirmed it as fraud already (perhaps at the same ' +
      'moment as this request): a decision is reviewed once. `detail` says how; read the ' +
      'decision again to see who reviewed it.',
  },
  freezeNotFound: {
    status: 404,
    title: 'No such account freeze',
    description: 'No account freeze has this id.',
  },
  freezeLifted: {
    status: 409,
    title: 'The freeze was lifted already',
    description: 'An operator lifted this freeze already: it is lifted once.',
  },
  accountFrozen: {
    status: 403,
    title: 'The account is frozen',
    description:
      'The platform froze this account after a review. It can take no payment until the ' +
      'freeze is lifted; contact the platform\u2019s support.',
  },
  invalidRuleSet: {
    status: 400,
    title: 'The risk rule set is invalid',
    description:
      'The rule set was refused whole and nothing changed: the rules in force stay in force. ' +
      '`errors` lists every problem, each with its JSON pointer (`path`) into the rule set and ' +
      'a message; `detail` says the same in one line.',
  },
  ruleSetVersionExists: {
    status: 409,
    title: 'This rule set version exists already',
    description:
      'A rule set version is written once: the version named is stored already (or is the ' +
      'built-in default\u2019s). Nothing changed. Name the new rules with a new version.',
  },
  redemptionInvalid: {
    status: 422,
    title: 'The redemption report cannot be taken',
    description:
      'The report is well formed but cannot be recorded, and nothing was: the payment did not ' +
      'succeed, the merchant is not classed as selling codes (resellable goods), `redeemedAt` is ' +
      'in the future, before the purchase or older than reports are kept, or `redeemer` is no ' +
      'customer\u2019s pseudonym at this merchant (leave it out for an account outside Mite). ' +
      '`detail` says which.',
  },
  redemptionConflict: {
    status: 409,
    title: 'This payment\u2019s code was reported redeemed already, differently',
    description:
      'A payment\u2019s code is reported redeemed once. The same report again is answered as ' +
      'the first one was; this one names another redeemer or another time, and changed nothing. ' +
      '`detail` says what was reported.',
  },
  duplicatePayment: {
    status: 409,
    title: 'The payment was already made',
    description: 'A payment with the same identity exists already; it was not made again.',
  },
  challengeExpired: {
    status: 422,
    title: 'The payment challenge has expired',
    description:
      'The merchant\u2019s 402 challenge is past its expiry and cannot be paid. Request the resource again for a fresh one.',
  },
  refundExceedsPayment: {
    status: 409,
    title: 'The refund exceeds what was paid',
    description: 'The refunds of a payment, together, cannot exceed its amount.',
  },
  lastAdminKey: {
    status: 409,
    title: 'The last admin key cannot be revoked',
    description:
      'Revoking it would lock every operator out of the API. Rotate it instead, which gives a ' +
      'new secret and revokes the old one in one step.',
  },
  invitationNotFound: {
    status: 404,
    title: 'The invitation is unknown, expired or used',
    description:
      'An invitation link works once and for a limited time. Ask whoever invited you for a new ' +
      'one.',
  },
  lastOwner: {
    status: 409,
    title: 'The last owner cannot be removed',
    description:
      'A merchant keeps at least one owner, who can manage its people, keys and bank details. ' +
      'Make another person an owner first.',
  },
  unknownTokenKey: {
    status: 422,
    title: 'The token key is unknown or not issuing',
    description:
      'Tokens are blinded against a key of the keyset issuing now, as `GET /v1/token-keys` ' +
      'lists them (with the length of its modulus). Fetch the keys again and blind anew.',
  },
  invalidToken: {
    status: 422,
    title: 'A token is not valid',
    description:
      'A token is a message and the platform\u2019s RFC 9474 signature on it under a key that ' +
      'still takes tokens (`GET /v1/token-keys`, until its `redeemUntil`). This one\u2019s ' +
      'signature does not verify under its key, or its key no longer takes tokens, or the ' +
      'same token is in the request twice. Nothing was spent.',
  },
  tokenSpent: {
    status: 409,
    title: 'A token was spent already',
    description:
      'Each token is taken once: it was deposited or swapped before (or is being, right now). ' +
      'Nothing in this request was spent; send it again without the spent tokens.',
  },
  tokenAmountMismatch: {
    status: 422,
    title: 'The tokens do not add up',
    description:
      'A swap gives new tokens worth exactly what the old ones are worth, and a payment with ' +
      'tokens is worth exactly its price. Swap for change first, then pay with the exact amount.',
  },
  sessionNotFound: {
    status: 404,
    title: 'No such payment session',
    description:
      'No payment session with this id is open to you: it does not exist, is not yours (its ' +
      'payer\u2019s or its merchant\u2019s), or is not open yet. A voucher names the session it ' +
      'pays on: one for another session is refused so too.',
  },
  sessionClosed: {
    status: 409,
    title: 'The payment session is closed',
    description:
      'The session was closed, or is being settled, and takes no more vouchers or top-ups. Open ' +
      'a new session to go on paying the merchant.',
  },
  sessionTermsInvalid: {
    status: 422,
    title: 'The session cannot be opened on these terms',
    description:
      'The challenge is not a Mite session challenge, or the deposit, the top-up or the voucher ' +
      'commitment does not fit it: a kind of voucher the merchant does not take, a deposit ' +
      'smaller than one step or larger than a session may hold, a PayWord chain too short for ' +
      'the deposit, a commitment that is not 32 bytes of base64url. The detail says which.',
  },
  voucherInvalid: {
    status: 422,
    title: 'The voucher\u2019s proof is not valid',
    description:
      'The voucher\u2019s PayWord word does not hash to the last accepted one (or the anchor), ' +
      'or its Ed25519 signature does not verify under the session\u2019s voucher key, or it ' +
      'names an amount that is not whole units of a PayWord session. Nothing changed.',
  },
  voucherExceedsDeposit: {
    status: 422,
    title: 'The voucher names more than the session holds',
    description:
      'A cumulative voucher may name up to the session\u2019s deposit. Top the session up first, ' +
      'then send the voucher again. Nothing changed.',
  },
  voucherStale: {
    status: 409,
    title: 'The voucher is older than the accepted one',
    description:
      'Cumulative amounts never go down: this voucher names less than the session has accepted ' +
      'already. Sending the accepted voucher again succeeds; an older one changes nothing.',
  },
  voucherDeltaTooSmall: {
    status: 422,
    title: 'The voucher steps by less than the minimum',
    description:
      'Each new voucher raises the cumulative amount by at least the session\u2019s ' +
      '`minVoucherDelta` (the last one may stop at the deposit). Nothing changed.',
  },
  consentRequired: {
    status: 403,
    title: 'The user has not consented to this',
    description:
      'What was asked needs the user\u2019s active consent, which they have not given or have ' +
      'revoked: an automatic payment needs their autoPay consent for the site. The user grants ' +
      'it in their wallet (`POST /v1/consents`); until then, ask them (a payment they confirm ' +
      'is not automatic).',
  },
  consentTextChanged: {
    status: 409,
    title: 'The consent text shown is not the one in force',
    description:
      'A grant names the version of the text the user was shown, and the platform takes only ' +
      'the version in force (`GET /v1/consents` lists it). Show the user the current text and ' +
      'ask again.',
  },
  consentNotFound: {
    status: 404,
    title: 'No such consent',
    description: 'The user has no consent with this id. `GET /v1/consents/history` lists them.',
  },
  confirmationRequired: {
    status: 403,
    title: 'This change needs the password, asked again',
    description:
      'Raising or removing a spending limit lets more money go, so it needs the user\u2019s ' +
      'fresh confirmation: send the account\u2019s password as `password` in the body. ' +
      'Nothing was changed. Lowering a limit needs no confirmation.',
  },
  birthDateDeclared: {
    status: 409,
    title: 'The birth date was declared already',
    description:
      'A birth date is declared once and cannot be changed by the user: otherwise a minor ' +
      'could declare themselves adult. If it is wrong, the operator corrects it.',
  },
  guardianConsentNotNeeded: {
    status: 409,
    title: 'No guardian\u2019s consent is needed',
    description:
      'Only a minor, by the birth date they declared, asks a guardian for consent. Declare a ' +
      'birth date first (`PUT /v1/users/me/birth-date`).',
  },
  guardianNotEligible: {
    status: 422,
    title: 'That person cannot be named as guardian',
    description:
      'A guardian is another Mite user who declared a birth date that makes them an adult. ' +
      'Which of these is missing is not said, so that the answer tells nothing about the ' +
      'account of the email named.',
  },
  guardianRequestOpen: {
    status: 409,
    title: 'A guardian\u2019s consent is already asked for or granted',
    description:
      'A minor has one open request, or one grant, at a time. The guardian declines or ' +
      'withdraws it before another is asked for.',
  },
  guardianRequestNotFound: {
    status: 404,
    title: 'No such guardian request',
    description:
      'No open request with this id names the caller as guardian (it may have been answered ' +
      'already). `GET /v1/users/me/guardian-requests` lists them.',
  },
  internal: {
    status: 500,
    title: 'Internal error',
    description:
      'The platform failed to answer. Nothing about the failure is disclosed; the `instance` ' +
      'member identifies it in the operator’s logs. Retrying with the same Idempotency-Key is ' +
      'safe.',
  },
  unavailable: {
    status: 503,
    title: 'Temporarily unavailable',
    description: 'The platform cannot serve the request right now. Retry later.',
  },
};

/** Where the problem pages are served, and what every problem `type` starts with. */
export const problemTypePrefix = '/v1/problems/';

export const problemCodes = Object.keys(problemTable) as ProblemCode[];

/** `insufficientFunds` -> `insufficient-funds`. */
export function problemSlug(code: ProblemCode): string {
  return code.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

const problemCodeBySlug = new Map(problemCodes.map((code) => [problemSlug(code), code]));

export function problemCodeFromSlug(slug: string): ProblemCode | undefined {
  return problemCodeBySlug.get(slug);
}

export function problemType(code: ProblemCode): string {
  return `${problemTypePrefix}${problemSlug(code)}`;
}

/** Extension members a problem may carry besides the RFC 9457 ones. */
export type ProblemExtras = Readonly<Record<string, unknown>>;

export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  readonly [extension: string]: unknown;
}

const reservedMembers = new Set(['type', 'title', 'status', 'detail']);

/** The RFC 9457 body of `code`; `extra` adds members (`instance`, `issues`...) but never overrides. */
export function problem(code: ProblemCode, detail?: string, extra?: ProblemExtras): ProblemBody {
  const row = problemTable[code];
  const body: Record<string, unknown> = {
    type: problemType(code),
    title: row.title,
    status: row.status,
  };
  if (detail !== undefined) body.detail = detail;
  for (const [name, value] of Object.entries(extra ?? {})) {
    if (!reservedMembers.has(name) && value !== undefined) body[name] = value;
  }
  return body as ProblemBody;
}

/**
 * The structural part of a reply that sending a problem needs, so that replies of every route
 * (whatever their zod response types) are accepted.
 */
export interface ProblemReply {
  readonly request: { readonly id: string };
  code(statusCode: number): unknown;
  header(name: string, value: string): unknown;
  hasHeader(name: string): boolean;
}

/**
 * Sends `code` as problem+json. The body is serialized here, as a string, so that no route's
 * response schema applies to it. `instance` defaults to the request id, which the logs carry, so
 * that an operator can find what happened from what the client saw.
 */
export function sendProblem<R extends ProblemReply>(
  reply: R,
  code: ProblemCode,
  detail?: string,
  extra?: ProblemExtras,
): R {
  const body = problem(code, detail, { instance: `urn:uuid:${reply.request.id}`, ...extra });
  reply.code(body.status);
  reply.header('content-type', `${problemMediaType}; charset=utf-8`);
  // RFC 9110: a 401 tells the client which scheme to authenticate with.
  if (body.status === 401 && !reply.hasHeader('www-authenticate')) {
    reply.header('www-authenticate', 'Bearer realm="mite"');
  }
  // A string body is sent as is, whatever the route's typed send() expects.
  (reply as unknown as FastifyReply).send(JSON.stringify(body));
  return reply;
}

/**
 * Thrown from hooks and handlers to answer with a problem; the app's error handler sends it.
 * Returning `sendProblem(...)` is the same from a handler; throwing is handier in deep helpers.
 */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  readonly problemCode: ProblemCode;
  readonly detail: string | undefined;
  readonly extra: ProblemExtras | undefined;

  constructor(code: ProblemCode, detail?: string, extra?: ProblemExtras) {
    super(detail === undefined ? code : `${code}: ${detail}`);
    this.problemCode = code;
    this.detail = detail;
    this.extra = extra;
  }
}

/** The value of a success, or a ProblemError thrown for an expected failure. */
export function valueOrProblem<T, C extends ProblemCode>(result: Result<T, C>): T {
  if (result.ok) return result.value;
  throw new ProblemError(result.code, result.detail);
}

/** The shape of every error body, for the OpenAPI document. */
export const problemBodySchema = z
  .object({
    type: z.string().describe(`A URI reference, \`${problemTypePrefix}<code>\``),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional().describe('Identifies this occurrence in the logs'),
    issues: z
      .array(z.object({ in: z.string(), path: z.string(), message: z.string() }))
      .optional()
      .describe('validationFailed only: what is wrong, and where'),
  })
  .loose();
