/**
 * What a purchase costs and where the money goes: the merchants' terms (their ledger account, the
 * platform's fee on them, their access term for HTTP 402 challenges), kept in memory for a while,
 * and the legs of a purchase (revenue splits, platform fee).
 */
import type { TimeOrderedIds } from '@mite/ledger';
import type { SpendingCategory } from '../limits/limit-profile.ts';
import { LRUCache } from 'lru-cache';
import type { PlatformDb } from '../db/platform-db.ts';
import { firstRow, preparedQuery } from '../db/prepared-query.ts';
import type { MerchantRow } from '../db/schema.ts';
import { platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import type { Offer } from '../merchants/merchant-service.ts';
import { splitPayment } from './revenue-split.ts';

/** Merchants whose ledger account, fee and access term are kept in memory. */
export const merchantTermsCachedMax = 10_000;
/**
 * How long a merchant's terms are kept: its access term for challenges can change (PATCH
 * /v1/merchants/{id}), and every node sees the change within this time.
 */
export const merchantTermsCacheTtlMs = 60_000;

/** What a payment needs of a merchant: where its share goes and the platform's cut. */
export interface MerchantTerms {
  readonly id: string;
  readonly accountId: string;
  readonly feeBasisPoints: number;
  /** The longest access a receipt for one of its HTTP 402 challenges grants. */
  readonly challengeAccessPeriodSecondsMax: number;
  /** What it sells, for the monthly caps per category (limits/spending-limits.ts). */
  readonly spendingCategory: SpendingCategory;
  /** Whether its goods resell easily, under the lower monthly cap. */
  readonly resellable: boolean;
  /** The most a user pays it in a month (limits/fair-price.ts); null: no cap. */
  readonly fairPriceCapMicros: bigint | null;
}

/** One ledger transfer of a payment, as stored with it so an interrupted payment can finish. */
export interface Leg {
  readonly transferId: string;
  readonly creditAccountId: string;
  readonly amountMicros: string;
  readonly code: number;
}

/** What pricing needs of a purchase: who sells, for how much, shared with whom. */
export interface PricedPurchase {
  readonly merchantId: string;
  readonly priceMicros: bigint;
  readonly splits: Offer['splits'];
}

export function createPurchasePricing(deps: {
  readonly platform: PlatformDb;
  readonly transferIds: TimeOrderedIds;
}) {
  const db = deps.platform.db;
  const { transferIds } = deps;
  const merchantTerms = new LRUCache<string, MerchantTerms>({
    max: merchantTermsCachedMax,
    ttl: merchantTermsCacheTtlMs,
  });

  async function termsOf(merchantId: string): Promise<MerchantTerms | undefined> {
    const cached = merchantTerms.get(merchantId);
    if (cached !== undefined) return cached;
    const row = await firstRow(selectMerchantTerms, db, { merchantId });
    if (row === undefined) return undefined;
    const terms = {
      id: row.id,
      accountId: row.account_id,
      feeBasisPoints: row.fee_basis_points,
      challengeAccessPeriodSecondsMax: row.challenge_access_period_seconds_max,
      spendingCategory:
        row.spending_category === 'goods' ? ('goods' as const) : ('content' as const),
      resellable: row.resellable === 1,
      fairPriceCapMicros:
        row.fair_price_cap_micros === null ? null : BigInt(row.fair_price_cap_micros),
    };
    merchantTerms.set(merchantId, terms);
    return terms;
  }

  /**
   * The ledger legs of a purchase: each party's share after the platform's fee, and the fee.
   * Postcondition: they add up to the price exactly (no micro-unit made or lost).
   */
  async function legsFor(offer: PricedPurchase): Promise<Leg[]> {
    return (await pricerFor(offer))(offer.priceMicros);
  }

  /**
   * The legs of a purchase for any amount charged for it (less than its price under a fair-price
   * cap), computed without waiting: the merchants' terms are looked up first, so that the
   * amount can be priced inside the transaction that decides it. A charge of zero has no legs.
   */
  async function pricerFor(offer: PricedPurchase): Promise<(amountMicros: bigint) => Leg[]> {
    const seller = await termsOf(offer.merchantId);
    if (seller === undefined) throw new Error(`bug: merchant ${offer.merchantId} not found`);
    const shares: { key: string; shareBasisPoints: number }[] = [];
    for (const share of offer.splits) {
      const creator = await termsOf(share.merchantId);
      if (creator === undefined) throw new Error(`bug: merchant ${share.merchantId} not found`);
      shares.push({ key: creator.accountId, shareBasisPoints: share.shareBasisPoints });
    }
    return (amountMicros) => legsOf(amountMicros, seller.feeBasisPoints, shares);
  }

  function legsOf(
    amountMicros: bigint,
    feeBasisPoints: number,
    shares: readonly { key: string; shareBasisPoints: number }[],
  ): Leg[] {
    const split = splitPayment(amountMicros, feeBasisPoints, shares);
    const legs: Leg[] = split.legs.map((leg) => ({
      transferId: transferIds.next().toString(),
      creditAccountId: leg.key,
      amountMicros: leg.amountMicros.toString(),
      code: transferCodes.payment,
    }));
    legs.push({
      transferId: transferIds.next().toString(),
      creditAccountId: platformAccountIds.platformFees.toString(),
      amountMicros: split.platformFeeMicros.toString(),
      code: transferCodes.platformFee,
    });
    const total = legs.reduce((sum, leg) => sum + BigInt(leg.amountMicros), 0n);
    if (total !== amountMicros) {
      throw new Error(`bug: legs add up to ${total}, the amount is ${amountMicros}`);
    }
    return legs.filter((leg) => leg.amountMicros !== '0');
  }

  return { termsOf, legsFor, pricerFor };
}

export type PurchasePricing = ReturnType<typeof createPurchasePricing>;

const selectMerchantTerms = preparedQuery<
  { merchantId: string },
  Pick<
    MerchantRow,
    | 'id'
    | 'account_id'
    | 'fee_basis_points'
    | 'challenge_access_period_seconds_max'
    | 'spending_category'
    | 'resellable'
    | 'fair_price_cap_micros'
  >
>((db, arg) =>
  db
    .selectFrom('merchants')
    .select([
      'id',
      'account_id',
      'fee_basis_points',
      'challenge_access_period_seconds_max',
      'spending_category',
      'resellable',
      'fair_price_cap_micros',
    ])
    .where('id', '=', arg('merchantId')),
);
