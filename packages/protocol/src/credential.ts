/**
 * The client's retry after paying: `Authorization: Payment <base64url JSON>`, which echoes the
 * challenge it answers, as text, so that the middleware can recompute the challenge's HMAC byte
 * for byte, and carries the proof of payment as the payload: for method "mite" the platform's
 * signed receipt; for method "mite-token" the tokens themselves (which the merchant verifies
 * offline and deposits), or, shown again within the access it bought, the receipt of their
 * deposit that the merchant answered.
 */
import * as z from 'zod/mini';
import { parseAuthCredentials, sameScheme } from './auth-params.ts';
import { decodeBase64url, decodeBase64urlJson, encodeBase64urlJson } from './base64url.ts';
import {
  type Challenge,
  challengeEcho,
  type ChallengeEcho,
  challengeEchoSchema,
  challengeFromEcho,
  chargeIntent,
  miteMethod,
  miteTokenMethod,
  paymentScheme,
} from './challenge.ts';
import { decodeWithSchema, identifierLengthMax } from './fields.ts';
import { accepted, type Decoded, excerpt, type Refusal, refused } from './problems.ts';

/** The longest credential header: the echoed challenge and a receipt, base64url-encoded again. */
export const credentialHeaderLengthMax = 12_288;
/** The longest compact JWS receipt. */
export const jwsLengthMax = 4096;
/** The longest `source` (payer identifier) a credential may carry. */
export const sourceLengthMax = identifierLengthMax * 2;

/** Tokens in one credential at most: with base64url twice, 12 stay under 12 KB of header. */
export const tokensPerCredentialMax = 12;
/** A token's random message, base64url: 16 to 128 bytes. */
const tokenMessagePattern = /^[A-Za-z0-9_-]{22,171}$/;
/** A signature, base64url: a 2048- to 4096-bit modulus. */
const tokenSignaturePattern = /^[A-Za-z0-9_-]{342,683}$/;
/** A key id, base64url of a SHA-256. */
const tokenKeyIdPattern = /^[A-Za-z0-9_-]{43}$/;

/** A token as a credential carries it: its key's id, its message, the signature, base64url. */
export interface TokenPaymentWire {
  readonly keyId: string;
  readonly message: string;
  readonly signature: string;
}

/** What proves the payment: the platform's receipt (a compact JWS), or tokens. */
export type CredentialPayload =
  { readonly receipt: string } | { readonly tokens: readonly TokenPaymentWire[] };

export interface Credential {
  readonly challenge: Challenge;
  readonly payload: CredentialPayload;
  /** The draft's optional payer identifier (a DID, say); Mite's receipts name the payer already. */
  readonly source?: string;
}

const jwsPattern = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

/**
 * Checks the shape of a compact JWS: three base64url segments, each canonical, within
 * `jwsLengthMax`. Whether it is signed, and by whom, is the middleware's business.
 */
export function checkCompactJws(text: string): Decoded<string> {
  if (typeof text !== 'string') return refused('badJws', 'a receipt is a string');
  if (text.length > jwsLengthMax) {
    return refused('badJws', `a receipt is at most ${jwsLengthMax} characters`);
  }
  const segments = jwsPattern.exec(text);
  if (segments === null) return refused('badJws', 'a receipt is three base64url segments');
  for (const segment of segments.slice(1)) {
    if (!decodeBase64url(segment, jwsLengthMax).ok) {
      return refused('badJws', 'a receipt segment is not canonical base64url');
    }
  }
  return accepted(text);
}

interface CredentialWire {
  readonly challenge: ChallengeEcho;
  readonly payload: {
    readonly receipt?: string;
    readonly tokens?: readonly TokenPaymentWire[];
  };
  readonly source?: string;
}

const tokenPaymentSchema: z.ZodMiniType<TokenPaymentWire> = z.strictObject({
  keyId: z.string().check(z.regex(tokenKeyIdPattern, 'a key id is 43 characters of base64url')),
  message: z.string().check(z.regex(tokenMessagePattern, 'a message is 16 to 128 bytes')),
  signature: z.string().check(z.regex(tokenSignaturePattern, 'a signature is 256 to 512 bytes')),
});

// Unknown top-level members are dropped, as the draft requires; the payload, Mite's own, is
// strict, and holds exactly one of a receipt and tokens (checkPayload).
const credentialWireSchema: z.ZodMiniType<CredentialWire> = z.object({
  challenge: challengeEchoSchema,
  payload: z.strictObject({
    receipt: z.exactOptional(z.string()),
    tokens: z.exactOptional(
      z.array(tokenPaymentSchema).check(z.minLength(1), z.maxLength(tokensPerCredentialMax)),
    ),
  }),
  source: z.exactOptional(
    z
      .string()
      .check(
        z.minLength(1),
        z.maxLength(sourceLengthMax),
        z.regex(/^[\x21-\x7e]+$/, 'visible ASCII only'),
      ),
  ),
});

/** The credential as JSON: the echo, the payload, and the source when there is one. */
export function credentialJson(credential: Credential): CredentialWire {
  const wire = { challenge: challengeEcho(credential.challenge), payload: credential.payload };
  return credential.source === undefined ? wire : { ...wire, source: credential.source };
}

// Just enough of a credential to tell which method and intent it answers.
const methodOnlySchema = z.object({
  challenge: z.object({ method: z.string(), intent: z.string() }),
});

/**
 * A credential for another method or intent is refused as unsupported before its payload is
 * read, as the method documents ask (challenge checks before credential material): its payload
 * is another method's business, so a defect in it is not this method's to report.
 */
function checkMethod(json: unknown): Refusal | undefined {
  const parsed = methodOnlySchema.safeParse(json);
  if (!parsed.success) return undefined;
  const { method, intent } = parsed.data.challenge;
  if (method !== miteMethod && method !== miteTokenMethod) {
    return refused(
      'unsupportedMethod',
      `method ${excerpt(method)} is not "${miteMethod}" or "${miteTokenMethod}"`,
    );
  }
  if (intent !== chargeIntent) {
    return refused('unsupportedIntent', `intent ${excerpt(intent)} is not "${chargeIntent}"`);
  }
  return undefined;
}

/** Validates a credential's JSON (from the header, or from an x402 payload). */
export function decodeCredentialJson(json: unknown): Decoded<Credential> {
  const otherMethod = checkMethod(json);
  if (otherMethod !== undefined) return otherMethod;
  const wire = decodeWithSchema(credentialWireSchema, json, 'credential');
  if (!wire.ok) return wire;
  const challenge = challengeFromEcho(wire.value.challenge);
  if (!challenge.ok) return challenge;
  const payload = checkPayload(challenge.value, wire.value.payload);
  if (!payload.ok) return payload;
  const credential = { challenge: challenge.value, payload: payload.value };
  const { source } = wire.value;
  return accepted(source === undefined ? credential : { ...credential, source });
}

/** One proof: a receipt (a compact JWS), or tokens, which answer a "mite-token" challenge only. */
function checkPayload(
  challenge: Challenge,
  payload: CredentialWire['payload'],
): Decoded<CredentialPayload> {
  const { receipt, tokens } = payload;
  if (tokens !== undefined) {
    if (receipt !== undefined) return refused('badValue', 'a payload is a receipt or tokens');
    return challenge.method === miteTokenMethod
      ? accepted({ tokens })
      : refused('badValue', `tokens answer a "${miteTokenMethod}" challenge only`);
  }
  if (receipt === undefined) return refused('missingField', 'payload.receipt is missing');
  const checked = checkCompactJws(receipt);
  return checked.ok ? accepted({ receipt: checked.value }) : checked;
}

/** The `Authorization` value: `Payment <base64url JSON>`. */
export function formatCredentialHeader(credential: Credential): string {
  return `${paymentScheme} ${encodeBase64urlJson(credentialJson(credential))}`;
}

/**
 * Reads an `Authorization: Payment` credential. Expiry is not checked here: the middleware judges
 * it against the time of payment that the receipt states, not against the time of the retry.
 */
export function parseCredentialHeader(header: string): Decoded<Credential> {
  const auth = parseAuthCredentials(header, credentialHeaderLengthMax);
  if (!auth.ok) return auth;
  if (!sameScheme(auth.value.scheme, paymentScheme)) {
    return refused(
      'unknownScheme',
      `the scheme ${excerpt(auth.value.scheme)} is not ${paymentScheme}`,
    );
  }
  const { token68 } = auth.value;
  if (token68 === undefined) {
    return refused('malformedHeader', 'a Payment credential is one base64url token');
  }
  const json = decodeBase64urlJson(token68, credentialHeaderLengthMax);
  return json.ok ? decodeCredentialJson(json.value) : json;
}
