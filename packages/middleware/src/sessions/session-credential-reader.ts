/**
 * Reads a request's `Authorization: Payment` session credential, with a fast path for vouchers,
 * which a metered stream receives many times a second. `open` and `topUp` are decoded in full by
 * the protocol (their echoed challenge is what the merchant checks at open). A `voucher` or
 * `close` needs of its echo only the challenge id, which must be the session's (the session was
 * bound to its challenge at open, by the HMAC and the platform's grant, and nothing else in the
 * echo binds anything further); its voucher is decoded by the protocol's strict decoder. The
 * outer base64url is decoded by node's Buffer (its leniency cannot change what a strict decoder
 * then reads: the voucher's proof is re-read as canonical base64url).
 */
import {
  challengeIdLength,
  credentialHeaderLengthMax,
  decodeSessionCredentialJson,
  decodeSessionVoucher,
  type ProtocolErrorCode,
  type SessionCredential,
  sessionIntent,
  type SessionVoucher,
} from '@mite/protocol';

export type ReadCredential =
  /** No credential: the request is unpaid. */
  | { readonly kind: 'none' }
  /** A Payment credential of another intent or method (a charge's receipt): the paywall's. */
  | { readonly kind: 'other' }
  | { readonly kind: 'malformed'; readonly code: ProtocolErrorCode; readonly detail: string }
  | { readonly kind: 'open' | 'topUp'; readonly credential: SessionCredential }
  | {
      readonly kind: 'voucher' | 'close';
      readonly challengeId: string;
      readonly voucher: SessionVoucher;
    };

const none: ReadCredential = { kind: 'none' };
const other: ReadCredential = { kind: 'other' };
const paymentToken = /^Payment[ \t]+([A-Za-z0-9_-]+)[ \t]*$/i;

function malformed(code: ProtocolErrorCode, detail: string): ReadCredential {
  return { kind: 'malformed', code, detail };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The JSON inside `Payment <token68>`, or what else the header is. */
function credentialJson(header: string): Record<string, unknown> | ReadCredential {
  if (header.length > credentialHeaderLengthMax) {
    return malformed('headerTooLong', `a credential is at most ${credentialHeaderLengthMax}`);
  }
  const token = paymentToken.exec(header)?.[1];
  if (token === undefined) {
    return /^Payment\b/i.test(header.trimStart())
      ? malformed('malformedHeader', 'a Payment credential is one base64url token')
      : none;
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return malformed('badJson', 'the credential is not base64url JSON');
  }
  return isObject(json) ? json : malformed('malformedHeader', 'the credential is a JSON object');
}

/** What the `Authorization` header carries (undefined: none). */
export function readSessionCredential(header: string | undefined): ReadCredential {
  if (header === undefined) return none;
  const json = credentialJson(header);
  if (!isObject(json) || 'kind' in json) return json as ReadCredential;
  const { challenge, payload } = json;
  if (!isObject(challenge) || challenge['intent'] !== sessionIntent) return other;
  if (!isObject(payload)) return malformed('malformedHeader', 'the credential has no payload');
  const { action, ...rest } = payload;
  if (action === 'open' || action === 'topUp') {
    const decoded = decodeSessionCredentialJson(json);
    return decoded.ok
      ? { kind: action, credential: decoded.value }
      : malformed(decoded.code, decoded.detail);
  }
  if (action !== 'voucher' && action !== 'close') {
    return malformed('badValue', 'the action is open, topUp, voucher or close');
  }
  const challengeId = challenge['id'];
  if (typeof challengeId !== 'string' || challengeId.length !== challengeIdLength) {
    return malformed('badParameter', 'the echoed challenge has no id');
  }
  const voucher = decodeSessionVoucher(rest);
  return voucher.ok
    ? { kind: action, challengeId, voucher: voucher.value }
    : malformed(voucher.code, voucher.detail);
}
