/**
 * What the elements sites load from the platform (`<mite-paywall>`, `<mite-meter>`) share: reading
 * a parameter of a Mite challenge for display, showing a price, and making DOM nodes. Each
 * element's script is built on its own, so this is bundled into each, and stays small.
 */

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
