/**
 * What the session window checks and computes without calling anyone: that a site's session
 * challenge reads, names this platform, its currency and a resource of the asking origin, and is
 * paid by the second (the one unit this window can pace); the deposit it holds; and the pace at
 * which it pays, which is time itself: the window never pays for a second that has not begun
 * (bar a small lead that keeps playback from stalling on the network), whatever the site asks.
 */
import {
  currency,
  parseNeedVoucher,
  parseSessionChallengeHeader,
  resourceIsOnOrigin,
  sameCurrency,
  type SessionChallenge,
} from '@mite/protocol';
import type { Checked } from '../pay-checks.ts';

/** Seconds paid ahead of the clock, so that the next second is there when it is due. */
export const paceLeadSeconds = 1;
/** What a session holds when the site suggests nothing: a minute of listening. */
export const depositSecondsDefault = 60n;
/** The most a session holds at once, however much the site suggests: an hour of listening. */
export const depositSecondsMax = 3_600n;

/** A session the person may start, once the challenge has passed every check. */
export interface SessionOffer {
  readonly challenge: SessionChallenge;
  /** The price of one second. */
  readonly unitPriceMicros: bigint;
  /** What the window holds at open (and adds at each top-up). */
  readonly depositMicros: bigint;
  /** The stream as an absolute URL on the asking origin. */
  readonly resourceUrl: string;
}

function refusal(reason: string): { readonly ok: false; readonly reason: string } {
  return { ok: false, reason };
}

/** The deposit: the site's suggestion in whole seconds, within a minute's default and an hour. */
export function depositFor(challenge: SessionChallenge): bigint {
  const unitPrice = BigInt(challenge.request.amount);
  const suggested = challenge.request.suggestedDeposit;
  const seconds =
    suggested === undefined ? depositSecondsDefault : BigInt(suggested) / unitPrice || 1n;
  return (seconds > depositSecondsMax ? depositSecondsMax : seconds) * unitPrice;
}

/** The site's session challenge, checked against this platform and the asking origin. */
export function checkSessionOffer(
  header: string,
  context: {
    readonly askingOrigin: string;
    readonly platformOrigin: string;
    readonly nowSeconds: number;
  },
): Checked<SessionOffer> {
  const parsed = parseSessionChallengeHeader(header, { nowSeconds: context.nowSeconds });
  if (!parsed.ok) return refusal(`the site\u2019s request cannot be used: ${parsed.detail}.`);
  const challenge = parsed.value;
  const { request } = challenge;
  const { platform, resource } = request.methodDetails;
  if (!URL.canParse(platform) || new URL(platform).origin !== context.platformOrigin) {
    return refusal(`the site asks to be paid at ${platform}, not at this platform.`);
  }
  if (!sameCurrency(request.currency, currency)) {
    return refusal(`the site asks for ${request.currency.toUpperCase()}, not ${currency}.`);
  }
  if (!resourceIsOnOrigin(resource, context.askingOrigin)) {
    return refusal(
      `${context.askingOrigin} asks you to pay for ${resource}, which is not one of its own pages.`,
    );
  }
  if (request.unitType !== 'second') {
    return refusal(
      `this window pays by the second, and the site charges by the ${request.unitType}.`,
    );
  }
  const unitPriceMicros = BigInt(request.amount);
  if (BigInt(request.methodDetails.minVoucherDelta) !== unitPriceMicros) {
    return refusal('the site asks to be paid more than one second at a time.');
  }
  return {
    ok: true,
    value: {
      challenge,
      unitPriceMicros,
      depositMicros: depositFor(challenge),
      resourceUrl: new URL(resource, context.askingOrigin).href,
    },
  };
}

/** The seconds paid for may reach this many at `nowMs`, for a session started at `startMs`. */
export function secondsAllowed(startMs: number, nowMs: number): bigint {
  const elapsed = Math.max(0, Math.floor((nowMs - startMs) / 1000));
  return BigInt(elapsed + 1 + paceLeadSeconds);
}

/** When `seconds` may be paid for, for a session started at `startMs`. */
export function payableAtMs(startMs: number, seconds: bigint): number {
  const wait = seconds - 1n - BigInt(paceLeadSeconds);
  return startMs + (wait > 0n ? Number(wait) * 1000 : 0);
}

/** A stream's need for a voucher, read and bound to the session: the seconds it asks to reach. */
export function secondsNeeded(
  data: string,
  context: { readonly sessionId: string; readonly unitPriceMicros: bigint },
): Checked<bigint> {
  const need = parseNeedVoucher(data);
  if (!need.ok) return refusal(`the site asked for a voucher it did not describe: ${need.detail}.`);
  if (need.value.channelId !== context.sessionId) {
    return refusal('the site asked for a voucher of another session.');
  }
  const micros = need.value.requiredCumulativeMicros;
  return { ok: true, value: (micros + context.unitPriceMicros - 1n) / context.unitPriceMicros };
}
