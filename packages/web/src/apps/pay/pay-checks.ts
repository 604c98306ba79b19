/**
 * What the payment window checks before it offers to pay: who is asking (an exact origin, on
 * https or the loopback), that the challenge reads and names this platform, the platform's
 * currency and a resource of the asking origin (the protocol package's rules), and the user's
 * budget as the platform stores it (`GET /v1/wallet/budget`) against what the user already paid
 * (`GET /v1/wallet/purchases`). Nothing here calls the platform; the page does (pay-budget.ts).
 */
import {
  type Challenge,
  currency,
  formatAmount,
  isSecureOrLoopback,
  type MiteMethodName,
  parseAmount,
  parseChallengeHeader,
  requestAmountMicros,
  resourceIsOnOrigin,
  sameCurrency,
} from '@mite/protocol';

/**
 * The budget the window applies: the user's, as `GET /v1/wallet/budget` answers it (the
 * platform's defaults while the user saved none). The platform stores it and does not refuse
 * payments by it, so this window is what enforces it.
 */
export interface PayBudget {
  readonly maxPerPaymentMicros: bigint;
  readonly maxPerOriginPerDayMicros: bigint;
  readonly maxTotalMicros: bigint;
  /** Payments above this are confirmed once more by the person before Pay takes them. */
  readonly approveAboveMicros: bigint;
  /**
   * The total limit counts purchases made since the person last saved the budget (0 while they
   * saved none: every purchase), as `mite login`'s counts from the log-in: a limit that never
   * started again would end all paying once reached.
   */
  readonly totalSinceMs: number;
}

const budgetFields = {
  maxPerPaymentMicros: 'maxPerPayment',
  maxPerOriginPerDayMicros: 'maxPerOriginPerDay',
  maxTotalMicros: 'maxTotal',
  approveAboveMicros: 'approveAbove',
} as const;

/** The budget in the platform's answer; undefined when the answer is not one. */
export function payBudgetOf(answer: unknown): PayBudget | undefined {
  if (typeof answer !== 'object' || answer === null) return undefined;
  const fields = answer as Record<string, unknown>;
  const amounts: Partial<Record<keyof typeof budgetFields, bigint>> = {};
  for (const [name, field] of Object.entries(budgetFields)) {
    const micros = amountMicrosOf(fields[field]);
    if (micros === undefined) return undefined;
    amounts[name as keyof typeof budgetFields] = micros;
  }
  const { updatedAt } = fields;
  const totalSinceMs =
    updatedAt === null || updatedAt === undefined
      ? 0
      : typeof updatedAt === 'string'
        ? Date.parse(updatedAt)
        : Number.NaN;
  if (Number.isNaN(totalSinceMs)) return undefined;
  return { ...(amounts as Record<keyof typeof budgetFields, bigint>), totalSinceMs };
}

function amountMicrosOf(text: unknown): bigint | undefined {
  if (typeof text !== 'string') return undefined;
  const parsed = parseAmount(text);
  return parsed.ok ? parsed.value : undefined;
}

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
}

/** The challenge a site sent, checked against this platform and the asking origin. */
export function checkChallenge(
  header: string,
  context: {
    readonly askingOrigin: string;
    readonly platformOrigin: string;
    readonly nowSeconds: number;
    /** The "mite-token" challenge, for privacy mode; the "mite" one by default. */
    readonly method?: MiteMethodName;
  },
): Checked<PayRequest> {
  const parsed = parseChallengeHeader(header, {
    nowSeconds: context.nowSeconds,
    ...(context.method === undefined ? {} : { method: context.method }),
  });
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
  return {
    ok: true,
    value: {
      challenge,
      amountMicros: requestAmountMicros(challenge.request),
      resourceUrl: new URL(resource, context.askingOrigin).href,
    },
  };
}

/** The per-payment limits: refused above the limit per payment, asked about above approveAbove. */
export function checkPerPayment(
  amountMicros: bigint,
  budget: PayBudget,
): Checked<{ readonly askFirst: boolean }> {
  if (amountMicros > budget.maxPerPaymentMicros) {
    return refusal(
      `${showMicros(amountMicros)} is above your limit of ` +
        `${showMicros(budget.maxPerPaymentMicros)} for one payment.`,
    );
  }
  return { ok: true, value: { askFirst: amountMicros > budget.approveAboveMicros } };
}

/** One of the user's purchases, as `GET /v1/wallet/purchases` lists them. */
export interface ListedPurchase {
  readonly title: string | null;
  readonly resource: string | null;
  readonly amount: string;
  readonly refunded: string;
  readonly state: string;
  readonly at: string;
}

/**
 * What the user paid so far: to the asking site since the UTC day began, and in all since the
 * budget was saved (PayBudget.totalSinceMs).
 */
export interface Spent {
  readonly todayAtOriginMicros: bigint;
  readonly totalMicros: bigint;
}

export const nothingSpent: Spent = { todayAtOriginMicros: 0n, totalMicros: 0n };

/**
 * Which site a purchase paid: the origin of its resource when that is an absolute URL (a 402
 * challenge names its resource so), none for an offer bought on the platform, and `unknown` for
 * a challenge whose resource was a bare path. An unknown site counts towards every site's daily
 * limit: counting too much can refuse a payment, counting too little would let one through.
 */
function siteOf(purchase: ListedPurchase): string | undefined {
  if (purchase.resource !== null && URL.canParse(purchase.resource)) {
    return new URL(purchase.resource).origin;
  }
  return purchase.title === null ? 'unknown' : undefined;
}

/**
 * `spent` with a page of purchases added: what each kept (its amount less its refunds; a failed
 * payment kept nothing, a pending one may still keep all). Undefined when a purchase cannot be
 * read, which the caller treats as a refusal rather than as nothing spent.
 */
export function addPurchases(
  spent: Spent,
  purchases: readonly ListedPurchase[],
  context: {
    readonly askingOrigin: string;
    readonly dayStartMs: number;
    readonly totalSinceMs: number;
  },
): Spent | undefined {
  let { todayAtOriginMicros, totalMicros } = spent;
  for (const purchase of purchases) {
    const amount = amountMicrosOf(purchase.amount);
    const refunded = amountMicrosOf(purchase.refunded);
    const atMs = Date.parse(purchase.at);
    if (amount === undefined || refunded === undefined || Number.isNaN(atMs)) return undefined;
    if (purchase.state === 'failed') continue;
    const kept = amount > refunded ? amount - refunded : 0n;
    if (atMs >= context.totalSinceMs) totalMicros += kept;
    const site = siteOf(purchase);
    if (atMs >= context.dayStartMs && (site === context.askingOrigin || site === 'unknown')) {
      todayAtOriginMicros += kept;
    }
  }
  return { todayAtOriginMicros, totalMicros };
}

/** The limits over time: to the asking site in the UTC day, and in all, this payment included. */
export function checkSpent(
  amountMicros: bigint,
  spent: Spent,
  context: { readonly askingOrigin: string; readonly budget: PayBudget },
): Checked<null> {
  const { budget } = context;
  const today = spent.todayAtOriginMicros + amountMicros;
  if (today > budget.maxPerOriginPerDayMicros) {
    return refusal(
      `${showMicros(amountMicros)} would bring what you paid ${context.askingOrigin} today to ` +
        `${showMicros(today)}, above your limit of ` +
        `${showMicros(budget.maxPerOriginPerDayMicros)} for one site in a day.`,
    );
  }
  const total = spent.totalMicros + amountMicros;
  if (total > budget.maxTotalMicros) {
    return refusal(
      `${showMicros(amountMicros)} would bring what you paid in all to ${showMicros(total)}, ` +
        `above your total limit of ${showMicros(budget.maxTotalMicros)}.`,
    );
  }
  return { ok: true, value: null };
}

/** When the UTC day of `nowMs` began, in milliseconds. */
export function utcDayStartMs(nowMs: number): number {
  const now = new Date(nowMs);
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
}
