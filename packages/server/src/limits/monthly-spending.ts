/**
 * Users' spending per month and scope (table `monthly_spending`, migration 0029), which is what
 * makes a monthly cap hold: a payment adds its amount to each scope it counts under with one
 * conditional write per scope (`spent + amount <= cap`), in the transaction that records the
 * payment. Two purchases racing past a cap, on one node or several, cannot both pass it: the
 * database row decides. A payment that fails afterwards gives its amount back, in the transaction
 * that records the failure. The month is the operator's (operator-time-zone.ts).
 */
import { type Kysely, sql, type Transaction } from 'kysely';
import type { PlatformSchema } from '../db/schema.ts';

/** One scope a payment counts under, and the cap in force on it (null: counted, not capped). */
export interface SpendingCharge {
  readonly scope: string;
  readonly capMicros: bigint | null;
}

/** Where a payment's amount is counted: a month, and the scopes with their caps. */
export interface SpendingPlan {
  readonly month: string;
  readonly charges: readonly SpendingCharge[];
}

/** What a payment keeps of its plan (JSON on its row), to give its amount back if it fails. */
interface CountedSpending {
  readonly month: string;
  readonly scopes: readonly string[];
}

/**
 * The JSON a payment keeps of the spending it added to: its plan's scopes and any it added to
 * otherwise (a merchant's fair-price cap, limits/fair-price.ts).
 */
export function countedSpendingJson(
  plan: SpendingPlan,
  otherScopes: readonly string[] = [],
): string {
  const counted: CountedSpending = {
    month: plan.month,
    scopes: [...plan.charges.map((charge) => charge.scope), ...otherScopes],
  };
  return JSON.stringify(counted);
}

/**
 * Adds `amountMicros` to every scope of the plan, each only if it stays within its cap; all or
 * none. Returns the scope whose cap refused it, undefined once all were added.
 */
export async function addSpending(
  tx: Transaction<PlatformSchema>,
  userId: string,
  plan: SpendingPlan,
  amountMicros: bigint,
): Promise<SpendingCharge | undefined> {
  const added: string[] = [];
  for (const charge of plan.charges) {
    await tx
      .insertInto('monthly_spending')
      .values({ user_id: userId, month: plan.month, scope: charge.scope, spent_micros: 0n })
      .onConflict((conflict) => conflict.columns(['user_id', 'month', 'scope']).doNothing())
      .execute();
    let update = tx
      .updateTable('monthly_spending')
      .set({ spent_micros: sql<bigint>`spent_micros + ${amountMicros}` })
      .where('user_id', '=', userId)
      .where('month', '=', plan.month)
      .where('scope', '=', charge.scope);
    if (charge.capMicros !== null) {
      update = update.where(sql<bigint>`spent_micros + ${amountMicros}`, '<=', charge.capMicros);
    }
    const result = await update.executeTakeFirst();
    if (result.numUpdatedRows === 0n) {
      await subtractSpending(tx, userId, plan.month, added, amountMicros);
      return charge;
    }
    added.push(charge.scope);
  }
  return undefined;
}

/** Gives back what a payment added (its row's `spending` JSON), when it failed or was undone. */
export async function giveBackSpending(
  tx: Transaction<PlatformSchema>,
  userId: string,
  countedJson: string | null,
  amountMicros: bigint,
): Promise<void> {
  if (countedJson === null) return;
  const counted = JSON.parse(countedJson) as CountedSpending;
  await subtractSpending(tx, userId, counted.month, counted.scopes, amountMicros);
}

/** Takes `amountMicros` back from the user's spending in these scopes of the month. */
export async function subtractSpending(
  tx: Transaction<PlatformSchema>,
  userId: string,
  month: string,
  scopes: readonly string[],
  amountMicros: bigint,
): Promise<void> {
  if (scopes.length === 0) return;
  await tx
    .updateTable('monthly_spending')
    .set({ spent_micros: sql<bigint>`spent_micros - ${amountMicros}` })
    .where('user_id', '=', userId)
    .where('month', '=', month)
    .where('scope', 'in', scopes)
    .execute();
}

/** What the user spent in the month, by scope (scopes never spent in are absent). */
export async function spendingOf(
  db: Kysely<PlatformSchema>,
  userId: string,
  month: string,
): Promise<Map<string, bigint>> {
  const rows = await db
    .selectFrom('monthly_spending')
    .select(['scope', 'spent_micros'])
    .where('user_id', '=', userId)
    .where('month', '=', month)
    .execute();
  return new Map(rows.map((row) => [row.scope, BigInt(row.spent_micros)]));
}
