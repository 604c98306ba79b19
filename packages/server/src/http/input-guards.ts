/**
 * Input no route should ever see, refused for every route in one place:
 *
 * - JSON nested deeper than `jsonNestingDepthMax`, before it is parsed: every recursive walk
 *   after (the prototype-poisoning scan, zod, JSON.stringify, a log serializer) is then bounded,
 *   and a body of nested brackets cannot overflow the stack.
 * - strings holding a NUL character or a lone UTF-16 surrogate, in the path parameters, the query
 *   and the body (keys too): PostgreSQL's text cannot hold a NUL (the insert would fail, a 500)
 *   and UTF-8 cannot encode a lone surrogate (it would be replaced by U+FFFD, silently storing
 *   something else than was sent, and on SQLite only).
 *
 * Both answer 400 problem+json before the handler runs, so nothing changes.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ValidationIssue } from './error-handling.ts';
import { ProblemError } from './problems.ts';

/** How deep a request body's arrays and objects may nest; API bodies need a few levels. */
export const jsonNestingDepthMax = 32;

const openBracket = 0x5b;
const closeBracket = 0x5d;
const openBrace = 0x7b;
const closeBrace = 0x7d;
const quote = 0x22;
const backslash = 0x5c;

/** Whether the JSON text `text` nests deeper than `depthMax`; a linear scan, no parsing. */
export function jsonNestsDeeperThan(text: string, depthMax: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === backslash) index++;
      else if (char === quote) inString = false;
    } else if (char === quote) {
      inString = true;
    } else if (char === openBracket || char === openBrace) {
      if (++depth > depthMax) return true;
    } else if (char === closeBracket || char === closeBrace) {
      depth--;
    }
  }
  return false;
}

// With the `u` flag a paired surrogate is one code point, so \p{Cs} matches lone ones only.
const loneSurrogate = /\p{Cs}/u;

/** Whether `text` can be stored and sent back as it came: no NUL, no lone surrogate. */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && !loneSurrogate.test(text);
}

/** The JSON pointer of the first string (value or key) in `value` that is not storable. */
export function firstUnstorableString(value: unknown): string | undefined {
  const pending: [unknown, string][] = [[value, '']];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, pointer] = next;
    if (typeof item === 'string') {
      if (!isStorableText(item)) return pointer;
    } else if (typeof item === 'object' && item !== null) {
      for (const [key, child] of Object.entries(item)) {
        const childPointer = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        if (!isStorableText(key)) return pointer;
        pending.push([child, childPointer]);
      }
    }
  }
  return undefined;
}

const unstorableMessage = 'holds a NUL character or a lone surrogate, which are not accepted';

function refuseUnstorableStrings(request: FastifyRequest): void {
  const parts: [string, unknown][] = [
    ['params', request.params],
    ['querystring', request.query],
    ['body', request.body],
  ];
  for (const [where, value] of parts) {
    const pointer = firstUnstorableString(value);
    if (pointer === undefined) continue;
    // The pointer may itself hold the bad characters: it is escaped as JSON in the answer.
    const issues: ValidationIssue[] = [{ in: where, path: pointer, message: unstorableMessage }];
    throw new ProblemError('validationFailed', `${where}${pointer}: ${unstorableMessage}`, {
      issues,
    });
  }
}

/** Replaces the JSON body parser with one that refuses deep nesting, and checks every string. */
export function installInputGuards(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (jsonNestsDeeperThan(text, jsonNestingDepthMax)) {
      const detail = `The body nests arrays and objects deeper than ${jsonNestingDepthMax} levels.`;
      done(new ProblemError('malformedJson', detail), undefined);
      return;
    }
    parseJson(request, text, done);
  });
  app.addHook('preValidation', async (request) => refuseUnstorableStrings(request));
}
