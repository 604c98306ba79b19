import type { CreateTransferResult, Ledger, Transfer } from '@mite/ledger';
import { formatLedgerAmount } from '@mite/protocol';
import type { PayoutRow } from '../db/schema.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import { enqueueWebhookEvent } from '../webhooks/outbox.ts';
import { keysetPages, type ReadPage } from '../db/keyset-pages.ts';
import {
  type BankFileInput,
  type BankFilePayout,
  type Debtor,
  pain001Xml,
  payoutsCsv,
} from './bank-file.ts';
import { chunksOf, payoutCurrency, type PayoutStore } from './payout-batches.ts';

/** Payouts submitted to the ledger per call, and so per progress report, unless told otherwise. */
export const payoutChunkSizeDefault = 500;

export interface PayoutProgress {
  readonly batchId: string;
  /** Payouts of the batch settled (paid or failed) so far. */
  readonly done: number;
  readonly total: number;
}

export interface PayoutExecutionDeps extends PayoutStore {
  readonly ledger: Ledger;
  readonly clock: () => number;
  /** The platform's account the bank files debit; already checked. */
  readonly debtor: Debtor;
  /** Payouts per ledger call and per progress report. */
  readonly chunkSize: number;
  /** Payouts read per query (payoutPageRowsDefault). */
  readonly pageRows: number;
}

/** A pending payout with what its ledger transfer needs. */
interface PayoutToSettle {
  readonly id: string;
  readonly merchant_id: string;
  readonly transfer_id: string;
  readonly amount_micros: string;
  readonly iban: string;
  readonly account_id: string;
}

type TransferOutcome = 'paid' | 'exceedsCredits' | 'accountClosed' | 'idAlreadyFailed';

/**
 * Executes planned batches. Each payout's ledger transfer has the id fixed when it was planned,
 * so executing a batch again (a resume after a crash, or a concurrent run) is harmless: the ledger
 * answers `exists` for what is done. A payout marked paid is announced as a `payout.paid` webhook
 * in the same transaction as the mark (the outbox), so once however often the batch is resumed.
 */
export function createPayoutExecution(deps: PayoutExecutionDeps) {
  const { db, sealer, ledger, clock } = deps;

  /**
   * Makes the ledger transfers of a batch's pending payouts (the same fixed ids however often it
   * runs), marks each paid or failed, then writes the bank files and closes the batch. Pending
   * payouts are read a page at a time: a payout leaves the pending ones once settled, and the
   * next page starts after the last id of the one before.
   */
  async function executeBatch(
    batchId: string,
    onProgress: ((progress: PayoutProgress) => void) | undefined,
  ): Promise<void> {
    const { total, settled } = await payoutCounts(batchId);
    let done = settled;
    onProgress?.({ batchId, done, total });
    for await (const page of keysetPages(pendingPage(batchId), deps.pageRows)) {
      for (const chunk of chunksOf(page, deps.chunkSize)) {
        await settle(batchId, chunk);
        done += chunk.length;
        onProgress?.({ batchId, done, total });
      }
    }
    await completeBatch(batchId);
  }

  /** How many payouts the batch has, and how many of them are settled (paid or failed). */
  async function payoutCounts(batchId: string): Promise<{ total: number; settled: number }> {
    const byState = await db
      .selectFrom('payouts')
      .select((eb) => ['state', eb.fn.countAll().as('count')])
      .where('batch_id', '=', batchId)
      .groupBy('state')
      .execute();
    let total = 0;
    let settled = 0;
    for (const row of byState) {
      total += Number(row.count);
      if (row.state !== 'pending') settled += Number(row.count);
    }
    return { total, settled };
  }

  /** The batch's pending payouts, by id, a page after `afterId`. */
  function pendingPage(batchId: string): ReadPage<PayoutToSettle> {
    return (afterId, pageRows) =>
      db
        .selectFrom('payouts')
        .innerJoin('merchants', 'merchants.id', 'payouts.merchant_id')
        .select([
          'payouts.id',
          'payouts.merchant_id',
          'payouts.transfer_id',
          'payouts.amount_micros',
          'payouts.iban',
          'merchants.account_id',
        ])
        .where('payouts.batch_id', '=', batchId)
        .where('payouts.state', '=', 'pending')
        .$if(afterId !== undefined, (query) => query.where('payouts.id', '>', afterId ?? ''))
        .orderBy('payouts.id')
        .limit(pageRows)
        .execute();
  }

  /** Submits the transfers of some pending payouts and records each outcome, in one transaction. */
  async function settle(batchId: string, chunk: readonly PayoutToSettle[]): Promise<void> {
    const results = await ledger.createTransfers(chunk.map(transferOf));
    const completedAtMs = clock();
    await db.transaction().execute(async (tx) => {
      for (const [index, row] of chunk.entries()) {
        const outcome = outcomeOf(results[index]);
        const settled = await tx
          .updateTable('payouts')
          .set({
            state: outcome === 'paid' ? 'paid' : 'failed',
            failure_code: outcome === 'paid' ? null : outcome,
            completed_at: BigInt(completedAtMs),
          })
          .where('id', '=', row.id)
          .where('state', '=', 'pending')
          .executeTakeFirst();
        // Announced once, by whichever attempt marked it paid, in the same transaction.
        if (outcome === 'paid' && settled.numUpdatedRows > 0n) {
          await enqueueWebhookEvent(tx, {
            merchantId: row.merchant_id,
            type: 'payout.paid',
            payload: {
              payoutId: row.id,
              batchId,
              amount: formatLedgerAmount(BigInt(row.amount_micros)),
              currency: payoutCurrency,
              ibanLast4: sealer.openIban(row.id, row.iban).slice(-4),
            },
            nowMs: completedAtMs,
          });
        }
      }
    });
  }

  /** Writes the bank files of the paid payouts into the batch and closes it, once. */
  async function completeBatch(batchId: string): Promise<void> {
    const pending = await db
      .selectFrom('payouts')
      .select('id')
      .where('batch_id', '=', batchId)
      .where('state', '=', 'pending')
      .limit(1)
      .executeTakeFirst();
    if (pending !== undefined) {
      throw new Error(`bug: payout batch ${batchId} still has pending payouts`);
    }
    const paid = await paidPayouts(batchId);
    const nowMs = clock();
    const update =
      paid.length === 0
        ? { state: 'failed' as const, total_micros: '0', count: 0 }
        : bankFilesFor(batchId, nowMs, paid);
    // A concurrent resume of the same batch may have closed it first: its files stand.
    await db
      .updateTable('payout_batches')
      .set({ ...update, completed_at: BigInt(nowMs) })
      .where('id', '=', batchId)
      .where('state', '=', 'building')
      .execute();
  }

  /**
   * The batch's paid payouts as its bank files list them, by id. Read a page at a time; the files
   * themselves name every one, so these are all held until the files are written.
   */
  async function paidPayouts(batchId: string): Promise<BankFilePayout[]> {
    const readPage: ReadPage<PayoutRow> = (afterId, pageRows) =>
      db
        .selectFrom('payouts')
        .selectAll()
        .where('batch_id', '=', batchId)
        .where('state', '=', 'paid')
        .$if(afterId !== undefined, (query) => query.where('id', '>', afterId ?? ''))
        .orderBy('id')
        .limit(pageRows)
        .execute();
    const paid: BankFilePayout[] = [];
    for await (const page of keysetPages(readPage, deps.pageRows)) {
      for (const payout of page) {
        paid.push({
          payoutId: payout.id,
          merchantId: payout.merchant_id,
          ...sealer.open({ payoutId: payout.id }, payout),
          amountMicros: BigInt(payout.amount_micros),
        });
      }
    }
    return paid;
  }

  function bankFilesFor(batchId: string, nowMs: number, paid: readonly BankFilePayout[]) {
    const input: BankFileInput = {
      batchId,
      createdAtMs: nowMs,
      currency: payoutCurrency,
      debtor: deps.debtor,
      payouts: paid,
    };
    const total = paid.reduce((sum, payout) => sum + payout.amountMicros, 0n);
    return {
      state: 'paid' as const,
      total_micros: total.toString(),
      count: paid.length,
      file_xml: sealer.sealFile(batchId, 'file_xml', pain001Xml(input)),
      file_csv: sealer.sealFile(batchId, 'file_csv', payoutsCsv(input)),
    };
  }

  return { executeBatch };
}

/** A payout's ledger transfer: from the merchant's account to the settlement account. */
function transferOf(row: PayoutToSettle): Transfer {
  return {
    id: BigInt(row.transfer_id),
    debitAccountId: BigInt(row.account_id),
    creditAccountId: platformAccountIds.settlement,
    amount: BigInt(row.amount_micros),
    ledger: ledgers.usd,
    code: transferCodes.payout,
  };
}

/**
 * A payout transfer's result: `exists` is a transfer made by an earlier attempt of the same
 * batch. Refusals that depend on the balance or the account at the time fail the payout alone;
 * `idAlreadyFailed` is such a refusal met by an earlier attempt. Anything else is a bug.
 */
function outcomeOf(result: CreateTransferResult | undefined): TransferOutcome {
  switch (result) {
    case 'ok':
    case 'exists':
      return 'paid';
    case 'exceedsCredits':
    case 'accountClosed':
    case 'idAlreadyFailed':
      return result;
    default:
      throw new Error(`bug: a payout transfer failed with ${result ?? 'no result'}`);
  }
}
