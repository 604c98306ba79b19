/**
 * Strict base64url (RFC 4648 section 5, no padding) as the Payment draft uses it, and strict
 * padded standard base64 as x402 uses it, over @scure/base (audited, no dependencies, browser-safe).
 * Decoding accepts exactly one spelling per byte string: no padding where there should be none,
 * no foreign characters or whitespace, and no stray bits in the last character, so that text
 * covered by an HMAC cannot be re-spelled. @scure/base refuses all of these itself; what is left
 * here is the type and length check before any work, and turning its throws into a refusal.
 */
import { base64, base64urlnopad } from '@scure/base';
import { canonicalJson, parseJsonBytes, utf8Bytes } from './canonical-json.ts';
import { accepted, type Decoded, refused } from './problems.ts';

/** Encodes bytes as base64url without padding. */
export function encodeBase64url(bytes: Uint8Array): string {
  return base64urlnopad.encode(bytes);
}

/** Encodes bytes as standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return base64.encode(bytes);
}

interface Codec {
  decode(text: string): Uint8Array;
}

/** How much of the library's reason a refusal's detail carries (details may be shown or logged). */
const reasonLengthMax = 60;

function decodeWith(
  codec: Codec,
  label: string,
  text: string,
  lengthMax: number,
): Decoded<Uint8Array> {
  if (typeof text !== 'string') return refused('wrongType', `${label} text is a string`);
  if (text.length > lengthMax) {
    return refused('valueTooLong', `${label} text is longer than ${lengthMax} characters`);
  }
  try {
    return accepted(codec.decode(text));
  } catch (error) {
    // The library names the fault (a foreign letter, padding, stray bits), then lists its alphabet.
    const reason = (error instanceof Error ? error.message : String(error)).split('. Allowed')[0];
    return refused('badBase64', `${label} text is refused: ${reason?.slice(0, reasonLengthMax)}`);
  }
}

/** Decodes unpadded base64url of at most `lengthMax` characters. */
export function decodeBase64url(text: string, lengthMax: number): Decoded<Uint8Array> {
  return decodeWith(base64urlnopad, 'base64url', text, lengthMax);
}

/** Decodes padded standard base64 of at most `lengthMax` characters. */
export function decodeBase64(text: string, lengthMax: number): Decoded<Uint8Array> {
  return decodeWith(base64, 'base64', text, lengthMax);
}

/** Encodes a JSON value canonically (sorted keys) as base64url UTF-8. */
export function encodeBase64urlJson(value: unknown): string {
  return encodeBase64url(utf8Bytes(canonicalJson(value)));
}

/** Decodes base64url UTF-8 JSON of at most `lengthMax` characters. */
export function decodeBase64urlJson(text: string, lengthMax: number): Decoded<unknown> {
  const bytes = decodeBase64url(text, lengthMax);
  return bytes.ok ? parseJsonBytes(bytes.value) : bytes;
}

/** Encodes a JSON value as padded standard base64 UTF-8, as x402's headers carry it. */
export function encodeBase64Json(value: unknown): string {
  return encodeBase64(utf8Bytes(canonicalJson(value)));
}

/** Decodes padded standard base64 UTF-8 JSON of at most `lengthMax` characters. */
export function decodeBase64Json(text: string, lengthMax: number): Decoded<unknown> {
  const bytes = decodeBase64(text, lengthMax);
  return bytes.ok ? parseJsonBytes(bytes.value) : bytes;
}
