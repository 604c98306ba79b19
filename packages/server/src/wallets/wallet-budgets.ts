/**
 * The budget each user keeps on the platform for the clients that pay on their behalf (the
 * wallet's paywall): the most one payment may cost, the most paid to one site in a UTC day, the
 * most paid in total, and the amount above which the client asks before paying. The platform
 * stores the budget and checks that it makes sense; enforcing it is the client's job, as with
 * `createMiteFetch`'s own budget (the names are the client's `Budget`'s).
 */
import type { PlatformDb } from '../db/platform-db.ts';
import { formatAmount } from '../money/amount-schema.ts';
import { fail, ok, type Result } from '../result.ts';

export interface WalletBudget {
  readonly maxPerPaymentMicros: bigint;
  readonly maxPerOriginPerDayMicros: bigint;
  readonly maxTotalMicros: bigint;
  /** Payments above this are asked about; at most `maxPerPaymentMicros`. */
  readonly approveAboveMicros: bigint;
}

export interface StoredWalletBudget extends WalletBudget {
  /** When the user last saved it; undefined while the defaults apply. */
  readonly updatedAtMs: number | undefined;
}

/**
 * The budget of a user who never saved one: `mite login`'s defaults (1.00 per payment, 5.00 per
 * site per day, 20.00 in total), asking above 0.50.
 */
export const walletBudgetDefaults: WalletBudget = {
  maxPerPaymentMicros: 1_000_000n,
  maxPerOriginPerDayMicros: 5_000_000n,
  maxTotalMicros: 20_000_000n,
  approveAboveMicros: 500_000n,
};

/**
 * The largest limits a user may save. A budget exists to keep small payments small: a limit far
 * above what a wallet can be topped up with (500.00 at a time) is a typing mistake, not a choice.
 */
export const walletBudgetMaximums: Omit<WalletBudget, 'approveAboveMicros'> = {
  maxPerPaymentMicros: 100_000_000n,
  maxPerOriginPerDayMicros: 1_000_000_000n,
  maxTotalMicros: 100_000_000_000n,
};

/** The limits' names as people read them, for the refusals' details. */
const limitNames = {
  maxPerPaymentMicros: 'The limit per payment',
  maxPerOriginPerDayMicros: 'The limit per site per day',
  maxTotalMicros: 'The total limit',
} as const;

/** What is wrong with a budget, in a sentence; undefined when it may be saved. */
export function walletBudgetProblem(budget: WalletBudget): string | undefined {
  for (const name of Object.keys(limitNames) as (keyof typeof limitNames)[]) {
    const value = budget[name];
    if (value < 0n) return `${limitNames[name]} cannot be negative.`;
    if (value > walletBudgetMaximums[name]) {
      return `${limitNames[name]} can be at most ${formatAmount(walletBudgetMaximums[name])}.`;
    }
  }
  if (budget.approveAboveMicros < 0n) return 'The amount to ask above cannot be negative.';
  if (budget.approveAboveMicros > budget.maxPerPaymentMicros) {
    return (
      'The amount to ask above cannot be more than the limit per payment ' +
      `(${formatAmount(budget.maxPerPaymentMicros)}): no payment above that is made at all.`
    );
  }
  return undefined;
}

export interface WalletBudgetsDeps {
  readonly platform: PlatformDb;
  readonly clock: () => number;
}

export function createWalletBudgets(deps: WalletBudgetsDeps) {
  const { db } = deps.platform;

  /** The user's saved budget, else the defaults. */
  async function get(userId: string): Promise<StoredWalletBudget> {
    const row = await db
      .selectFrom('wallet_budgets')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (row === undefined) return { ...walletBudgetDefaults, updatedAtMs: undefined };
    return {
      maxPerPaymentMicros: BigInt(row.max_per_payment_micros),
      maxPerOriginPerDayMicros: BigInt(row.max_per_origin_per_day_micros),
      maxTotalMicros: BigInt(row.max_total_micros),
      approveAboveMicros: BigInt(row.approve_above_micros),
      updatedAtMs: Number(row.updated_at),
    };
  }

  /** Replaces the user's budget with `budget`, if it makes sense. */
  async function put(
    userId: string,
    budget: WalletBudget,
  ): Promise<Result<StoredWalletBudget, 'validationFailed'>> {
    const problem = walletBudgetProblem(budget);
    if (problem !== undefined) return fail('validationFailed', problem);
    const nowMs = deps.clock();
    const columns = {
      max_per_payment_micros: budget.maxPerPaymentMicros.toString(),
      max_per_origin_per_day_micros: budget.maxPerOriginPerDayMicros.toString(),
      max_total_micros: budget.maxTotalMicros.toString(),
      approve_above_micros: budget.approveAboveMicros.toString(),
      updated_at: BigInt(nowMs),
    };
    await db
      .insertInto('wallet_budgets')
      .values({ user_id: userId, ...columns })
      .onConflict((conflict) => conflict.column('user_id').doUpdateSet(columns))
      .execute();
    return ok({ ...budget, updatedAtMs: nowMs });
  }

  return { get, put };
}

export type WalletBudgets = ReturnType<typeof createWalletBudgets>;
