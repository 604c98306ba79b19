/**
 * A user's purchases as the wallet app shows them: from whom (the merchant's name), what (the
 * offer's title, or the resource a 402 challenge sold), for how much, and what came back in
 * refunds. Newest first, a page at a time by a keyset on (created_at, id).
 */
import type { PlatformDb } from '../db/platform-db.ts';
import type { PaymentState } from '../db/schema.ts';

export interface WalletPurchase {
  readonly paymentId: string;
  readonly merchantId: string;
  readonly merchantName: string;
  /** The offer's title; null for a payment of a 402 challenge, which has a resource only. */
  readonly title: string | null;
  readonly resource: string | null;
  readonly amountMicros: bigint;
  /** The sum of the payment's succeeded refunds. */
  readonly refundedMicros: bigint;
  readonly state: PaymentState;
  readonly createdAtMs: number;
  /** Whether the offer and resource were erased after their retention (retention/). */
  readonly detailsErased: boolean;
}

export interface WalletPurchasesQuery {
  readonly userId: string;
  readonly limit: number;
  /** Where the previous page ended (exclusive). */
  readonly before?: { readonly createdAtMs: bigint; readonly paymentId: string };
}

interface PurchaseRow {
  readonly id: string;
  readonly merchantId: string;
  readonly merchantName: string;
  readonly title: string | null;
  readonly resource: string | null;
  readonly amountMicros: string;
  readonly state: PaymentState;
  readonly createdAt: bigint;
  readonly detailsErasedAt: bigint | null;
}

export function createWalletPurchases(platformDb: PlatformDb) {
  const { db } = platformDb;

  async function refundedByPayment(paymentIds: readonly string[]): Promise<Map<string, bigint>> {
    const refunded = new Map<string, bigint>();
    if (paymentIds.length === 0) return refunded;
    const rows = await db
      .selectFrom('refunds')
      .select(['payment_id', 'amount_micros'])
      .where('payment_id', 'in', paymentIds)
      .where('state', '=', 'succeeded')
      .execute();
    for (const row of rows) {
      refunded.set(
        row.payment_id,
        (refunded.get(row.payment_id) ?? 0n) + BigInt(row.amount_micros),
      );
    }
    return refunded;
  }

  function selectPurchases(userId: string) {
    return db
      .selectFrom('payments')
      .innerJoin('merchants', 'merchants.id', 'payments.merchant_id')
      .leftJoin('offers', 'offers.id', 'payments.offer_id')
      .select([
        'payments.id as id',
        'payments.merchant_id as merchantId',
        'merchants.name as merchantName',
        'offers.title as title',
        'payments.resource as resource',
        'payments.amount_micros as amountMicros',
        'payments.state as state',
        'payments.created_at as createdAt',
        'payments.details_erased_at as detailsErasedAt',
      ])
      .where('payments.user_id', '=', userId);
  }

  async function withRefunds(rows: PurchaseRow[]): Promise<WalletPurchase[]> {
    const refunded = await refundedByPayment(rows.map((row) => row.id));
    return rows.map((row) => ({
      paymentId: row.id,
      merchantId: row.merchantId,
      merchantName: row.merchantName,
      title: row.title,
      resource: row.resource,
      amountMicros: BigInt(row.amountMicros),
      refundedMicros: refunded.get(row.id) ?? 0n,
      state: row.state,
      createdAtMs: Number(row.createdAt),
      detailsErased: row.detailsErasedAt !== null,
    }));
  }

  /** The user's purchases, newest first: at most `limit`. */
  async function list(query: WalletPurchasesQuery): Promise<WalletPurchase[]> {
    const { before } = query;
    let select = selectPurchases(query.userId);
    if (before !== undefined) {
      select = select.where((eb) =>
        eb.or([
          eb('payments.created_at', '<', before.createdAtMs),
          eb.and([
            eb('payments.created_at', '=', before.createdAtMs),
            eb('payments.id', '<', before.paymentId),
          ]),
        ]),
      );
    }
    const rows = await select
      .orderBy('payments.created_at', 'desc')
      .orderBy('payments.id', 'desc')
      .limit(query.limit)
      .execute();
    return withRefunds(rows);
  }

  /** One of the user's purchases; undefined when it is not theirs (or does not exist). */
  async function get(userId: string, paymentId: string): Promise<WalletPurchase | undefined> {
    const rows = await selectPurchases(userId).where('payments.id', '=', paymentId).execute();
    const [purchase] = await withRefunds(rows);
    return purchase;
  }

  return { list, get };
}

export type WalletPurchases = ReturnType<typeof createWalletPurchases>;
