/**
 * Mite inside the x402 v2 envelope, so that x402 clients can discover and pay Mite resources.
 * x402 headers carry padded standard base64 of JSON: `PAYMENT-REQUIRED` (a PaymentRequired),
 * `PAYMENT-SIGNATURE` (a PaymentPayload) and `PAYMENT-RESPONSE` (a SettleResponse). Mite offers
 * one PaymentRequirements of scheme "mite" whose `extra.challenge` is the Mite challenge, and reads
 * back a PaymentPayload whose `payload` is a Mite credential. Field names follow @x402/core 2.x.
 * Mite writes padded standard base64, as x402 v2 requires, and reads base64url too.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import * as z from 'zod/mini';
import { decodeBase64Json, decodeBase64urlJson, encodeBase64Json } from './base64url.ts';
import { utf8Bytes } from './canonical-json.ts';
import {
  type Challenge,
  challengeEcho,
  checkChallengeTimes,
  decodeChallengeEcho,
  miteMethod,
} from './challenge.ts';
import {
  type Credential,
  credentialHeaderLengthMax,
  credentialJson,
  decodeCredentialJson,
} from './credential.ts';
import { decodeWithSchema } from './fields.ts';
import { type PaymentReceipt } from './payment-receipt.ts';
import { accepted, type Decoded, excerpt, refused, type Refusal } from './problems.ts';
import { formatTimestamp } from './timestamps.ts';

/** The x402 protocol version spoken. */
export const x402Version = 2;
/** The x402 scheme name under which Mite is offered. */
export const x402Scheme = miteMethod;
/** The x402 header names. */
export const x402PaymentRequiredHeaderName = 'PAYMENT-REQUIRED';
export const x402PaymentSignatureHeaderName = 'PAYMENT-SIGNATURE';
export const x402PaymentResponseHeaderName = 'PAYMENT-RESPONSE';
/** The longest x402 header read: a credential, wrapped in an envelope and base64 once more. */
export const x402HeaderLengthMax = 2 * credentialHeaderLengthMax;
/** Seconds an x402 client may take to pay, when the caller does not say. */
export const x402TimeoutSecondsDefault = 60;

export type X402Network = `${string}:${string}`;

export interface X402ResourceInfo {
  url: string;
  description?: string;
  mimeType?: string;
}

export interface X402PaymentRequirements {
  scheme: string;
  network: X402Network;
  asset: string;
  /** Atomic units: for Mite, micro-units of the currency. */
  amount: string;
  payTo: string;
  maxTimeoutSeconds: number;
  extra: Record<string, unknown>;
}

export interface X402PaymentRequired {
  x402Version: number;
  error?: string;
  resource: X402ResourceInfo;
  accepts: X402PaymentRequirements[];
  extensions?: Record<string, unknown>;
}

export interface X402PaymentPayload {
  x402Version: number;
  resource?: X402ResourceInfo;
  accepted: X402PaymentRequirements;
  payload: Record<string, unknown>;
  extensions?: Record<string, unknown>;
}

export interface X402SettleResponse {
  success: boolean;
  errorReason?: string;
  errorMessage?: string;
  payer?: string;
  transaction: string;
  network: X402Network;
  amount?: string;
  extensions?: Record<string, unknown>;
  extra?: Record<string, unknown>;
}

/** How many hex characters of the platform origin's SHA-256 a network id keeps. */
const networkReferenceLength = 32;

/**
 * The x402 network of a Mite platform, a valid CAIP-2 id: namespace "mite" and, as reference, the
 * first 32 hex characters of SHA-256 of the platform's origin. A host cannot be the reference
 * itself (CAIP-2 allows neither its dots nor a port's colon, and at most 32 characters), and a
 * hash prefix has a fixed length, as BIP-122's chain ids do. The platform URL itself travels in
 * the requirements' `extra.platform`, so clients need not resolve the hash.
 */
export function x402NetworkOf(platform: string): X402Network {
  const digest = bytesToHex(sha256(utf8Bytes(new URL(platform).origin)));
  return `${miteMethod}:${digest.slice(0, networkReferenceLength)}`;
}

/** CAIP-2's grammar for a chain id: `namespace:reference`. */
export const caip2Pattern = /^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}$/;

/** The one PaymentRequirements Mite offers for a challenge. */
export function x402RequirementsOf(
  challenge: Challenge,
  maxTimeoutSeconds: number = x402TimeoutSecondsDefault,
): X402PaymentRequirements {
  const { request } = challenge;
  return {
    scheme: x402Scheme,
    network: x402NetworkOf(request.methodDetails.platform),
    asset: request.currency,
    // Both count micro-units: x402's atomic units are the charge intent's base units.
    amount: request.amount,
    payTo: request.recipient,
    maxTimeoutSeconds,
    extra: { challenge: challengeEcho(challenge), platform: request.methodDetails.platform },
  };
}

/**
 * The PaymentRequired object for a challenge, for the `PAYMENT-REQUIRED` header. `url` should be
 * absolute (x402 clients resolve nothing); `error` says why a presented payment was refused.
 */
export function toX402PaymentRequired(
  challenge: Challenge,
  options: {
    readonly url: string;
    readonly mimeType?: string;
    readonly maxTimeoutSeconds?: number;
    readonly error?: string;
  },
): X402PaymentRequired {
  const description = challenge.request.description ?? challenge.description;
  const resource: X402ResourceInfo = { url: options.url };
  if (description !== undefined) resource.description = description;
  if (options.mimeType !== undefined) resource.mimeType = options.mimeType;
  const required: X402PaymentRequired = {
    x402Version,
    resource,
    accepts: [x402RequirementsOf(challenge, options.maxTimeoutSeconds)],
  };
  if (options.error !== undefined) required.error = options.error;
  return required;
}

/** The PaymentPayload carrying a credential, for the `PAYMENT-SIGNATURE` header. */
export function toX402PaymentPayload(
  credential: Credential,
  options: {
    readonly accepted?: X402PaymentRequirements;
    readonly resource?: X402ResourceInfo;
  } = {},
): X402PaymentPayload {
  const payload: X402PaymentPayload = {
    x402Version,
    accepted: options.accepted ?? x402RequirementsOf(credential.challenge),
    payload: { ...credentialJson(credential) },
  };
  if (options.resource !== undefined) payload.resource = options.resource;
  return payload;
}

/** The SettleResponse for a served payment, for the `PAYMENT-RESPONSE` header. */
export function toX402SettleResponse(
  receipt: PaymentReceipt,
  options: { readonly platform: string; readonly payer?: string },
): X402SettleResponse {
  const response: X402SettleResponse = {
    success: true,
    transaction: receipt.reference,
    network: x402NetworkOf(options.platform),
    extra: {
      challengeId: receipt.challengeId,
      accessUntil: formatTimestamp(receipt.accessUntilSeconds),
    },
  };
  if (options.payer !== undefined) response.payer = options.payer;
  return response;
}

/** Encodes any x402 object as its header value: base64 of the JSON, as @x402/core does. */
export function encodeX402Header(
  value: X402PaymentRequired | X402PaymentPayload | X402SettleResponse,
): string {
  return encodeBase64Json(value);
}

/** The `PAYMENT-RESPONSE` value for a served payment. */
export function encodeX402PaymentResponse(
  receipt: PaymentReceipt,
  options: { readonly platform: string; readonly payer?: string },
): string {
  return encodeX402Header(toX402SettleResponse(receipt, options));
}

// The envelope is read loosely (x402 may add members), the Mite parts inside it strictly.
const requirementsSchema = z.object({
  scheme: z.string(),
  network: z.string(),
  asset: z.string(),
  amount: z.string(),
  payTo: z.string(),
  maxTimeoutSeconds: z.number(),
  extra: z.optional(z.record(z.string(), z.unknown())),
});
const versionSchema = z.object({ x402Version: z.number() });
const paymentRequiredSchema = z.object({ accepts: z.array(z.unknown()).check(z.maxLength(32)) });
const paymentPayloadSchema = z.object({
  accepted: requirementsSchema,
  payload: z.record(z.string(), z.unknown()),
});
const miteExtraSchema = z.object({ challenge: z.record(z.string(), z.unknown()) });
const schemeSchema = z.object({ scheme: z.literal(x402Scheme) });

type X402Requirements = z.infer<typeof requirementsSchema>;

/** base64url, padded or not, for x402 writers that use it, although v2 says standard base64. */
const base64urlAlphabet = /^[A-Za-z0-9_-]*=*$/;

function decodeBase64Envelope(text: string): Decoded<unknown> {
  const json = decodeBase64Json(text, x402HeaderLengthMax);
  if (json.ok || json.code !== 'badBase64' || !base64urlAlphabet.test(text)) return json;
  return decodeBase64urlJson(text.replace(/=+$/, ''), x402HeaderLengthMax);
}

function decodeEnvelope(header: string, subject: string): Decoded<unknown> {
  const text = typeof header === 'string' ? header.trim() : header;
  const json = decodeBase64Envelope(text);
  if (!json.ok) return json.code === 'valueTooLong' ? { ...json, code: 'headerTooLong' } : json;
  const version = decodeWithSchema(versionSchema, json.value, subject);
  if (!version.ok) return version;
  if (version.value.x402Version !== x402Version) {
    return refused(
      'unsupportedVersion',
      `x402Version ${version.value.x402Version} is not ${x402Version}`,
    );
  }
  return json;
}

// The requirements repeat the challenge's price; a disagreement means the envelope and the Mite
// challenge inside it were not issued together.
function checkRequirements(
  requirements: X402Requirements,
  challenge: Challenge,
): Decoded<Challenge> {
  const expected = x402RequirementsOf(challenge);
  const fields = ['network', 'asset', 'amount', 'payTo'] as const;
  const differing = fields.find((field) => requirements[field] !== expected[field]);
  if (differing !== undefined) {
    return refused('challengeMismatch', `the x402 ${differing} differs from the Mite challenge`);
  }
  return accepted(challenge);
}

function challengeOfRequirements(requirements: X402Requirements): Decoded<Challenge> {
  const extra = decodeWithSchema(miteExtraSchema, requirements.extra ?? {}, 'extra');
  if (!extra.ok) return extra;
  const challenge = decodeChallengeEcho(extra.value.challenge, 'extra.challenge');
  return challenge.ok ? checkRequirements(requirements, challenge.value) : challenge;
}

// Offers of other schemes are skipped whatever their shape: they are not Mite's to judge.
function firstMiteRequirements(accepts: readonly unknown[]): Decoded<X402Requirements> {
  let firstRefusal: Refusal | undefined;
  for (const [index, entry] of accepts.entries()) {
    if (!schemeSchema.safeParse(entry).success) continue;
    const requirements = decodeWithSchema(requirementsSchema, entry, `accepts[${index}]`);
    if (requirements.ok) return requirements;
    firstRefusal ??= requirements;
  }
  return (
    firstRefusal ?? refused('unsupportedMethod', `no x402 requirements of scheme "${x402Scheme}"`)
  );
}

/**
 * Reads the Mite challenge out of one PaymentRequirements object, as an x402 client hands it to a
 * scheme client: scheme "mite", a price that agrees with the challenge inside it, which must be
 * current. A requirements object of another scheme is `unsupportedMethod`.
 */
export function parseX402Requirements(
  requirements: unknown,
  options: { readonly nowSeconds: number },
): Decoded<Challenge> {
  if (!schemeSchema.safeParse(requirements).success) {
    return refused('unsupportedMethod', `the x402 requirements are not of scheme "${x402Scheme}"`);
  }
  const decoded = decodeWithSchema(requirementsSchema, requirements, 'requirements');
  if (!decoded.ok) return decoded;
  const challenge = challengeOfRequirements(decoded.value);
  return challenge.ok ? checkChallengeTimes(challenge.value, options.nowSeconds) : challenge;
}

/**
 * Reads the Mite challenge out of a `PAYMENT-REQUIRED` value: the first requirements of scheme
 * "mite", whose price must agree with the challenge inside it, which must be current.
 */
export function parseX402PaymentRequired(
  header: string,
  options: { readonly nowSeconds: number },
): Decoded<Challenge> {
  const json = decodeEnvelope(header, 'paymentRequired');
  if (!json.ok) return json;
  const envelope = decodeWithSchema(paymentRequiredSchema, json.value, 'paymentRequired');
  if (!envelope.ok) return envelope;
  const requirements = firstMiteRequirements(envelope.value.accepts);
  if (!requirements.ok) return requirements;
  const challenge = challengeOfRequirements(requirements.value);
  return challenge.ok ? checkChallengeTimes(challenge.value, options.nowSeconds) : challenge;
}

/**
 * Reads the Mite credential out of a `PAYMENT-SIGNATURE` value. Like `parseCredentialHeader`, it
 * does not judge expiry; it does refuse requirements whose terms (network, asset, amount, payTo)
 * disagree with the credential's challenge. The requirements may offer another challenge of those
 * terms: a stock x402 client echoes the current 402's requirements, also when it presents a ticket
 * bought for an earlier challenge of the resource, which a credential in `Authorization` may do.
 */
export function parseX402PaymentSignature(header: string): Decoded<Credential> {
  const json = decodeEnvelope(header, 'paymentPayload');
  if (!json.ok) return json;
  const envelope = decodeWithSchema(paymentPayloadSchema, json.value, 'paymentPayload');
  if (!envelope.ok) return envelope;
  const { accepted: requirements, payload } = envelope.value;
  if (requirements.scheme !== x402Scheme) {
    return refused(
      'unsupportedMethod',
      `the x402 scheme ${excerpt(requirements.scheme)} is not "${x402Scheme}"`,
    );
  }
  const credential = decodeCredentialJson(payload);
  if (!credential.ok) return credential;
  const agreed = checkRequirements(requirements, credential.value.challenge);
  return agreed.ok ? credential : agreed;
}
