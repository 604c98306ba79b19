/**
 * Which user a merchant means by a payer pseudonym. A pseudonym is an HMAC of the user and the
 * merchant (purchase-receipts.ts), which cannot be read back; a merchant that reports something
 * about one of its customers (a code redemption, risk/redemption-reports.ts) names them by it.
 * So each (merchant, pseudonym) a receipt handed out is kept in `payer_pseudonyms` with its user,
 * written in the transaction that records a payment's success, and found by its key. No personal
 * data is kept in the clear: the pseudonym is a keyed hash and the user an internal id.
 *
 * Each node remembers the pairs it wrote (bounded), so that a user paying the same merchant again
 * writes nothing more; a pair forgotten is written again, which its key makes harmless. Payments
 * that succeeded before this table existed are written once, at start (`recordPastPayers`).
 */
import type { Kysely, Transaction } from 'kysely';
import { LRUCache } from 'lru-cache';
import { runDataUpgradeOnce } from '../db/data-upgrades.ts';
import { affectedRows, preparedQuery } from '../db/prepared-query.ts';
import type { PlatformSchema } from '../db/schema.ts';

/** (user, merchant) pairs a node remembers having written. */
export const payerPairsRememberedMax = 50_000;

/** Pairs the start-up upgrade reads per query. */
export const pastPayersPageRows = 1_000;

/** The name `data_upgrades` records `recordPastPayers` under, once it has run. */
export const pastPayersUpgrade = 'payer-pseudonyms-v1';

export interface PayerPseudonymsDeps {
  readonly db: Kysely<PlatformSchema>;
  /** The pseudonym a merchant knows a user by (purchase-receipts.ts). */
  readonly pseudonym: (userId: string, merchantId: string) => string;
}

const insertPayer = preparedQuery<
  { merchantId: string; pseudonym: string; userId: string; createdAtMs: bigint },
  never
>((db, arg) =>
  db
    .insertInto('payer_pseudonyms')
    .values({
      merchant_id: arg('merchantId'),
      pseudonym: arg('pseudonym'),
      user_id: arg('userId'),
      created_at: arg('createdAtMs'),
    })
    .onConflict((conflict) => conflict.doNothing()),
);

export function createPayerPseudonyms(deps: PayerPseudonymsDeps) {
  const { db } = deps;
  const remembered = new LRUCache<string, true>({ max: payerPairsRememberedMax });
  const pairOf = (userId: string, merchantId: string) => `${userId}\u0000${merchantId}`;

  /**
   * Writes the pair in `tx` (a payment's success) unless this node wrote it before. Call
   * `remember` once `tx` committed: a pair remembered from a transaction that rolled back would
   * never be written.
   */
  async function recordIn(
    tx: Transaction<PlatformSchema>,
    userId: string,
    merchantId: string,
    nowMs: number,
  ): Promise<void> {
    if (remembered.has(pairOf(userId, merchantId))) return;
    await affectedRows(insertPayer, tx, {
      merchantId,
      pseudonym: deps.pseudonym(userId, merchantId),
      userId,
      createdAtMs: BigInt(nowMs),
    });
  }

  function remember(userId: string, merchantId: string): void {
    remembered.set(pairOf(userId, merchantId), true);
  }

  /**
   * Writes the pair of every payment that succeeded before this table existed, once per
   * database (db/data-upgrades.ts), a page of distinct pairs at a time. Returns how many it wrote.
   */
  async function recordPastPayers(nowMs: number, pageRows = pastPayersPageRows): Promise<number> {
    return runDataUpgradeOnce(db, pastPayersUpgrade, nowMs, async (tx) => {
      let written = 0;
      let after: { merchantId: string; userId: string } | undefined;
      for (;;) {
        const pairs = await pastPairsAfter(tx, after, pageRows);
        for (const pair of pairs) {
          written += Number(
            await affectedRows(insertPayer, tx, {
              merchantId: pair.merchant_id,
              pseudonym: deps.pseudonym(pair.user_id, pair.merchant_id),
              userId: pair.user_id,
              createdAtMs: BigInt(nowMs),
            }),
          );
        }
        const last = pairs.at(-1);
        if (last === undefined || pairs.length < pageRows) return written;
        after = { merchantId: last.merchant_id, userId: last.user_id };
      }
    });
  }

  return { recordIn, remember, recordPastPayers };
}

/** Finds the user a merchant knows by a pseudonym, if one of its payers is, by its key. */
export function payerByPseudonym(db: Kysely<PlatformSchema>) {
  return async (merchantId: string, pseudonym: string): Promise<string | undefined> => {
    const row = await db
      .selectFrom('payer_pseudonyms')
      .select('user_id')
      .where('merchant_id', '=', merchantId)
      .where('pseudonym', '=', pseudonym)
      .executeTakeFirst();
    return row?.user_id;
  };
}

/** The next page of distinct (merchant, user) pairs of succeeded payments, in key order. */
function pastPairsAfter(
  tx: Transaction<PlatformSchema>,
  after: { readonly merchantId: string; readonly userId: string } | undefined,
  pageRows: number,
) {
  return tx
    .selectFrom('payments')
    .select(['merchant_id', 'user_id'])
    .where('state', '=', 'succeeded')
    .$if(after !== undefined, (query) =>
      query.where((eb) =>
        eb.or([
          eb('merchant_id', '>', after?.merchantId ?? ''),
          eb.and([
            eb('merchant_id', '=', after?.merchantId ?? ''),
            eb('user_id', '>', after?.userId ?? ''),
          ]),
        ]),
      ),
    )
    .groupBy(['merchant_id', 'user_id'])
    .orderBy('merchant_id')
    .orderBy('user_id')
    .limit(pageRows)
    .execute();
}

export type PayerPseudonyms = ReturnType<typeof createPayerPseudonyms>;
