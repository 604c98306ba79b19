/**
 * The session intent's credentials: `Authorization: Payment <base64url JSON>` echoing the session
 * challenge (so the merchant recomputes its HMAC) with a payload naming the action, as the session
 * drafts name them: `open` and `topUp` carry the platform's grant, `voucher` and `close` a voucher.
 */
import * as z from 'zod/mini';
import { parseAuthCredentials, sameScheme } from './auth-params.ts';
import { decodeBase64urlJson, encodeBase64urlJson } from './base64url.ts';
import { challengeEchoSchema, paymentScheme } from './challenge.ts';
import { checkCompactJws, credentialHeaderLengthMax } from './credential.ts';
import { accepted, type Decoded, excerpt, refused } from './problems.ts';
import {
  type SessionChallenge,
  sessionChallengeEcho,
  sessionChallengeFromEcho,
} from './session-challenge.ts';
import {
  decodeSessionVoucher,
  type SessionVoucher,
  sessionVoucherWire,
} from './session-voucher.ts';

/** What a session credential asks for. */
export type SessionAction =
  | { readonly action: 'open'; readonly grant: string }
  | { readonly action: 'topUp'; readonly grant: string }
  | { readonly action: 'voucher'; readonly voucher: SessionVoucher }
  | { readonly action: 'close'; readonly voucher: SessionVoucher };

export const sessionActions = ['open', 'topUp', 'voucher', 'close'] as const;

export interface SessionCredential {
  readonly challenge: SessionChallenge;
  readonly payload: SessionAction;
}

const wireSchema = z.object({
  challenge: challengeEchoSchema,
  payload: z.looseObject({ action: z.enum(sessionActions) }),
});

/** The credential as JSON. */
export function sessionCredentialJson(credential: SessionCredential): unknown {
  const { payload } = credential;
  const wirePayload =
    payload.action === 'open' || payload.action === 'topUp'
      ? { action: payload.action, grant: payload.grant }
      : { action: payload.action, ...sessionVoucherWire(payload.voucher) };
  return { challenge: sessionChallengeEcho(credential.challenge), payload: wirePayload };
}

/** The `Authorization` value of a session credential. */
export function formatSessionCredentialHeader(credential: SessionCredential): string {
  return `${paymentScheme} ${encodeBase64urlJson(sessionCredentialJson(credential))}`;
}

/** Validates a session credential's JSON. */
export function decodeSessionCredentialJson(json: unknown): Decoded<SessionCredential> {
  const parsed = wireSchema.safeParse(json);
  if (!parsed.success)
    return refused(
      'malformedHeader',
      'a session credential is { challenge, payload: { action, ... } }',
    );
  const challenge = sessionChallengeFromEcho(parsed.data.challenge);
  if (!challenge.ok) return challenge;
  const { action, ...rest } = parsed.data.payload;
  if (action === 'open' || action === 'topUp') {
    const keys = Object.keys(rest);
    if (keys.length !== 1 || typeof rest['grant'] !== 'string') {
      return refused('badValue', `an "${action}" payload carries the grant only`);
    }
    const grant = checkCompactJws(rest['grant']);
    if (!grant.ok) return grant;
    return accepted({ challenge: challenge.value, payload: { action, grant: grant.value } });
  }
  const voucher = decodeSessionVoucher(rest);
  if (!voucher.ok) return voucher;
  return accepted({ challenge: challenge.value, payload: { action, voucher: voucher.value } });
}

/** Reads an `Authorization: Payment` session credential. */
export function parseSessionCredentialHeader(header: string): Decoded<SessionCredential> {
  const auth = parseAuthCredentials(header, credentialHeaderLengthMax);
  if (!auth.ok) return auth;
  if (!sameScheme(auth.value.scheme, paymentScheme)) {
    return refused(
      'unknownScheme',
      `the scheme ${excerpt(auth.value.scheme)} is not ${paymentScheme}`,
    );
  }
  const { token68 } = auth.value;
  if (token68 === undefined) return refused('malformedHeader', 'a Payment credential is token68');
  const json = decodeBase64urlJson(token68, credentialHeaderLengthMax);
  return json.ok ? decodeSessionCredentialJson(json.value) : json;
}

/**
 * The intent a Payment credential answers, read before any payload: the middleware hands a
 * session credential to its session verifier and anything else to the charge verifier.
 */
export function credentialIntent(header: string): string | undefined {
  const auth = parseAuthCredentials(header, credentialHeaderLengthMax);
  if (!auth.ok || auth.value.token68 === undefined) return undefined;
  if (!sameScheme(auth.value.scheme, paymentScheme)) return undefined;
  const json = decodeBase64urlJson(auth.value.token68, credentialHeaderLengthMax);
  if (!json.ok) return undefined;
  const intent = z.object({ challenge: z.object({ intent: z.string() }) }).safeParse(json.value);
  return intent.success ? intent.data.challenge.intent : undefined;
}
