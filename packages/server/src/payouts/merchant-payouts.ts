import type { Ledger, TransferRecord } from '@mite/ledger';
import type { PayoutBatchState, PayoutState } from '../db/schema.ts';
import { fail, ok, type Result } from '../result.ts';
import { remittanceOf } from './bank-file.ts';
import type { PayoutStore } from './payout-batches.ts';
import { type ReconciliationFinding, transferFindings } from './reconciliation.ts';

/**
 * How one payout stands against the ledger: `matches` when a paid payout's transfer is there as
 * the payout says (or a failed one moved nothing), `pending` while its batch is being paid,
 * `mismatch` with the findings otherwise. The bank files are checked batch by batch in the
 * operator's reconciliation report, not here: a page of a merchant's payouts spans as many
 * batches as it has payouts.
 */
export type PayoutLedgerCheck =
  | { readonly state: 'matches' | 'pending' }
  | { readonly state: 'mismatch'; readonly findings: readonly ReconciliationFinding[] };

export interface MerchantPayout {
  readonly payoutId: string;
  readonly batchId: string;
  readonly batchState: PayoutBatchState;
  readonly amountMicros: bigint;
  readonly state: PayoutState;
  readonly failureCode: string | null;
  readonly createdAtMs: number;
  readonly completedAtMs: number | null;
  /** The credit transfer the batch's bank files carry for it; null unless it was paid. */
  readonly bankTransfer: {
    readonly endToEndId: string;
    readonly remittanceInformation: string;
    readonly holderName: string;
    readonly ibanLast4: string;
    readonly bic: string;
  } | null;
  readonly ledgerCheck: PayoutLedgerCheck;
}

export interface MerchantPayoutPage {
  readonly items: readonly MerchantPayout[];
  /** The id to continue before, when there are more. */
  readonly nextBeforeId: string | undefined;
}

/** Checks a payout against its ledger transfer (undefined when the ledger has none). */
function ledgerCheckOf(
  state: PayoutState,
  amountMicros: bigint,
  accountId: bigint,
  transfer: TransferRecord | undefined,
): PayoutLedgerCheck {
  if (state === 'pending') return { state: 'pending' };
  const findings: ReconciliationFinding[] = [];
  if (state === 'paid') {
    if (transfer === undefined) findings.push({ code: 'paidWithoutTransfer' });
    else findings.push(...transferFindings(transfer, amountMicros, accountId));
  } else if (transfer !== undefined) findings.push({ code: 'failedWithTransfer' });
  return findings.length === 0 ? { state: 'matches' } : { state: 'mismatch', findings };
}

/**
 * One merchant's payouts, newest first (payout ids are time-ordered uuidv7s), a page at a time,
 * each checked against its ledger transfer with one ledger lookup per page.
 */
export function createMerchantPayouts({ db, sealer, ledger }: PayoutStore & { ledger: Ledger }) {
  async function listMerchantPayouts(request: {
    readonly merchantId: string;
    readonly limit: number;
    readonly beforeId?: string | undefined;
  }): Promise<Result<MerchantPayoutPage, 'merchantNotFound'>> {
    const merchant = await db
      .selectFrom('merchants')
      .select('account_id')
      .where('id', '=', request.merchantId)
      .executeTakeFirst();
    if (merchant === undefined) return fail('merchantNotFound');
    const rows = await db
      .selectFrom('payouts')
      .innerJoin('payout_batches', 'payout_batches.id', 'payouts.batch_id')
      .selectAll('payouts')
      .select('payout_batches.state as batch_state')
      .where('payouts.merchant_id', '=', request.merchantId)
      .$if(request.beforeId !== undefined, (query) =>
        query.where('payouts.id', '<', request.beforeId ?? ''),
      )
      .orderBy('payouts.id', 'desc')
      .limit(request.limit + 1)
      .execute();
    const shown = rows.slice(0, request.limit);
    const transfers = new Map<bigint, TransferRecord>();
    const found = await ledger.lookupTransfers(shown.map((row) => BigInt(row.transfer_id)));
    for (const transfer of found) transfers.set(transfer.id, transfer);
    const accountId = BigInt(merchant.account_id);
    const items = shown.map((row): MerchantPayout => {
      const amountMicros = BigInt(row.amount_micros);
      const details = sealer.open({ payoutId: row.id }, row);
      return {
        payoutId: row.id,
        batchId: row.batch_id,
        batchState: row.batch_state,
        amountMicros,
        state: row.state,
        failureCode: row.failure_code,
        createdAtMs: Number(row.created_at),
        completedAtMs: row.completed_at === null ? null : Number(row.completed_at),
        bankTransfer:
          row.state === 'paid'
            ? {
                endToEndId: row.id,
                remittanceInformation: remittanceOf(row.id),
                holderName: details.holderName,
                ibanLast4: details.iban.slice(-4),
                bic: details.bic,
              }
            : null,
        ledgerCheck: ledgerCheckOf(
          row.state,
          amountMicros,
          accountId,
          transfers.get(BigInt(row.transfer_id)),
        ),
      };
    });
    const nextBeforeId = rows.length > request.limit ? shown.at(-1)?.id : undefined;
    return ok({ items, nextBeforeId });
  }

  return { listMerchantPayouts };
}
