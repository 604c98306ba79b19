/**
 * Which accounts are frozen, read from `account_freezes` (migration 0033) on every request that
 * asks, never remembered: a freeze or a lift committed on any node holds on every node for the
 * next request. The lookup is one statement probing two small partial indexes (the freezes in
 * force, at most one per account), prepared once.
 */
import type { Kysely } from 'kysely';
import type { PlatformDb } from '../db/platform-db.ts';
import { preparedQuery } from '../db/prepared-query.ts';
import type { PlatformSchema } from '../db/schema.ts';

/** Stands for "no merchant" in the lookup: no merchant's id is empty. */
const noMerchant = '';

interface FrozenArgs {
  readonly userId: string;
  readonly merchantId: string;
}

const selectFrozen = preparedQuery<FrozenArgs, { user_id: string | null }>((db, arg) =>
  db
    .selectFrom('account_freezes')
    .select('user_id')
    .where('lifted_at', 'is', null)
    .where('user_id', '=', arg('userId'))
    .unionAll(
      db
        .selectFrom('account_freezes')
        .select('user_id')
        .where('lifted_at', 'is', null)
        .where('merchant_id', '=', arg('merchantId')),
    ),
);

/** Which of the accounts asked about is frozen. */
export interface FrozenAccounts {
  readonly user: boolean;
  readonly merchant: boolean;
}

export interface AccountFreezes {
  /** Whether the user, and the merchant when one is named, are frozen now. */
  frozen(userId: string, merchantId?: string): Promise<FrozenAccounts>;
  /** Whether the merchant is frozen now. */
  merchantFrozen(merchantId: string): Promise<boolean>;
}

export function createAccountFreezes(deps: { readonly platform: PlatformDb }): AccountFreezes {
  const db = deps.platform.db;
  async function frozen(userId: string, merchantId?: string): Promise<FrozenAccounts> {
    const { rows } = await selectFrozen(db, { userId, merchantId: merchantId ?? noMerchant });
    // A user's freeze row names the user; a merchant's has no user.
    return {
      user: rows.some((row) => row.user_id !== null),
      merchant: rows.some((row) => row.user_id === null),
    };
  }
  return {
    frozen,
    merchantFrozen: async (merchantId) => (await frozen('', merchantId)).merchant,
  };
}

/**
 * The merchants among `merchantIds` frozen now, with when they were frozen, read in the caller's
 * transaction (a payout batch's, so that the freezes it skips are those in force when it reads
 * the balances).
 */
export async function frozenMerchantsAmong(
  db: Kysely<PlatformSchema>,
  merchantIds: readonly string[],
): Promise<Map<string, bigint>> {
  if (merchantIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('account_freezes')
    .select(['merchant_id', 'frozen_at'])
    .where('lifted_at', 'is', null)
    .where('merchant_id', 'in', [...merchantIds])
    .execute();
  return new Map(
    rows.flatMap((row) => (row.merchant_id === null ? [] : [[row.merchant_id, row.frozen_at]])),
  );
}
