/**
 * A small, strict reader for the XML the platform writes itself (the pain.001 bank file): it checks
 * that a document is well formed and gives its element tree, so that tests and the reconciliation
 * report read the file as a bank would, not the data it was made from. It takes an XML declaration,
 * elements, attributes, text, comments, the five predefined entities and character references; a
 * DTD, CDATA sections and processing instructions are refused, since the platform writes none.
 */

export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** The element's own text (entities resolved), its children's text not included. */
  readonly text: string;
}

export class XmlSyntaxError extends Error {
  override readonly name = 'XmlSyntaxError';
}

const namePattern = /[A-Za-z_][-A-Za-z0-9_.:]*/y;
const entities: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};
/** Characters XML 1.0 does not allow anywhere in a document. */
// eslint-disable-next-line no-control-regex
const forbiddenCharacter = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

/** The document's root element; throws XmlSyntaxError when the text is not well formed. */
export function parseXml(text: string): XmlElement {
  const bad = forbiddenCharacter.exec(text);
  if (bad !== null) throw new XmlSyntaxError(`a forbidden character at ${bad.index}`);
  let at = 0;

  function fail(message: string): never {
    throw new XmlSyntaxError(`${message} at ${at}`);
  }
  function skipSpace(): void {
    while (at < text.length && ' \t\r\n'.includes(text[at] ?? '')) at += 1;
  }
  function skipMisc(): void {
    for (;;) {
      skipSpace();
      if (!text.startsWith('<!--', at)) return;
      const end = text.indexOf('-->', at + 4);
      if (end < 0 || text.slice(at + 4, end).includes('--')) fail('a malformed comment');
      at = end + 3;
    }
  }
  function name(): string {
    namePattern.lastIndex = at;
    const match = namePattern.exec(text);
    if (match === null) fail('a name expected');
    at += match[0].length;
    return match[0];
  }
  function characterData(raw: string): string {
    if (raw.includes('<')) fail('a "<" in character data');
    return raw.replace(/&([^;]*);?/g, (reference: string, body: string) => {
      if (!reference.endsWith(';')) fail(`an unterminated reference "${reference}"`);
      const named = entities[body];
      if (named !== undefined) return named;
      const numeric = /^#(?:x([0-9A-Fa-f]+)|([0-9]+))$/.exec(body);
      if (numeric === null) fail(`an unknown entity "&${body};"`);
      const code = Number.parseInt(
        numeric[1] ?? numeric[2] ?? '',
        numeric[1] === undefined ? 10 : 16,
      );
      const character = code <= 0x10ffff ? String.fromCodePoint(code) : '\u0000';
      if (character === '\u0000' || forbiddenCharacter.test(character))
        fail('a forbidden reference');
      return character;
    });
  }
  function attributes(): Record<string, string> {
    const found: Record<string, string> = {};
    for (;;) {
      const before = at;
      skipSpace();
      if (text[at] === '>' || text.startsWith('/>', at)) return found;
      if (at === before) fail('a space expected before an attribute');
      const key = name();
      skipSpace();
      if (text[at] !== '=') fail('"=" expected');
      at += 1;
      skipSpace();
      const quote = text[at];
      if (quote !== '"' && quote !== "'") fail('a quoted attribute value expected');
      const end = text.indexOf(quote, at + 1);
      if (end < 0) fail('an unterminated attribute value');
      if (Object.hasOwn(found, key)) fail(`a repeated attribute "${key}"`);
      found[key] = characterData(text.slice(at + 1, end));
      at = end + 1;
    }
  }
  function element(): XmlElement {
    if (text[at] !== '<') fail('an element expected');
    at += 1;
    const tag = name();
    const attrs = attributes();
    if (text.startsWith('/>', at)) {
      at += 2;
      return { name: tag, attributes: attrs, children: [], text: '' };
    }
    at += 1; // '>'
    const children: XmlElement[] = [];
    let ownText = '';
    for (;;) {
      const next = text.indexOf('<', at);
      if (next < 0) fail(`"</${tag}>" expected`);
      const raw = text.slice(at, next);
      if (raw.includes(']]>')) fail('"]]>" in character data');
      ownText += characterData(raw);
      at = next;
      if (text.startsWith('</', at)) {
        at += 2;
        const closing = name();
        if (closing !== tag) fail(`"</${tag}>" expected, not "</${closing}>"`);
        skipSpace();
        if (text[at] !== '>') fail('">" expected');
        at += 1;
        return { name: tag, attributes: attrs, children, text: ownText };
      }
      if (text.startsWith('<!--', at)) {
        const end = text.indexOf('-->', at + 4);
        if (end < 0 || text.slice(at + 4, end).includes('--')) fail('a malformed comment');
        at = end + 3;
      } else if (text.startsWith('<!', at) || text.startsWith('<?', at)) {
        fail('an unsupported construct (DTD, CDATA or processing instruction)');
      } else {
        children.push(element());
      }
    }
  }

  if (text.startsWith('<?xml')) {
    const end = text.indexOf('?>');
    if (
      end < 0 ||
      !/^<\?xml\s+version=(["'])1\.[0-9]+\1(\s+encoding=(["'])[A-Za-z][-A-Za-z0-9._]*\3)?(\s+standalone=(["'])(yes|no)\5)?\s*\?>$/.test(
        text.slice(0, end + 2),
      )
    ) {
      fail('a malformed XML declaration');
    }
    at = end + 2;
  }
  skipMisc();
  if (text.startsWith('<!', at) || text.startsWith('<?', at)) fail('an unsupported construct');
  const root = element();
  skipMisc();
  if (at !== text.length) fail('content after the root element');
  return root;
}

/** The children of `element` named `name`. */
export function childrenNamed(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((child) => child.name === name);
}

/** The one element at `path` ("GrpHdr/MsgId") below `element`; throws if absent or repeated. */
export function elementAt(element: XmlElement, path: string): XmlElement {
  let current = element;
  for (const step of path.split('/')) {
    const found = childrenNamed(current, step);
    const only = found[0];
    if (only === undefined || found.length > 1) {
      throw new XmlSyntaxError(`expected one <${step}> in <${current.name}> (path ${path})`);
    }
    current = only;
  }
  return current;
}

/** The text of the one element at `path`. */
export function textAt(element: XmlElement, path: string): string {
  return elementAt(element, path).text;
}
