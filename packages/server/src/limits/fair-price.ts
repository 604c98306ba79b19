/**
 * Fair-price caps (issue 15 item 2): a merchant promises a user never pays it more than its cap in
 * a month. A purchase from such a merchant is charged min(price, cap - spent), never below zero,
 * where `spent` is the user's spending with it this month under the scope `fairPrice:<merchant>`
 * in `monthly_spending`.
 *
 * The scope is its own, not the `merchant:<id>` of a user's own limit on the merchant: that one
 * is counted only while the user has such a limit and refuses a payment that would pass it, where
 * this one is counted while the merchant has a cap and lowers the price instead; on one row the
 * two writes would meet in one payment.
 *
 * The counter is read and advanced in the purchase's transaction by compare-and-set (the update
 * names the value it read), so two purchases racing on any nodes cannot both charge from the same
 * room under the cap: the second one's update finds the value changed, reads it again and charges
 * what is left. On PostgreSQL (read committed) the update waits for the racing transaction and
 * then sees its value; on SQLite one transaction writes at a time.
 */
import { type Kysely, sql, type Transaction } from 'kysely';
import type { PlatformSchema } from '../db/schema.ts';

const fairPriceScopePrefix = 'fairPrice:';

/**
 * Compare-and-set attempts before giving up. Each failed attempt means another purchase by the
 * same user from the same merchant committed meanwhile, so a handful is already unlikely.
 */
export const fairPriceAttemptsMax = 50;

/** The largest cap a merchant may set, in micro-units (1,000,000.00): catches a typing mistake. */
export const fairPriceCapMicrosMax = 1_000_000_000_000n;

/** The monthly_spending scope counting a user's spending towards a merchant's cap. */
export function fairPriceScope(merchantId: string): string {
  return `${fairPriceScopePrefix}${merchantId}`;
}

/** The merchant a fair-price scope names, else undefined. */
export function merchantOfFairPriceScope(scope: string): string | undefined {
  return scope.startsWith(fairPriceScopePrefix)
    ? scope.slice(fairPriceScopePrefix.length)
    : undefined;
}

/** What an item of this price costs a user who spent `spentMicros` with the merchant this month. */
export function fairCharge(priceMicros: bigint, capMicros: bigint, spentMicros: bigint): bigint {
  const room = capMicros - spentMicros;
  if (room <= 0n) return 0n;
  return room < priceMicros ? room : priceMicros;
}

/** Where a purchase's spending towards a merchant's cap is counted. */
export interface FairPriceCount {
  readonly userId: string;
  readonly month: string;
  readonly merchantId: string;
  readonly capMicros: bigint;
}

/**
 * Charges a purchase under the merchant's cap: advances the user's spending with the merchant by
 * what it charges, and returns that (the price, less, or zero).
 */
export async function chargeUnderCap(
  tx: Transaction<PlatformSchema>,
  count: FairPriceCount,
  priceMicros: bigint,
): Promise<bigint> {
  const key = {
    user_id: count.userId,
    month: count.month,
    scope: fairPriceScope(count.merchantId),
  };
  await tx
    .insertInto('monthly_spending')
    .values({ ...key, spent_micros: 0n })
    .onConflict((conflict) => conflict.columns(['user_id', 'month', 'scope']).doNothing())
    .execute();
  for (let attempt = 0; attempt < fairPriceAttemptsMax; attempt++) {
    const row = await tx
      .selectFrom('monthly_spending')
      .select('spent_micros')
      .where('user_id', '=', key.user_id)
      .where('month', '=', key.month)
      .where('scope', '=', key.scope)
      .executeTakeFirstOrThrow();
    const spent = BigInt(row.spent_micros);
    const charged = fairCharge(priceMicros, count.capMicros, spent);
    // A charge of zero changes nothing, so there is nothing to compare and set.
    if (charged === 0n) return 0n;
    const result = await tx
      .updateTable('monthly_spending')
      .set({ spent_micros: sql<bigint>`spent_micros + ${charged}` })
      .where('user_id', '=', key.user_id)
      .where('month', '=', key.month)
      .where('scope', '=', key.scope)
      .where('spent_micros', '=', spent)
      .executeTakeFirst();
    if (result.numUpdatedRows === 1n) return charged;
  }
  throw new Error(
    `fair-price cap: the spending of ${count.userId} with ${count.merchantId} kept changing`,
  );
}

/** What the user spent towards a merchant's cap in the month, as the pay window shows it. */
export async function fairPriceSpent(
  db: Kysely<PlatformSchema>,
  userId: string,
  month: string,
  merchantId: string,
): Promise<bigint> {
  const row = await db
    .selectFrom('monthly_spending')
    .select('spent_micros')
    .where('user_id', '=', userId)
    .where('month', '=', month)
    .where('scope', '=', fairPriceScope(merchantId))
    .executeTakeFirst();
  return row === undefined ? 0n : BigInt(row.spent_micros);
}

/** Where a user stands with one merchant's fair-price cap this month. */
export interface FairPriceStanding {
  readonly merchantId: string;
  readonly merchantName: string;
  /** The merchant's cap; null when it has none. */
  readonly capMicros: bigint | null;
  /** What the user paid it this month towards the cap (nothing counts while there is none). */
  readonly spentMicros: bigint;
}

/**
 * Where a user stands with merchants' fair-price caps, for the pay window (one merchant) and the
 * wallet (every capped merchant the user paid this month).
 */
export function createFairPriceReader(deps: {
  readonly db: Kysely<PlatformSchema>;
  /** The month an instant falls in, in the operator's time zone. */
  readonly monthOf: (atMs: number) => string;
}) {
  const { db, monthOf } = deps;

  /** The user's standing with one merchant; undefined when there is no such merchant. */
  async function standingWith(
    userId: string,
    merchantId: string,
    atMs: number,
  ): Promise<FairPriceStanding | undefined> {
    const merchant = await db
      .selectFrom('merchants')
      .select(['name', 'fair_price_cap_micros'])
      .where('id', '=', merchantId)
      .executeTakeFirst();
    if (merchant === undefined) return undefined;
    const cap = merchant.fair_price_cap_micros;
    return {
      merchantId,
      merchantName: merchant.name,
      capMicros: cap === null ? null : BigInt(cap),
      spentMicros: await fairPriceSpent(db, userId, monthOf(atMs), merchantId),
    };
  }

  /** Every merchant with a cap the user paid towards this month, by name. */
  async function standingsOf(userId: string, atMs: number): Promise<FairPriceStanding[]> {
    const rows = await db
      .selectFrom('monthly_spending')
      .select(['scope', 'spent_micros'])
      .where('user_id', '=', userId)
      .where('month', '=', monthOf(atMs))
      .where('scope', 'like', `${fairPriceScopePrefix}%`)
      .execute();
    const spent = new Map<string, bigint>();
    for (const row of rows) {
      const merchantId = merchantOfFairPriceScope(row.scope);
      if (merchantId !== undefined) spent.set(merchantId, BigInt(row.spent_micros));
    }
    if (spent.size === 0) return [];
    const merchants = await db
      .selectFrom('merchants')
      .select(['id', 'name', 'fair_price_cap_micros'])
      .where('id', 'in', [...spent.keys()])
      .where('fair_price_cap_micros', 'is not', null)
      .orderBy('name')
      .execute();
    return merchants.map((merchant) => ({
      merchantId: merchant.id,
      merchantName: merchant.name,
      capMicros: BigInt(merchant.fair_price_cap_micros ?? 0),
      spentMicros: spent.get(merchant.id) ?? 0n,
    }));
  }

  return { standingWith, standingsOf };
}

export type FairPriceReader = ReturnType<typeof createFairPriceReader>;
