/**
 * Strict base64url (RFC 4648 section 5, no padding) as the Payment draft uses it, and strict
 * padded standard base64 as x402 uses it. Decoding accepts exactly one spelling per byte string:
 * no padding where there should be none, no foreign characters or whitespace, and no stray bits
 * in the last character, so that text covered by an HMAC cannot be re-spelled.
 */
import { canonicalJson, parseJsonBytes, utf8Bytes } from './canonical-json.ts';
import { accepted, type Decoded, refused } from './problems.ts';

const urlAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const standardAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function valueTable(alphabet: string): Int8Array {
  const table = new Int8Array(128).fill(-1);
  for (let index = 0; index < alphabet.length; index += 1)
    table[alphabet.charCodeAt(index)] = index;
  return table;
}

const urlValues = valueTable(urlAlphabet);
const standardValues = valueTable(standardAlphabet);

function encodeWith(bytes: Uint8Array, alphabet: string, padded: boolean): string {
  let text = '';
  let index = 0;
  for (; index + 2 < bytes.length; index += 3) {
    const triple =
      ((bytes[index] ?? 0) << 16) | ((bytes[index + 1] ?? 0) << 8) | (bytes[index + 2] ?? 0);
    text +=
      alphabet.charAt((triple >> 18) & 63) +
      alphabet.charAt((triple >> 12) & 63) +
      alphabet.charAt((triple >> 6) & 63) +
      alphabet.charAt(triple & 63);
  }
  const rest = bytes.length - index;
  if (rest === 0) return text;
  const first = bytes[index] ?? 0;
  const second = rest === 2 ? (bytes[index + 1] ?? 0) : 0;
  const pair = (first << 8) | second;
  text += alphabet.charAt((pair >> 10) & 63) + alphabet.charAt((pair >> 4) & 63);
  if (rest === 2) text += alphabet.charAt((pair << 2) & 63);
  if (padded) text += rest === 2 ? '=' : '==';
  return text;
}

/** Encodes bytes as base64url without padding. */
export function encodeBase64url(bytes: Uint8Array): string {
  return encodeWith(bytes, urlAlphabet, false);
}

/** Encodes bytes as standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return encodeWith(bytes, standardAlphabet, true);
}

function decodeDigits(digits: string, values: Int8Array): Decoded<Uint8Array> {
  if (digits.length % 4 === 1) return refused('badBase64', 'base64 text cannot be 1 mod 4 long');
  const bytes = new Uint8Array(Math.floor((digits.length * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let out = 0;
  for (let index = 0; index < digits.length; index += 1) {
    const code = digits.charCodeAt(index);
    const value = code < 128 ? (values[code] ?? -1) : -1;
    if (value < 0) return refused('badBase64', `base64 text has a foreign character at ${index}`);
    buffer = ((buffer << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[out] = (buffer >> bits) & 0xff;
      out += 1;
    }
  }
  // The bits left over after the last whole byte must be zero, or two texts would decode alike.
  if ((buffer & ((1 << bits) - 1)) !== 0) {
    return refused('badBase64', 'base64 text is not canonical: its last character has stray bits');
  }
  return accepted(bytes);
}

/** Decodes unpadded base64url of at most `lengthMax` characters. */
export function decodeBase64url(text: string, lengthMax: number): Decoded<Uint8Array> {
  if (typeof text !== 'string') return refused('wrongType', 'base64url text is a string');
  if (text.length > lengthMax) {
    return refused('valueTooLong', `base64url text is longer than ${lengthMax} characters`);
  }
  if (text.includes('=')) return refused('badBase64', 'base64url text carries no padding');
  return decodeDigits(text, urlValues);
}

/** Decodes padded standard base64 of at most `lengthMax` characters. */
export function decodeBase64(text: string, lengthMax: number): Decoded<Uint8Array> {
  if (typeof text !== 'string') return refused('wrongType', 'base64 text is a string');
  if (text.length > lengthMax) {
    return refused('valueTooLong', `base64 text is longer than ${lengthMax} characters`);
  }
  if (text.length % 4 !== 0) return refused('badBase64', 'padded base64 is a multiple of 4 long');
  const digits = text.replace(/={1,2}$/, '');
  const padding = text.length - digits.length;
  const expectedPadding = [0, 0, 2, 1][digits.length % 4] ?? 0;
  if (padding !== expectedPadding || digits.includes('=')) {
    return refused('badBase64', 'base64 padding is wrong');
  }
  return decodeDigits(digits, standardValues);
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
