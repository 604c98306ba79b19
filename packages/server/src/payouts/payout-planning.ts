import type { Ledger, TimeOrderedIds } from '@mite/ledger';
import type { Transaction } from 'kysely';
import type { PayoutRow, PlatformSchema } from '../db/schema.ts';
import { keysetPages, type ReadPage } from '../db/keyset-pages.ts';
import { lookupBalances } from '../ledger/account-balance.ts';
import { wholeCentsOf } from './bank-file.ts';
import { chunksOf, newPayoutId, type PayoutStore } from './payout-batches.ts';
import { frozenMerchantsAmong } from '../review/account-freezes.ts';

/** Rows per INSERT statement: well under both dialects' limits on bound parameters. */
const insertRowsMax = 500;

/** A merchant due a payout but held: its bank details changed less than the hold ago. */
export interface HeldPayout {
  readonly merchantId: string;
  readonly bankDetailsChangedAtMs: number;
  /** When the hold ends: the first run from then pays the merchant. */
  readonly heldUntilMs: number;
}

/**
 * A merchant due a payout but frozen after a confirmed fraud (review/): its balance stays in
 * place until an operator lifts the freeze.
 */
export interface FrozenPayout {
  readonly merchantId: string;
  readonly frozenAtMs: number;
}

export interface PlannedBatch {
  /** Undefined when no merchant was due: then nothing was written. */
  readonly batchId: string | undefined;
  readonly held: readonly HeldPayout[];
  readonly frozen: readonly FrozenPayout[];
}

/** What a plan left out, and why: a recent bank change, or a freeze. */
interface LeftOut {
  readonly held: HeldPayout[];
  readonly frozen: FrozenPayout[];
}

export interface PayoutPlanningDeps extends PayoutStore {
  readonly ledger: Ledger;
  readonly transferIds: TimeOrderedIds;
  readonly clock: () => number;
  /** No payout until this long after a merchant's bank details were set. */
  readonly bankChangeHoldMs: number;
  /** Merchants read per query (payoutPageRowsDefault). */
  readonly pageRows: number;
}

/** Thrown inside the batch transaction to roll it back when no merchant is due a payout. */
class NothingDue extends Error {}

type PlatformTransaction = Transaction<PlatformSchema>;

/** A merchant with a bank account: a payout candidate, due or not. */
interface Candidate {
  readonly id: string;
  readonly account_id: string;
  readonly payout_threshold_micros: string;
  readonly holder_name: string;
  readonly iban: string;
  readonly bic: string;
  readonly updated_at: bigint;
}

/**
 * Plans batches: claims the one building slot (a unique index: at most one batch builds at a
 * time), reads the balances of the merchants that have a bank account, and writes a payout with a
 * fixed ledger transfer id and an amount fixed at that read for each one due, all in one
 * transaction, so two concurrent runs cannot both plan a payout of the same money. Merchants are
 * read and their payouts written a page at a time, so a run never holds every merchant at once.
 */
export function createPayoutPlanning(deps: PayoutPlanningDeps) {
  const { db, clock } = deps;

  /**
   * Plans a batch; no batch (and nothing written) when no merchant is due. Merchants due but
   * whose bank details changed within the hold are left out, and listed.
   */
  async function planBatch(): Promise<PlannedBatch> {
    const leftOut: LeftOut = { held: [], frozen: [] };
    try {
      const batchId = await db.transaction().execute(async (tx) => {
        const batchId = newPayoutId('pb');
        const nowMs = clock();
        await insertBuildingBatch(tx, batchId, nowMs);
        let totalMicros = 0n;
        let count = 0;
        for await (const candidates of keysetPages(candidatePage(tx), deps.pageRows)) {
          const frozen = await frozenMerchantsAmong(
            tx,
            candidates.map((candidate) => candidate.id),
          );
          const rows = await plannedPayouts(candidates, batchId, nowMs, { leftOut, frozen });
          for (const chunk of chunksOf(rows, insertRowsMax)) {
            await tx.insertInto('payouts').values(chunk).execute();
          }
          totalMicros = rows.reduce((sum, row) => sum + BigInt(row.amount_micros), totalMicros);
          count += rows.length;
        }
        if (count === 0) throw new NothingDue();
        await tx
          .updateTable('payout_batches')
          .set({ total_micros: totalMicros.toString(), count })
          .where('id', '=', batchId)
          .execute();
        return batchId;
      });
      return { batchId, ...leftOut };
    } catch (error) {
      if (error instanceof NothingDue) return { batchId: undefined, ...leftOut };
      throw error;
    }
  }

  async function insertBuildingBatch(tx: PlatformTransaction, batchId: string, nowMs: number) {
    await tx
      .insertInto('payout_batches')
      .values({
        id: batchId,
        state: 'building',
        created_at: BigInt(nowMs),
        completed_at: null,
        total_micros: '0',
        count: 0,
        file_xml: null,
        file_csv: null,
      })
      .execute();
  }

  /** Merchants with a bank account, by id, a page after `afterId`, in the batch's transaction. */
  function candidatePage(tx: PlatformTransaction): ReadPage<Candidate> {
    return (afterId, pageRows) =>
      tx
        .selectFrom('merchants')
        .innerJoin('merchant_bank_accounts', 'merchant_bank_accounts.merchant_id', 'merchants.id')
        .select([
          'merchants.id',
          'merchants.account_id',
          'merchants.payout_threshold_micros',
          'merchant_bank_accounts.holder_name',
          'merchant_bank_accounts.iban',
          'merchant_bank_accounts.bic',
          'merchant_bank_accounts.updated_at',
        ])
        .$if(afterId !== undefined, (query) => query.where('merchants.id', '>', afterId ?? ''))
        .orderBy('merchants.id')
        .limit(pageRows)
        .execute();
  }

  /**
   * The payouts due now among some candidates, one per merchant; those held by a recent bank
   * change go to `held`, the frozen ones (`frozen`, by merchant id) to `frozen`.
   */
  async function plannedPayouts(
    candidates: readonly Candidate[],
    batchId: string,
    nowMs: number,
    skip: { readonly leftOut: LeftOut; readonly frozen: ReadonlyMap<string, bigint> },
  ): Promise<PayoutRow[]> {
    const balances = await lookupBalances(
      deps.ledger,
      candidates.map((row) => BigInt(row.account_id)),
    );
    const rows: PayoutRow[] = [];
    for (const candidate of candidates) {
      const balance = balances.get(BigInt(candidate.account_id))?.availableMicros ?? 0n;
      if (balance <= 0n || balance < BigInt(candidate.payout_threshold_micros)) continue;
      const amount = wholeCentsOf(balance);
      if (amount === 0n) continue;
      const frozenAt = skip.frozen.get(candidate.id);
      if (frozenAt !== undefined) {
        skip.leftOut.frozen.push({ merchantId: candidate.id, frozenAtMs: Number(frozenAt) });
        continue;
      }
      const bankDetailsChangedAtMs = Number(candidate.updated_at);
      const heldUntilMs = bankDetailsChangedAtMs + deps.bankChangeHoldMs;
      if (heldUntilMs > nowMs) {
        skip.leftOut.held.push({ merchantId: candidate.id, bankDetailsChangedAtMs, heldUntilMs });
        continue;
      }
      rows.push(payoutRowOf(candidate, batchId, amount, nowMs));
    }
    return rows;
  }

  function payoutRowOf(
    candidate: Candidate,
    batchId: string,
    amount: bigint,
    nowMs: number,
  ): PayoutRow {
    const payoutId = newPayoutId('po');
    // Re-encrypted for the payout's row: a ciphertext is bound to the row it sits in.
    const details = deps.sealer.open({ merchantId: candidate.id }, candidate);
    return {
      id: payoutId,
      batch_id: batchId,
      merchant_id: candidate.id,
      amount_micros: amount.toString(),
      transfer_id: deps.transferIds.next().toString(),
      state: 'pending',
      failure_code: null,
      ...deps.sealer.seal({ payoutId }, details),
      created_at: BigInt(nowMs),
      completed_at: null,
    };
  }

  return { planBatch };
}
