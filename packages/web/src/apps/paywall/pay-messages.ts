/**
 * The messages between a site's `<mite-paywall>` element and the platform's payment window
 * (`/pay/`), sent with `postMessage`. Each side names the other's exact origin when it sends and
 * checks the sender's origin and window when it receives, so that no third page can read a
 * credential or feed the window a challenge:
 *
 * 1. The element opens `PLATFORM/pay/?origin=SITE_ORIGIN`; the window says `ready` to its opener,
 *    addressed to SITE_ORIGIN only (a page of another origin that opened it hears nothing).
 * 2. The element answers with the `challenge` (the 402's `WWW-Authenticate` value), addressed to
 *    the platform's origin. The window takes one challenge, from its opener at SITE_ORIGIN only.
 * 3. The person reads what they pay for and to whom, and clicks Pay in the window; nothing else
 *    pays (there is no message that pays).
 * 4. The window answers `credential` (an `Authorization: Payment ...` value), `refused` (with the
 *    reason) or `cancelled`, addressed to SITE_ORIGIN; the element takes them from that window at
 *    the platform's origin only.
 */

/** Where the payment window is, on the platform's origin. */
export const payWindowPath = '/pay/';

/** The query parameter that names the origin asking to pay. */
export const askingOriginParam = 'origin';

export const payMessageTypes = {
  ready: 'mite-pay:ready',
  challenge: 'mite-pay:challenge',
  credential: 'mite-pay:credential',
  refused: 'mite-pay:refused',
  cancelled: 'mite-pay:cancelled',
} as const;

/** From the element to the window. */
export interface ChallengeMessage {
  readonly type: typeof payMessageTypes.challenge;
  /** The `WWW-Authenticate` value of the resource's 402. */
  readonly header: string;
}

/** From the window to the element. */
export type PayWindowMessage =
  | { readonly type: typeof payMessageTypes.ready }
  | { readonly type: typeof payMessageTypes.credential; readonly authorization: string }
  | { readonly type: typeof payMessageTypes.refused; readonly reason: string }
  | { readonly type: typeof payMessageTypes.cancelled };

/** A message's `type`, when it is an object with a string `type`. */
export function messageType(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const type = (data as { type?: unknown }).type;
  return typeof type === 'string' ? type : undefined;
}

/** A message's string field, or undefined. */
export function messageText(data: unknown, name: string): string | undefined {
  const value = (data as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}
