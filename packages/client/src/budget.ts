/**
 * The spending limits of one `miteFetch` instance, kept in bigint micro-units. A payment reserves
 * its amount before the platform is called, so that payments running at the same time cannot
 * overshoot a limit together; the reservation becomes spending when the platform takes the
 * payment and is released when it refuses.
 */
import { formatAmount, parseAmount } from '@mite/protocol';
import { type BudgetLimit, MitePaymentError } from './errors.ts';

/** What the approval callback is shown before a payment above `approveAbove`. */
export interface PaymentQuote {
  /** The price as the merchant wrote it ("0.02"). */
  readonly amount: string;
  readonly amountMicros: bigint;
  readonly currency: string;
  /**
   * The origin that asked for the payment (`https://news.example`); for the mppx method told no
   * URL, `merchant <id>`.
   */
  readonly origin: string;
  /** The URL that answered 402 (for the mppx method told no URL, the challenge's resource). */
  readonly url: string;
  /** What is sold, as the challenge names it. */
  readonly resource: string;
  readonly merchant: string;
  readonly platform: string;
  readonly realm: string;
  readonly challengeId: string;
  /** The merchant's own words: the request's description, else the header's. */
  readonly description?: string;
  readonly category?: string;
  /** 0: opens the resource once; otherwise how long the purchase keeps it open. */
  readonly accessPeriodSeconds: number;
  /**
   * Set when the amount is a session's deposit (or a top-up): what it pays for, by the unit.
   * Only what the session's last voucher names is paid; the rest comes back when it closes.
   */
  readonly session?: {
    readonly unitPrice: string;
    readonly unitType: string;
    readonly topUp: boolean;
  };
  /** What each budget limit still allows, before this payment: the limits that apply to it. */
  readonly headroom: BudgetHeadroom;
}

/**
 * What each limit still allows at one origin now, as decimal strings; payments under way count
 * as spent. A payment is made only if it fits all three.
 */
export interface BudgetHeadroom {
  /** `maxPerPayment`: the most this one payment may cost. */
  readonly perPayment: string;
  /** What is left of `maxPerOriginPerDay` at this origin today (UTC). */
  readonly originToday: string;
  /** What is left of `maxTotal`. */
  readonly total: string;
}

/** Limits, as decimal strings of the wallet's currency ("0.50"). */
export interface Budget {
  /** The most one payment may cost. */
  readonly maxPerPayment: string;
  /** The most paid to one origin in one UTC day. */
  readonly maxPerOriginPerDay: string;
  /** The most this instance pays over its lifetime. */
  readonly maxTotal: string;
  /**
   * Payments above this amount need `approve` to say yes. Without `approveAbove`, `approve` (when
   * given) is asked about every payment; without `approve`, payments above it are refused.
   */
  readonly approveAbove?: string;
  readonly approve?: (quote: PaymentQuote) => boolean | Promise<boolean>;
}

export interface BudgetLimits {
  readonly maxPerPaymentMicros: bigint;
  readonly maxPerOriginPerDayMicros: bigint;
  readonly maxTotalMicros: bigint;
  /** Undefined: every payment is asked about when `approve` is given. */
  readonly approveAboveMicros?: bigint;
}

function limitOf(name: string, text: string): bigint {
  const parsed = parseAmount(text);
  if (!parsed.ok) throw new RangeError(`budget.${name}: ${parsed.detail}`);
  return parsed.value;
}

/** Reads a budget's decimal strings; a malformed limit is a configuration error and throws. */
export function parseBudget(budget: Budget): BudgetLimits {
  if (typeof budget !== 'object' || budget === null) throw new TypeError('a budget is required');
  const limits = {
    maxPerPaymentMicros: limitOf('maxPerPayment', budget.maxPerPayment),
    maxPerOriginPerDayMicros: limitOf('maxPerOriginPerDay', budget.maxPerOriginPerDay),
    maxTotalMicros: limitOf('maxTotal', budget.maxTotal),
  };
  if (budget.approve !== undefined && typeof budget.approve !== 'function') {
    throw new TypeError('budget.approve must be a function');
  }
  return budget.approveAbove === undefined
    ? limits
    : { ...limits, approveAboveMicros: limitOf('approveAbove', budget.approveAbove) };
}

/** What an instance has paid so far. */
export interface Spending {
  /** Paid in total (micro-units). */
  readonly totalMicros: bigint;
  /** `totalMicros` as a decimal string. */
  readonly total: string;
  /** Paid per origin (micro-units), over the instance's lifetime. */
  readonly byOrigin: Readonly<Record<string, bigint>>;
  /** Held for payments under way, and for payments whose outcome the network hid. */
  readonly reservedMicros: bigint;
}

const dayMilliseconds = 86_400_000;

/** The UTC day of an instant, as a day number since the epoch. */
export function utcDay(milliseconds: number): number {
  return Math.floor(milliseconds / dayMilliseconds);
}

/** A hold on the budget for one payment; settled exactly once. */
export interface Reservation {
  readonly micros: bigint;
  readonly origin: string;
  /**
   * The platform took the payment: the hold becomes spending. `spentMicros` (at most the hold)
   * commits part of it and releases the rest: a session's deposit, of which only what its last
   * voucher names is paid.
   */
  commit(spentMicros?: bigint): void;
  /** The payment did not happen: the hold goes away. */
  release(): void;
}

interface Usage {
  spent: bigint;
  reserved: bigint;
}

/** Exact budget accounting for one instance. Not shared between instances. */
export class BudgetLedger {
  readonly limits: BudgetLimits;
  #spentTotal = 0n;
  #reservedTotal = 0n;
  readonly #spentByOrigin = new Map<string, bigint>();
  /** Key: `${utcDay}|${origin}`; only the current day's entries are kept. */
  readonly #byOriginDay = new Map<string, Usage>();
  #currentDay = Number.NaN;

  constructor(limits: BudgetLimits) {
    this.limits = limits;
  }

  #usage(day: number, origin: string): Usage {
    if (day !== this.#currentDay) {
      // A new day: yesterday's spending no longer counts; entries still holding reservations do
      // until those settle, so only settled ones are dropped.
      for (const [key, usage] of this.#byOriginDay) {
        if (usage.reserved === 0n && !key.startsWith(`${day}|`)) this.#byOriginDay.delete(key);
      }
      this.#currentDay = day;
    }
    const key = `${day}|${origin}`;
    let usage = this.#byOriginDay.get(key);
    if (usage === undefined) {
      usage = { spent: 0n, reserved: 0n };
      this.#byOriginDay.set(key, usage);
    }
    return usage;
  }

  /** Whether `approve` must be asked about this amount. */
  needsApproval(micros: bigint, hasCallback: boolean): boolean {
    const threshold = this.limits.approveAboveMicros;
    if (threshold === undefined) return hasCallback;
    return micros > threshold;
  }

  /**
   * Holds `micros` against every limit at once, or throws `overBudget` naming the first limit it
   * would exceed (per payment, then per origin and day, then total). Synchronous, so two
   * payments cannot both pass the checks before either holds its amount.
   */
  reserve(origin: string, micros: bigint, nowMilliseconds: number): Reservation {
    const { maxPerPaymentMicros, maxPerOriginPerDayMicros, maxTotalMicros } = this.limits;
    const amount = formatAmount(micros);
    const refuse = (limit: BudgetLimit, message: string): never => {
      throw new MitePaymentError('overBudget', message, { limit });
    };
    if (micros > maxPerPaymentMicros) {
      refuse(
        'perPayment',
        `${amount} is above the limit of ${formatAmount(maxPerPaymentMicros)} per payment`,
      );
    }
    const usage = this.#usage(utcDay(nowMilliseconds), origin);
    if (usage.spent + usage.reserved + micros > maxPerOriginPerDayMicros) {
      refuse(
        'perOriginPerDay',
        `${amount} more to ${origin} today would pass its daily limit of ` +
          `${formatAmount(maxPerOriginPerDayMicros)} (${formatAmount(usage.spent)} paid, ` +
          `${formatAmount(usage.reserved)} under way)`,
      );
    }
    if (this.#spentTotal + this.#reservedTotal + micros > maxTotalMicros) {
      refuse(
        'total',
        `${amount} more would pass the total limit of ${formatAmount(maxTotalMicros)} ` +
          `(${formatAmount(this.#spentTotal)} paid, ${formatAmount(this.#reservedTotal)} under way)`,
      );
    }
    usage.reserved += micros;
    this.#reservedTotal += micros;
    let settled = false;
    const settle = (spent: bigint): void => {
      if (settled) return;
      settled = true;
      usage.reserved -= micros;
      this.#reservedTotal -= micros;
      if (spent === 0n) return;
      usage.spent += spent;
      this.#spentTotal += spent;
      this.#spentByOrigin.set(origin, (this.#spentByOrigin.get(origin) ?? 0n) + spent);
    };
    return {
      micros,
      origin,
      commit: (spentMicros = micros) => {
        if (spentMicros < 0n || spentMicros > micros) {
          throw new RangeError(`a reservation of ${micros} commits 0 to ${micros}`);
        }
        settle(spentMicros);
      },
      release: () => settle(0n),
    };
  }

  /** What the limits still allow at `origin` now (see BudgetHeadroom). */
  headroom(origin: string, nowMilliseconds: number): BudgetHeadroom {
    const { maxPerPaymentMicros, maxPerOriginPerDayMicros, maxTotalMicros } = this.limits;
    const usage = this.#byOriginDay.get(`${utcDay(nowMilliseconds)}|${origin}`);
    const left = (limit: bigint, used: bigint) => formatAmount(limit > used ? limit - used : 0n);
    return {
      perPayment: formatAmount(maxPerPaymentMicros),
      originToday: left(maxPerOriginPerDayMicros, (usage?.spent ?? 0n) + (usage?.reserved ?? 0n)),
      total: left(maxTotalMicros, this.#spentTotal + this.#reservedTotal),
    };
  }

  spent(): Spending {
    return {
      totalMicros: this.#spentTotal,
      total: formatAmount(this.#spentTotal),
      byOrigin: Object.fromEntries(this.#spentByOrigin),
      reservedMicros: this.#reservedTotal,
    };
  }
}
