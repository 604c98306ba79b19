/**
 * What the payment window checks before it offers to pay: who is asking (an exact origin, on
 * https or the loopback), that the challenge reads and names this platform, the platform's
 * currency and a resource of the asking origin (the protocol package's rules), and the budget.
 * Nothing here calls the platform; the page does, once these hold.
 */
import {
  type Challenge,
  currency,
  formatAmount,
  isSecureOrLoopback,
  parseChallengeHeader,
  requestAmountMicros,
  resourceIsOnOrigin,
  sameCurrency,
} from '@mite/protocol';

/**
 * The budget the window applies. Budgets stored for the user are not yet in the platform's API,
 * so every payment gets these defaults: the same limit per payment as `mite login`'s, and an
 * amount above which the person confirms the price once more before paying.
 */
export interface PayBudget {
  readonly maxPerPaymentMicros: bigint;
  readonly askAboveMicros: bigint;
}

export const defaultPayBudget: PayBudget = {
  maxPerPaymentMicros: 1_000_000n,
  askAboveMicros: 250_000n,
};

export type Checked<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

function refusal(reason: string): { readonly ok: false; readonly reason: string } {
  return { ok: false, reason };
}

/**
 * The origin asking to pay, from the window's `?origin=`: an exact serialized origin on https
 * (plain http on the loopback only), else undefined. The browser checks that the messages
 * really come from it.
 */
export function askingOriginOf(value: string | null): string | undefined {
  if (value === null) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return url.origin === value && isSecureOrLoopback(url) ? value : undefined;
}

/** "$0.02" for 20000 micro-units. */
export function showMicros(micros: bigint): string {
  const [whole = '0', fraction = ''] = formatAmount(micros).split('.');
  return `$${whole}.${fraction.replace(/0+$/, '').padEnd(2, '0')}`;
}

/** What the person is asked to pay, once the challenge has passed every check. */
export interface PayRequest {
  readonly challenge: Challenge;
  readonly amountMicros: bigint;
  /** The resource as an absolute URL on the asking origin. */
  readonly resourceUrl: string;
  /** Whether the budget asks for one more confirmation (above its ask-above amount). */
  readonly askFirst: boolean;
}

/** The challenge a site sent, checked against this platform, the asking origin and the budget. */
export function checkChallenge(
  header: string,
  context: {
    readonly askingOrigin: string;
    readonly platformOrigin: string;
    readonly nowSeconds: number;
    readonly budget: PayBudget;
  },
): Checked<PayRequest> {
  const parsed = parseChallengeHeader(header, { nowSeconds: context.nowSeconds });
  if (!parsed.ok)
    return refusal(`the site\u2019s payment request cannot be used: ${parsed.detail}.`);
  const challenge = parsed.value;
  const { platform, resource } = challenge.request.methodDetails;
  if (new URL(platform).origin !== context.platformOrigin) {
    return refusal(`the site asks to be paid at ${platform}, not at this platform.`);
  }
  if (!sameCurrency(challenge.request.currency, currency)) {
    return refusal(
      `the site asks for ${challenge.request.currency.toUpperCase()}, not ${currency}.`,
    );
  }
  if (!resourceIsOnOrigin(resource, context.askingOrigin)) {
    return refusal(
      `${context.askingOrigin} asks you to pay for ${resource}, which is not one of its own pages.`,
    );
  }
  const amountMicros = requestAmountMicros(challenge.request);
  if (amountMicros > context.budget.maxPerPaymentMicros) {
    return refusal(
      `${showMicros(amountMicros)} is above your limit of ` +
        `${showMicros(context.budget.maxPerPaymentMicros)} for one payment.`,
    );
  }
  return {
    ok: true,
    value: {
      challenge,
      amountMicros,
      resourceUrl: new URL(resource, context.askingOrigin).href,
      askFirst: amountMicros > context.budget.askAboveMicros,
    },
  };
}
