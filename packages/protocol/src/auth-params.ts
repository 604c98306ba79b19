/**
 * A strict reader and writer of HTTP authentication fields (RFC 9110 section 11):
 *
 *   WWW-Authenticate = #challenge
 *   challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param       = token BWS "=" BWS ( token / quoted-string )
 *
 * One field may hold several challenges of several schemes; a comma separates both challenges
 * and the parameters inside one, and what follows a comma tells which: `name=` starts a parameter,
 * a bare token starts a challenge. Scheme and parameter names are case-insensitive; parameters come
 * back under lower-case names. The reader refuses rather than guesses: duplicate parameters,
 * unterminated quotes, control characters and oversize input are errors.
 */
import { accepted, type Decoded, excerpt, refused, type Refusal } from './problems.ts';

/** The longest header value any Mite decoder reads (the draft asks servers to stay under 8 KB). */
export const headerLengthMax = 8192;
/** The most parameters one challenge may carry. */
export const paramCountMax = 32;
/** The most challenges one header may carry. */
export const challengeCountMax = 16;

/** One challenge (or one credentials value) of an authentication header. */
export interface AuthChallenge {
  /** The scheme as received; compare with `sameScheme`. */
  readonly scheme: string;
  /** The token68 form (`Payment abc-_`), when the challenge uses it instead of parameters. */
  readonly token68?: string;
  /** Parameters by lower-case name, values unquoted. */
  readonly params: ReadonlyMap<string, string>;
}

/** Whether a received scheme names `expected`, which the RFC makes case-insensitive. */
export function sameScheme(received: string, expected: string): boolean {
  return received.toLowerCase() === expected.toLowerCase();
}

const tokenPattern = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const token68Pattern = /[A-Za-z0-9\-._~+/]+=*(?=[ \t]*(?:,|$))/y;
const fullTokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Whether a string is an RFC 9110 token. */
export function isToken(text: string): boolean {
  return fullTokenPattern.test(text);
}

// Field values are octets: HTAB, visible ASCII, space and obs-text (0x80-0xFF). Anything else, a
// control character above all, has no business in a header and may smuggle a line break.
function firstBadCharacter(text: string): number {
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code === 0x09) continue;
    if (code < 0x20 || code === 0x7f || code > 0xff) return index;
  }
  return -1;
}

/** A cursor over one header value. */
class Reader {
  position = 0;
  constructor(readonly text: string) {}

  atEnd(): boolean {
    return this.position >= this.text.length;
  }
  peek(): string {
    return this.text.charAt(this.position);
  }
  skipWhitespace(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.position += 1;
  }
  match(pattern: RegExp): string | undefined {
    pattern.lastIndex = this.position;
    const found = pattern.exec(this.text);
    if (found === null) return undefined;
    this.position = pattern.lastIndex;
    return found[0];
  }
  /** Whether a parameter (`token BWS "="`) starts here, without moving. */
  paramAhead(): boolean {
    const start = this.position;
    const name = this.match(tokenPattern);
    this.skipWhitespace();
    const found = name !== undefined && this.peek() === '=';
    this.position = start;
    return found;
  }
  /** Skips whitespace and empty list elements, which RFC 9110 (section 5.6.1) tells us to accept. */
  skipSeparators(): void {
    for (;;) {
      this.skipWhitespace();
      if (this.peek() !== ',') return;
      this.position += 1;
    }
  }
}

function readQuoted(reader: Reader): Decoded<string> {
  const start = reader.position;
  reader.position += 1;
  let value = '';
  while (!reader.atEnd()) {
    const char = reader.peek();
    reader.position += 1;
    if (char === '"') return accepted(value);
    if (char === '\\') {
      if (reader.atEnd()) break;
      value += reader.peek();
      reader.position += 1;
    } else {
      value += char;
    }
  }
  return refused('unterminatedQuote', `the quoted string at ${start} has no closing quote`);
}

function readValue(reader: Reader, name: string): Decoded<string> {
  if (reader.peek() === '"') return readQuoted(reader);
  const token = reader.match(tokenPattern);
  if (token === undefined) {
    return refused('malformedHeader', `parameter ${excerpt(name)} has no token or quoted value`);
  }
  return accepted(token);
}

function readParams(reader: Reader, params: Map<string, string>): Refusal | undefined {
  for (;;) {
    const name = reader.match(tokenPattern)?.toLowerCase() ?? '';
    reader.skipWhitespace();
    reader.position += 1; // the "=" that paramAhead saw
    reader.skipWhitespace();
    const value = readValue(reader, name);
    if (!value.ok) return value;
    if (params.has(name))
      return refused('duplicateParameter', `parameter ${excerpt(name)} appears twice`);
    if (params.size >= paramCountMax) {
      return refused(
        'tooManyParameters',
        `a challenge carries at most ${paramCountMax} parameters`,
      );
    }
    params.set(name, value.value);
    reader.skipWhitespace();
    if (reader.atEnd()) return undefined;
    if (reader.peek() !== ',') {
      return refused(
        'malformedHeader',
        `unexpected ${JSON.stringify(reader.peek())} at ${reader.position}`,
      );
    }
    reader.skipSeparators();
    if (reader.atEnd() || !reader.paramAhead()) return undefined;
  }
}

function readChallenge(reader: Reader): Decoded<AuthChallenge> {
  const scheme = reader.match(tokenPattern);
  if (scheme === undefined) {
    return refused('malformedHeader', `expected an auth scheme at ${reader.position}`);
  }
  const params = new Map<string, string>();
  if (reader.atEnd() || reader.peek() === ',') return accepted({ scheme, params });
  if (reader.peek() !== ' ') {
    return refused('malformedHeader', `the scheme "${scheme}" must be followed by a space`);
  }
  reader.skipWhitespace();
  if (reader.atEnd() || reader.peek() === ',') return accepted({ scheme, params });
  // token68 first: its pattern demands a list end right after it, which no parameter can meet
  // (a parameter needs a value after its "="), so `abc==` is token68 and `abc=def` a parameter.
  const token68 = reader.match(token68Pattern);
  if (token68 !== undefined) return accepted({ scheme, token68, params });
  if (!reader.paramAhead()) {
    return refused('malformedHeader', `expected token68 or parameters at ${reader.position}`);
  }
  const failure = readParams(reader, params);
  return failure ?? accepted({ scheme, params });
}

function parseChallengeList(header: string, lengthMax: number): Decoded<AuthChallenge[]> {
  if (typeof header !== 'string') return refused('wrongType', 'a header value is a string');
  if (header.length > lengthMax) {
    return refused('headerTooLong', `the header is longer than ${lengthMax} characters`);
  }
  const bad = firstBadCharacter(header);
  if (bad >= 0) return refused('badCharacter', `the header has a forbidden character at ${bad}`);
  const reader = new Reader(header);
  const challenges: AuthChallenge[] = [];
  for (reader.skipSeparators(); !reader.atEnd(); reader.skipSeparators()) {
    if (challenges.length >= challengeCountMax) {
      return refused('tooManyEntries', `a header carries at most ${challengeCountMax} challenges`);
    }
    const challenge = readChallenge(reader);
    if (!challenge.ok) return challenge;
    challenges.push(challenge.value);
  }
  if (challenges.length === 0) return refused('malformedHeader', 'the header holds no challenge');
  return accepted(challenges);
}

/** Reads a `WWW-Authenticate` value: one or more challenges, of any schemes. */
export function parseAuthChallenges(header: string): Decoded<AuthChallenge[]> {
  return parseChallengeList(header, headerLengthMax);
}

/** Reads an `Authorization` value, which holds exactly one set of credentials. */
export function parseAuthCredentials(
  header: string,
  lengthMax: number = headerLengthMax,
): Decoded<AuthChallenge> {
  const parsed = parseChallengeList(header, lengthMax);
  if (!parsed.ok) return parsed;
  const [only, ...others] = parsed.value;
  if (only === undefined || others.length > 0) {
    return refused('malformedHeader', 'an Authorization header holds exactly one credential');
  }
  return accepted(only);
}

/** Quotes a parameter value. A value no header can carry is a bug in the caller, so it throws. */
export function quoteString(value: string): string {
  if (firstBadCharacter(value) >= 0) {
    throw new RangeError('a header parameter value cannot carry control or non-Latin-1 characters');
  }
  return `"${value.replace(/["\\]/g, (char) => `\\${char}`)}"`;
}

/** Writes one challenge: `Scheme name="value", ...`, every value quoted. */
export function formatAuthChallenge(
  scheme: string,
  params: readonly (readonly [name: string, value: string])[],
): string {
  if (!isToken(scheme)) throw new RangeError(`"${scheme}" is not a token`);
  const written = params.map(([name, value]) => {
    if (!isToken(name)) throw new RangeError(`"${name}" is not a token`);
    return `${name}=${quoteString(value)}`;
  });
  return written.length === 0 ? scheme : `${scheme} ${written.join(', ')}`;
}
