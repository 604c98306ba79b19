/**
 * The messages between a site's `<mite-meter>` element (a player paid by the second) and the
 * platform's session window (`/pay/session/`), sent with `postMessage`. As with the paywall
 * (pay-messages.ts), each side names the other's exact origin when it sends and checks the
 * sender's origin and window when it receives.
 *
 * The window holds what pays: the wallet's cookie, the session it opens at the platform and the
 * voucher secret (a PayWord chain), which never leaves it. The element only carries credentials
 * from the window to the site, so a site's page can never pay faster than the window allows:
 *
 * 1. The element opens `PLATFORM/pay/session/?origin=SITE_ORIGIN`; the window says `ready`.
 * 2. The element sends the `challenge` (the stream's 402 `WWW-Authenticate` value).
 * 3. The person reads the price per second and the deposit held, and clicks Start in the window;
 *    the window opens the session at the platform and answers `opened` with the `open`
 *    credential, which the element sends with its request for the stream.
 * 4. Each `payment-need-voucher` event of the stream goes to the window as `need` (its data as
 *    the site wrote it; the window reads and checks it). The window answers `vouchers` at the
 *    pace of time passing, never ahead of the seconds elapsed since Start (and a small lead),
 *    with the credentials to deliver in order (a top-up's first when the deposit ran out) and the
 *    `close` credential for the same amount.
 * 5. Either side stops: the element sends `stop` (the person clicked Stop on the page, or the
 *    song ended); the window answers `stopped` with the last `close` credential, which the
 *    element sends to the site, whose close settles the session at the platform at once. Stop in
 *    the window, or the window closing, sends `stopped` too. The window also closes the session
 *    at the platform as the payer, naming no voucher, so that a site that never closes it is
 *    settled after the platform's grace at the highest voucher it handed in: what it took.
 */

/** Where the session window is, on the platform's origin. */
export const meterWindowPath = '/pay/session/';

export const meterMessageTypes = {
  ready: 'mite-meter:ready',
  challenge: 'mite-meter:challenge',
  opened: 'mite-meter:opened',
  need: 'mite-meter:need',
  vouchers: 'mite-meter:vouchers',
  stop: 'mite-meter:stop',
  stopped: 'mite-meter:stopped',
  refused: 'mite-meter:refused',
} as const;

/** From the element to the window. */
export type MeterElementMessage =
  | { readonly type: typeof meterMessageTypes.challenge; readonly header: string }
  /** A `payment-need-voucher` event's data, as the stream carried it. */
  | { readonly type: typeof meterMessageTypes.need; readonly data: string }
  | { readonly type: typeof meterMessageTypes.stop };

/** From the window to the element. */
export type MeterWindowMessage =
  | { readonly type: typeof meterMessageTypes.ready }
  | { readonly type: typeof meterMessageTypes.opened; readonly authorization: string }
  | {
      readonly type: typeof meterMessageTypes.vouchers;
      /** `Authorization` values to deliver in this order (a top-up, then the voucher). */
      readonly authorizations: readonly string[];
      /** The `close` credential for the same amount. */
      readonly close: string;
      /** What the session costs so far, in micro-units. */
      readonly paid: string;
    }
  | {
      readonly type: typeof meterMessageTypes.stopped;
      /** The last `close` credential; absent when nothing was paid. */
      readonly close?: string;
      readonly reason: string;
    }
  | { readonly type: typeof meterMessageTypes.refused; readonly reason: string };
