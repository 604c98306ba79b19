/**
 * A strict reader for the XML the platform writes itself (the pain.001 bank file): it checks that a
 * document is well formed and gives its element tree, so that tests and the reconciliation report
 * read the file as a bank would, not the data it was made from.
 *
 * Well-formedness is saxes's (the strict XML 1.0 parser jsdom uses): it refuses mismatched or
 * unclosed tags, content outside the one root, repeated or unquoted attributes, characters XML does
 * not allow, and any entity but the five predefined ones and character references. On top of that
 * a DTD, CDATA sections and processing instructions are refused, since the platform writes none:
 * with no DTD there is no entity to declare, so neither an external entity (XXE) nor a nested
 * expansion (billion laughs) can be expressed, and saxes itself never reads a file or the network.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';

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

interface OpenElement {
  readonly name: string;
  readonly attributes: Record<string, string>;
  readonly children: XmlElement[];
  text: string;
}

/** A plain record of a tag's attributes, safe for any attribute name (no prototype). */
function attributesOf(tag: SaxesTagPlain): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, tag.attributes);
}

/** The document's root element; throws XmlSyntaxError when the text is not well formed. */
export function parseXml(text: string): XmlElement {
  const parser = new SaxesParser({ xmlns: false, fragment: false });
  const open: OpenElement[] = [];
  let root: XmlElement | undefined;
  const refuse = (what: string): never => {
    throw new XmlSyntaxError(`${what} at ${parser.line}:${parser.column}`);
  };
  parser.on('error', (error) => {
    throw new XmlSyntaxError(error.message);
  });
  parser.on('doctype', () => refuse('a DTD, which the platform never writes,'));
  parser.on('cdata', () => refuse('a CDATA section, which the platform never writes,'));
  parser.on('processinginstruction', () => refuse('a processing instruction'));
  parser.on('opentag', (tag) => {
    open.push({ name: tag.name, attributes: attributesOf(tag), children: [], text: '' });
  });
  parser.on('text', (characters) => {
    const current = open.at(-1);
    // Outside the root saxes passes only white space on (anything else is its error).
    if (current !== undefined) current.text += characters;
  });
  parser.on('closetag', () => {
    const closed = open.pop();
    if (closed === undefined) return refuse('a closing tag with none open');
    const parent = open.at(-1);
    if (parent === undefined) root = closed;
    else parent.children.push(closed);
  });
  parser.write(text).close();
  if (root === undefined) return refuse('no root element');
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
