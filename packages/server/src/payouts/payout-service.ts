import { eventsPerCallMax, type Ledger, type TimeOrderedIds } from '@mite/ledger';
import type { PlatformDb } from '../db/platform-db.ts';
import type { PersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import { bankChangeHoldMsDefault, createBankAccounts } from './bank-accounts.ts';
import { checkBankDetails } from './bank-details.ts';
import type { Debtor } from './bank-file.ts';
import {
  createPayoutBatchReader,
  type PayoutBatch,
  payoutPageRowsDefault,
} from './payout-batches.ts';
import {
  createPayoutExecution,
  payoutChunkSizeDefault,
  type PayoutProgress,
} from './payout-execution.ts';
import { createMerchantPayouts } from './merchant-payouts.ts';
import {
  createPayoutPlanning,
  type FrozenPayout,
  type HeldPayout,
  type PlannedBatch,
} from './payout-planning.ts';
import { createReconciliation } from './reconciliation.ts';
import {
  createBankDetailsSealer,
  sealPlaintextBankDetails,
  sealUpgradePageRowsMax,
} from './sealed-bank-details.ts';

export {
  type BankAccount,
  bankChangeHoldMsDefault,
  bankChangeHoldMsFromEnv,
} from './bank-accounts.ts';
export {
  type BankFileFormat,
  type Payout,
  type PayoutBatch,
  type PayoutBatchSummary,
  payoutCurrency,
  payoutPageRowsDefault,
} from './payout-batches.ts';
export { payoutChunkSizeDefault, type PayoutProgress } from './payout-execution.ts';
export type { FrozenPayout, HeldPayout } from './payout-planning.ts';
export type { MerchantPayout, PayoutLedgerCheck } from './merchant-payouts.ts';
export type {
  ReconciliationFinding,
  ReconciliationFindingCode,
  ReconciliationLine,
  ReconciliationReport,
} from './reconciliation.ts';

/** How often a run that finds another batch building resumes it and tries again. */
const createAttemptsMax = 3;

/**
 * The platform's own bank account, debited by the payout files. Test data by default; set
 * MITE_PAYOUT_DEBTOR_NAME, MITE_PAYOUT_DEBTOR_IBAN and MITE_PAYOUT_DEBTOR_BIC for a real one.
 */
export function payoutDebtorFromEnv(env: Readonly<Record<string, string | undefined>>): Debtor {
  return checkedDebtor(
    {
      name: env.MITE_PAYOUT_DEBTOR_NAME ?? 'Mite Platform (sandbox)',
      iban: env.MITE_PAYOUT_DEBTOR_IBAN ?? 'DE89370400440532013000',
      bic: env.MITE_PAYOUT_DEBTOR_BIC ?? 'COBADEFFXXX',
    },
    'the payout debtor account is unusable',
  );
}

/** The debtor with its IBAN and BIC checked and normalised; throws when they are unusable. */
function checkedDebtor(debtor: Debtor, whatIsWrong: string): Debtor {
  const checked = checkBankDetails({
    holderName: debtor.name,
    iban: debtor.iban,
    bic: debtor.bic,
  });
  if (!checked.ok) throw new Error(`${whatIsWrong}: ${checked.detail}`);
  const { holderName, iban, bic } = checked.value;
  return { name: holderName, iban, bic };
}

export interface PayoutServiceDeps {
  readonly platform: PlatformDb;
  readonly ledger: Ledger;
  readonly transferIds: TimeOrderedIds;
  readonly clock: () => number;
  readonly debtor: Debtor;
  /** Encrypts the bank details and bank files at rest (sealed-bank-details.ts). */
  readonly cipher: PersonalDataCipher;
  /** Payouts per ledger call and per progress report; 1 to eventsPerCallMax. */
  readonly chunkSize?: number;
  /** No payout until this long after a merchant's bank details were set; bankChangeHoldMsDefault. */
  readonly bankChangeHoldMs?: number;
  /** Merchants and payouts read per query while planning and executing; payoutPageRowsDefault. */
  readonly pageRows?: number;
}

interface PayoutRunNotes {
  readonly resumedBatchIds: readonly string[];
  /** Merchants due a payout that this run did not pay, because their bank details are new. */
  readonly held: readonly HeldPayout[];
  /** Merchants due a payout that this run did not pay, because they are frozen (review/). */
  readonly frozen: readonly FrozenPayout[];
}

export type PayoutRun =
  | (PayoutBatch & PayoutRunNotes & { readonly nothingDue: false })
  | (PayoutRunNotes & { readonly nothingDue: true });

/**
 * Payouts (DESIGN.md section 1, flow 5), composed of bank accounts (bank-accounts.ts), planning
 * (payout-planning.ts), execution (payout-execution.ts), reading batches (payout-batches.ts) and
 * reconciliation (reconciliation.ts). A run moves each merchant's balance, once it reaches the
 * merchant's payout threshold and the merchant has a bank account, from the merchant's ledger
 * account to the settlement account, in one batch, and writes the bank files for it.
 *
 * Never paying twice. A batch and its payouts, each with a fixed ledger transfer id and an amount
 * fixed at the balance read, are committed before the ledger is touched; a run first resumes any
 * batch left `building` (by a crash, or by a run still going on another node) by submitting the
 * same transfers again, which the ledger answers `exists` for those already done, and does not
 * read balances again for it. A paid merchant's balance is below one cent afterwards, so the next
 * run finds nothing due for it. At most one batch is building at a time (a unique index), and a
 * new batch reads the balances inside the transaction that claims that slot, so two concurrent
 * runs cannot both plan a payout of the same money.
 *
 * Sub-cent amounts: a payout is the balance rounded down to whole cents (see bank-file.ts); the
 * remainder stays with the merchant for a later payout.
 *
 * A payout marked paid is announced to the merchant as a `payout.paid` webhook, written in the
 * same transaction as the mark (the outbox), so once however often the batch is resumed.
 */
export function createPayoutService(deps: PayoutServiceDeps) {
  const { platform, ledger, clock } = deps;
  const db = platform.db;
  const sealer = createBankDetailsSealer(deps.cipher);
  const chunkSize = deps.chunkSize ?? payoutChunkSizeDefault;
  const bankChangeHoldMs = deps.bankChangeHoldMs ?? bankChangeHoldMsDefault;
  const pageRows = deps.pageRows ?? payoutPageRowsDefault;
  if (!Number.isSafeInteger(bankChangeHoldMs) || bankChangeHoldMs < 0) {
    throw new Error('bankChangeHoldMs is a whole number of milliseconds, 0 or more');
  }
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > eventsPerCallMax) {
    throw new Error(`chunkSize must be an integer in 1..${eventsPerCallMax}`);
  }
  if (!Number.isSafeInteger(pageRows) || pageRows < 1) {
    throw new Error('pageRows is a whole number, 1 or more');
  }
  const debtor = checkedDebtor(deps.debtor, 'the payout debtor is unusable');
  const store = { db, sealer };
  const bankAccounts = createBankAccounts({ ...store, clock, bankChangeHoldMs });
  const planning = createPayoutPlanning({
    ...store,
    ledger,
    transferIds: deps.transferIds,
    clock,
    bankChangeHoldMs,
    pageRows,
  });
  const execution = createPayoutExecution({ ...store, ledger, clock, debtor, chunkSize, pageRows });
  const batches = createPayoutBatchReader({ ...store, pageRows });
  const reconciliation = createReconciliation({ ...store, ledger, pageRows });
  const merchantPayouts = createMerchantPayouts({ ...store, ledger });

  /**
   * Pays every merchant due a payout, in one batch, after finishing any batch left building.
   * `onProgress` hears (done, total) for each batch as its transfers are made.
   */
  async function runPayouts(
    options: { onProgress?: (progress: PayoutProgress) => void } = {},
  ): Promise<PayoutRun> {
    const resumedBatchIds: string[] = [];
    const resumeBuilding = async () => {
      for (const batchId of await buildingBatchIds()) {
        await execution.executeBatch(batchId, options.onProgress);
        if (!resumedBatchIds.includes(batchId)) resumedBatchIds.push(batchId);
      }
    };
    await resumeBuilding();
    for (let attempt = 0; attempt < createAttemptsMax; attempt += 1) {
      let planned: PlannedBatch;
      try {
        planned = await planning.planBatch();
      } catch (error) {
        // Another run claimed the building slot meanwhile: finish its batch, then look again.
        if ((await buildingBatchIds()).length === 0) throw error;
        await resumeBuilding();
        continue;
      }
      const { batchId, held, frozen } = planned;
      if (batchId === undefined) return { nothingDue: true, resumedBatchIds, held, frozen };
      await execution.executeBatch(batchId, options.onProgress);
      const batch = await batches.getBatch(batchId);
      if (batch === undefined) throw new Error(`bug: payout batch ${batchId} vanished`);
      return { ...batch, nothingDue: false, resumedBatchIds, held, frozen };
    }
    throw new Error('another payout run keeps a batch building; try again later');
  }

  async function buildingBatchIds(): Promise<string[]> {
    const rows = await db
      .selectFrom('payout_batches')
      .select('id')
      .where('state', '=', 'building')
      .orderBy('created_at')
      .execute();
    return rows.map((row) => row.id);
  }

  return {
    ...bankAccounts,
    /** Encrypts what older versions stored in the clear; run at start (once recorded, a no-op). */
    sealPlaintextBankDetails: () =>
      sealPlaintextBankDetails(db, sealer, clock(), Math.min(pageRows, sealUpgradePageRowsMax)),
    runPayouts,
    ...batches,
    ...reconciliation,
    ...merchantPayouts,
  };
}

export type PayoutService = ReturnType<typeof createPayoutService>;
