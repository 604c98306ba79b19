/**
 * JSON in one spelling per value, and JSON parsing that reports instead of throwing. The Payment
 * draft asks for JCS (RFC 8785) wherever encoded JSON is covered by the challenge HMAC; for the
 * values Mite sends (objects, arrays, strings, integers, booleans, null) JCS is exactly
 * `JSON.stringify` with object keys sorted by UTF-16 code units, which is what this writes.
 */
import { accepted, type Decoded, refused } from './problems.ts';

/** Serializes a JSON value canonically. A value JSON cannot carry is a bug in the caller. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') {
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('JSON carries only finite numbers');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
    return `{${members.join(',')}}`;
  }
  throw new TypeError(`JSON cannot carry a ${typeof value}`);
}

// `fatal` refuses invalid UTF-8 rather than patching it; `ignoreBOM` keeps a byte order mark in
// the text, where JSON.parse refuses it, instead of silently dropping it.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

export function utf8Bytes(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** Decodes strict UTF-8. */
export function utf8Text(bytes: Uint8Array): Decoded<string> {
  try {
    return accepted(utf8Decoder.decode(bytes));
  } catch {
    return refused('badJson', 'the text is not valid UTF-8');
  }
}

/** Parses JSON text; a syntax error becomes `badJson`. */
export function parseJsonText(text: string): Decoded<unknown> {
  try {
    return accepted(JSON.parse(text) as unknown);
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'unparseable';
    return refused('badJson', `the text is not JSON: ${reason}`);
  }
}

/** Parses UTF-8 JSON bytes. */
export function parseJsonBytes(bytes: Uint8Array): Decoded<unknown> {
  const text = utf8Text(bytes);
  return text.ok ? parseJsonText(text.value) : text;
}
