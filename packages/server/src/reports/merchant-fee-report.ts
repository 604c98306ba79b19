/**
 * A merchant's fee report: what the platform fee took of its sales in a period, and what the
 * purchases it sold would have cost in card fees had each been paid by card on its own.
 *
 * What a merchant may see: its own sales only. The card fees its buyers paid through top-ups are
 * not shown: a top-up funds purchases from many merchants, so no part of its fee is this
 * merchant's, and the platform's totals are other merchants' and users' business (the operator's
 * fee report at `/v1/fee-report` has them).
 */
import { sql } from 'kysely';
import type { PlatformDb } from '../db/platform-db.ts';
import { processorFeeMicros } from '../funding/sandbox-provider.ts';
import type { CardFeeSchedule } from '../funding/topup-service.ts';
import { fail, ok, type Result } from '../result.ts';

/** Payments read per query while the card fees are added up. */
export const merchantFeeReportPageRows = 1_000;

export interface MerchantCardFees {
  /** The merchant's platform fee, in hundredths of a percent. */
  readonly platformFeeBasisPoints: number;
  /** Succeeded payments the merchant sold that were made in the period. */
  readonly paymentCount: number;
  /** What their buyers paid for them. */
  readonly paidMicros: bigint;
  /** What the same payments would have cost in card fees, each charged on its own. */
  readonly perPaymentCardFeeMicros: bigint;
}

/**
 * Adds up the card fees of the payments a merchant sold between `fromMs` (included) and `toMs`
 * (excluded), a page at a time in (created_at, id) order through the payments' index by
 * merchant and time, so that a busy period is never held in memory whole.
 */
export function createMerchantFeeReport(deps: {
  readonly platform: PlatformDb;
  readonly schedule: CardFeeSchedule;
  readonly pageRows?: number;
}) {
  const db = deps.platform.db;
  const pageRows = deps.pageRows ?? merchantFeeReportPageRows;

  async function merchantCardFees(input: {
    merchantId: string;
    fromMs: number;
    toMs: number;
  }): Promise<Result<MerchantCardFees, 'merchantNotFound'>> {
    const merchant = await db
      .selectFrom('merchants')
      .select('fee_basis_points')
      .where('id', '=', input.merchantId)
      .executeTakeFirst();
    if (merchant === undefined) return fail('merchantNotFound');
    let paymentCount = 0;
    let paidMicros = 0n;
    let perPaymentCardFeeMicros = 0n;
    let after: { createdAt: bigint; id: string } | undefined;
    for (;;) {
      const rows = await db
        .selectFrom('payments')
        .select(['id', 'amount_micros', 'state', 'created_at'])
        .where('merchant_id', '=', input.merchantId)
        .where('created_at', '>=', BigInt(input.fromMs))
        .where('created_at', '<', BigInt(input.toMs))
        .$if(after !== undefined, (query) => {
          const { createdAt, id } = after ?? { createdAt: 0n, id: '' };
          return query.where(
            sql<boolean>`(created_at > ${createdAt} or (created_at = ${createdAt} and id > ${id}))`,
          );
        })
        .orderBy('created_at')
        .orderBy('id')
        .limit(pageRows)
        .execute();
      for (const row of rows) {
        if (row.state !== 'succeeded') continue;
        const amount = BigInt(row.amount_micros);
        paymentCount += 1;
        paidMicros += amount;
        perPaymentCardFeeMicros += processorFeeMicros(amount, deps.schedule);
      }
      const last = rows.at(-1);
      if (rows.length < pageRows || last === undefined) break;
      after = { createdAt: BigInt(last.created_at), id: last.id };
    }
    return ok({
      platformFeeBasisPoints: merchant.fee_basis_points,
      paymentCount,
      paidMicros,
      perPaymentCardFeeMicros,
    });
  }

  return { merchantCardFees };
}
