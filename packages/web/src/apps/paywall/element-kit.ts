/**
 * What the elements sites load from the platform (`<mite-paywall>`, `<mite-meter>`) share: reading
 * a parameter of a Mite challenge for display, showing a price, and making DOM nodes. Each
 * element's script is built on its own, so this is bundled into each, and stays small.
 */

/** What both elements' shadow roots are styled with (each adds its own rules). */
export const elementCss = `
:host{display:block;font:inherit;color:inherit}
.box{border:1px solid #767676;border-radius:8px;padding:1rem;max-width:40rem;background:#fff;color:#1a1a1a}
.box p{margin:0 0 .75rem}
button{font:inherit;font-weight:600;padding:.6rem 1.2rem;border-radius:6px;border:0;background:#1d4ed8;color:#fff;cursor:pointer;min-height:44px}
button:focus-visible{outline:3px solid #1a1a1a;outline-offset:2px}
.status:empty{display:none}
.refused{color:#a0001b;font-weight:600}
`;

/** Micro-units per unit of the currency (the `amount` of a Mite request counts micro-units). */
const microsPerUnit = 1_000_000n;

/** "$0.02" for 20000 micro-units of USD; other currencies by their code. */
export function showPrice(amount: string, currency: string): string {
  const micros = BigInt(amount);
  const fraction = (micros % microsPerUnit)
    .toString()
    .padStart(6, '0')
    .replace(/0{1,4}$/, '');
  const text = `${micros / microsPerUnit}.${fraction}`;
  return currency.toLowerCase() === 'usd' ? `$${text}` : `${text} ${currency.toUpperCase()}`;
}

/** A parameter's value in one challenge's text (quoted or a bare token). */
function paramIn(challenge: string, name: string): string | undefined {
  const match = new RegExp(`[\\s,]${name}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^\\s,"]+))`, 'i').exec(
    ` ${challenge}`,
  );
  return (match?.[1] ?? match?.[2])?.replace(/\\(.)/g, '$1');
}

/**
 * A parameter of the first Mite `Payment` challenge (of `intent`, when given) in a
 * `WWW-Authenticate` value that may hold several (a charge beside a session, another method's).
 * For display only: the platform's window checks the challenge itself.
 */
export function challengeParam(header: string, name: string, intent?: string): string | undefined {
  for (const challenge of header.split(/(?=Payment\s)/i)) {
    if (!/^Payment\s/i.test(challenge) || paramIn(challenge, 'method') !== 'mite') continue;
    if (intent !== undefined && paramIn(challenge, 'intent') !== intent) continue;
    return paramIn(challenge, name);
  }
  return undefined;
}

/** A challenge's `request` parameter decoded (base64url JSON), or undefined. */
export function requestOf(encoded: string): Record<string, unknown> | undefined {
  try {
    const json: unknown = JSON.parse(atob(encoded.replace(/-/g, '+').replace(/_/g, '/')));
    return typeof json === 'object' && json !== null
      ? (json as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function make(
  tag: string,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

/**
 * What `<mite-paywall>` and `<mite-meter>` are built on: a shadow root holding one box (named for
 * screen readers by what it sells) and a status line, and the `src` and `platform` attributes.
 */
export class SiteElement extends HTMLElement {
  protected readonly box: HTMLElement;
  protected readonly status = make('p', { class: 'status', role: 'status' });

  constructor(css: string, boxLabel: string) {
    super();
    const root = this.attachShadow({ mode: 'open' });
    this.box = make('section', { class: 'box', part: 'box', 'aria-label': boxLabel });
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(elementCss + css);
    root.adoptedStyleSheets = [sheet];
    root.append(this.box);
  }

  /** The resource sold, as an absolute URL (the page's own by default). */
  protected get src(): string {
    return new URL(this.getAttribute('src') ?? location.href, location.href).href;
  }

  /** The platform's origin: the only origin whose window is heard. */
  protected get platform(): string | undefined {
    try {
      return new URL(this.getAttribute('platform') ?? '').origin;
    } catch {
      return undefined;
    }
  }

  protected show(...nodes: Node[]): void {
    this.box.replaceChildren(...nodes, this.status);
  }

  protected say(text: string, refused = false): void {
    this.status.textContent = text;
    this.status.className = refused ? 'status refused' : 'status';
  }
}
