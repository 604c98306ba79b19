import {
  type CreateTransferResult,
  eventsPerCallMax,
  type Ledger,
  type TimeOrderedIds,
  type Transfer,
  type TransferRecord,
} from '@mite/ledger';
import { uuidv7 } from 'uuidv7';
import type { PlatformDb } from '../db/platform-db.ts';
import type { PayoutBatchRow, PayoutBatchState, PayoutRow, PayoutState } from '../db/schema.ts';
import { lookupBalances } from '../ledger/account-balance.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import { formatAmount } from '../money/amounts.ts';
import { currency } from '../payments/payment-service.ts';
import { fail, ok, type Result } from '../result.ts';
import { enqueueWebhookEvent } from '../webhooks/outbox.ts';
import {
  type BankFileInput,
  type Debtor,
  microsOfBankAmount,
  pain001Xml,
  parseCsv,
  payoutsCsv,
  readPain001,
  wholeCentsOf,
} from './bank-file.ts';
import type { PersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import { type BankDetails, checkBankDetails } from './bank-details.ts';
import {
  type BankDetailsSealer,
  type BankFileColumn,
  createBankDetailsSealer,
  sealPlaintextBankDetails,
} from './sealed-bank-details.ts';

/** The currency of payouts and bank files: the platform's. */
export const payoutCurrency = currency;
/** Payouts submitted to the ledger per call, and so per progress report, unless told otherwise. */
export const payoutChunkSizeDefault = 500;
/** Rows per INSERT statement: well under both dialects' limits on bound parameters. */
const insertRowsMax = 500;
/** How often a run that finds another batch building resumes it and tries again. */
const createAttemptsMax = 3;
/**
 * How long after its bank details are set or changed a merchant is paid nothing: time for the
 * merchant to see the `bank_account.updated` webhook and react, should a stolen key have made the
 * change. MITE_BANK_CHANGE_HOLD_HOURS overrides it (0: no hold).
 */
export const bankChangeHoldMsDefault = 48 * 3_600_000;

/** The hold after a bank detail change, from MITE_BANK_CHANGE_HOLD_HOURS (hours, 0 or more). */
export function bankChangeHoldMsFromEnv(env: Readonly<Record<string, string | undefined>>): number {
  const hours = env.MITE_BANK_CHANGE_HOLD_HOURS;
  if (hours === undefined || hours === '') return bankChangeHoldMsDefault;
  if (!/^\d{1,5}(\.\d{1,3})?$/.test(hours)) {
    throw new Error(
      `MITE_BANK_CHANGE_HOLD_HOURS is a number of hours, not ${JSON.stringify(hours)}`,
    );
  }
  return Math.round(Number(hours) * 3_600_000);
}

/**
 * The platform's own bank account, debited by the payout files. Test data by default; set
 * MITE_PAYOUT_DEBTOR_NAME, MITE_PAYOUT_DEBTOR_IBAN and MITE_PAYOUT_DEBTOR_BIC for a real one.
 */
export function payoutDebtorFromEnv(env: Readonly<Record<string, string | undefined>>): Debtor {
  const checked = checkBankDetails({
    holderName: env.MITE_PAYOUT_DEBTOR_NAME ?? 'Mite Platform (sandbox)',
    iban: env.MITE_PAYOUT_DEBTOR_IBAN ?? 'DE89370400440532013000',
    bic: env.MITE_PAYOUT_DEBTOR_BIC ?? 'COBADEFFXXX',
  });
  if (!checked.ok) throw new Error(`the payout debtor account is unusable: ${checked.reason}`);
  const { holderName, iban, bic } = checked.details;
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
}

/** A merchant due a payout but held: its bank details changed less than the hold ago. */
export interface HeldPayout {
  readonly merchantId: string;
  readonly bankDetailsChangedAtMs: number;
  /** When the hold ends: the first run from then pays the merchant. */
  readonly heldUntilMs: number;
}

export interface BankAccount extends BankDetails {
  readonly merchantId: string;
  readonly updatedAtMs: number;
}

export interface Payout {
  /** The bank file's EndToEndId. */
  readonly id: string;
  readonly batchId: string;
  readonly merchantId: string;
  /** A whole number of cents: what the ledger moves and the bank file says. */
  readonly amountMicros: bigint;
  readonly transferId: bigint;
  readonly state: PayoutState;
  /** The ledger's refusal when the payout failed (`exceedsCredits`: the balance fell meanwhile). */
  readonly failureCode: string | null;
  readonly holderName: string;
  readonly iban: string;
  readonly bic: string;
  readonly createdAtMs: number;
  readonly completedAtMs: number | null;
}

export interface PayoutBatchSummary {
  /** The bank file's MsgId. */
  readonly batchId: string;
  readonly state: PayoutBatchState;
  readonly createdAtMs: number;
  readonly completedAtMs: number | null;
  /** While building, the payouts planned; once done, those paid, as in the bank files. */
  readonly totalMicros: bigint;
  readonly count: number;
  /** Whether the bank files are there: a batch that paid anything, once done. */
  readonly hasFiles: boolean;
}

export interface PayoutBatch extends PayoutBatchSummary {
  readonly payouts: readonly Payout[];
}

export interface PayoutProgress {
  readonly batchId: string;
  /** Payouts of the batch settled (paid or failed) so far. */
  readonly done: number;
  readonly total: number;
}

interface PayoutRunNotes {
  readonly resumedBatchIds: readonly string[];
  /** Merchants due a payout that this run did not pay, because their bank details are new. */
  readonly held: readonly HeldPayout[];
}

export type PayoutRun =
  | (PayoutBatch & PayoutRunNotes & { readonly nothingDue: false })
  | (PayoutRunNotes & { readonly nothingDue: true });

export interface ReconciliationLine {
  readonly payoutId: string;
  readonly merchantId: string;
  readonly state: PayoutState;
  readonly amountMicros: bigint;
  readonly transferId: bigint;
  /** The ledger transfer's amount; null when the ledger has no such transfer. */
  readonly ledgerAmountMicros: bigint | null;
  /** The amount in the pain.001 file; null when the file does not carry the payout. */
  readonly xmlAmountMicros: bigint | null;
  /** The amount in the CSV file; null when the file does not carry the payout. */
  readonly csvAmountMicros: bigint | null;
  /** What does not agree; empty when the payout reconciles. */
  readonly problems: readonly string[];
}

export interface ReconciliationReport {
  readonly batchId: string;
  readonly state: PayoutBatchState;
  readonly lines: readonly ReconciliationLine[];
  readonly totals: {
    /** Payouts marked paid in the platform database. */
    readonly paidMicros: bigint;
    readonly paidCount: number;
    /** The batch row's total (what it says was paid). */
    readonly batchMicros: bigint;
    /** The ledger transfers found for the batch's payouts. */
    readonly ledgerMicros: bigint;
    readonly ledgerCount: number;
    /** The sum of the pain.001 file's InstdAmt, and its GrpHdr CtrlSum and NbOfTxs. */
    readonly xmlMicros: bigint;
    readonly xmlControlSumMicros: bigint;
    readonly xmlCount: number;
    readonly csvMicros: bigint;
    readonly csvCount: number;
  };
  /** Disagreements about the batch as a whole (its totals, its files). */
  readonly problems: readonly string[];
  /** True when every line and the batch reconcile. */
  readonly matches: boolean;
}

export type BankFileFormat = 'xml' | 'csv';

/** Thrown inside the batch transaction to roll it back when no merchant is due a payout. */
class NothingDue extends Error {}

/** `pb_` / `po_` + a uuidv7 without dashes: 35 characters, the most pain.001 ids may have. */
function newId(prefix: 'pb' | 'po'): string {
  return `${prefix}_${uuidv7().replace(/-/g, '')}`;
}

function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) {
    chunks.push(items.slice(start, start + size));
  }
  return chunks;
}

function payoutOf(row: PayoutRow, sealer: BankDetailsSealer): Payout {
  const { holderName, iban, bic } = sealer.open({ payoutId: row.id }, row);
  return {
    id: row.id,
    batchId: row.batch_id,
    merchantId: row.merchant_id,
    amountMicros: BigInt(row.amount_micros),
    transferId: BigInt(row.transfer_id),
    state: row.state,
    failureCode: row.failure_code,
    holderName,
    iban,
    bic,
    createdAtMs: Number(row.created_at),
    completedAtMs: row.completed_at === null ? null : Number(row.completed_at),
  };
}

function summaryOf(row: Omit<PayoutBatchRow, 'file_xml' | 'file_csv'>, hasFiles: boolean) {
  return {
    batchId: row.id,
    state: row.state,
    createdAtMs: Number(row.created_at),
    completedAtMs: row.completed_at === null ? null : Number(row.completed_at),
    totalMicros: BigInt(row.total_micros),
    count: row.count,
    hasFiles,
  } satisfies PayoutBatchSummary;
}

/**
 * Payouts (DESIGN.md section 1, flow 5): a run moves each merchant's balance, once it reaches the
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
  if (!Number.isSafeInteger(bankChangeHoldMs) || bankChangeHoldMs < 0) {
    throw new Error('bankChangeHoldMs is a whole number of milliseconds, 0 or more');
  }
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > eventsPerCallMax) {
    throw new Error(`chunkSize must be an integer in 1..${eventsPerCallMax}`);
  }
  const checkedDebtor = checkBankDetails({
    holderName: deps.debtor.name,
    iban: deps.debtor.iban,
    bic: deps.debtor.bic,
  });
  if (!checkedDebtor.ok) throw new Error(`the payout debtor is unusable: ${checkedDebtor.reason}`);
  const debtor: Debtor = {
    name: checkedDebtor.details.holderName,
    iban: checkedDebtor.details.iban,
    bic: checkedDebtor.details.bic,
  };

  async function setBankAccount(
    merchantId: string,
    input: BankDetails,
  ): Promise<Result<BankAccount, 'validationFailed' | 'merchantNotFound'>> {
    const checked = checkBankDetails(input);
    if (!checked.ok) return fail('validationFailed', checked.reason);
    const merchant = await db
      .selectFrom('merchants')
      .select('id')
      .where('id', '=', merchantId)
      .executeTakeFirst();
    if (merchant === undefined) return fail('merchantNotFound');
    const { holderName, iban, bic } = checked.details;
    const current = await getBankAccount(merchantId);
    // The same details again change nothing: no new hold, no event.
    if (current?.holderName === holderName && current.iban === iban && current.bic === bic) {
      return ok(current);
    }
    const updatedAtMs = clock();
    const fields = {
      ...sealer.seal({ merchantId }, checked.details),
      updated_at: BigInt(updatedAtMs),
    };
    await db.transaction().execute(async (tx) => {
      await tx
        .insertInto('merchant_bank_accounts')
        .values({ merchant_id: merchantId, ...fields })
        .onConflict((conflict) => conflict.column('merchant_id').doUpdateSet(fields))
        .execute();
      // Told to the merchant in the same transaction: a change by a stolen key is announced.
      await enqueueWebhookEvent(tx, {
        merchantId,
        type: 'bank_account.updated',
        payload: {
          ibanLast4: iban.slice(-4),
          updatedAt: new Date(updatedAtMs).toISOString(),
          payoutsHeldUntil: new Date(updatedAtMs + bankChangeHoldMs).toISOString(),
        },
        now: updatedAtMs,
      });
    });
    return ok({ merchantId, holderName, iban, bic, updatedAtMs });
  }

  async function getBankAccount(merchantId: string): Promise<BankAccount | undefined> {
    const row = await db
      .selectFrom('merchant_bank_accounts')
      .selectAll()
      .where('merchant_id', '=', merchantId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return {
      merchantId,
      ...sealer.open({ merchantId }, row),
      updatedAtMs: Number(row.updated_at),
    };
  }

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
        await executeBatch(batchId, options.onProgress);
        if (!resumedBatchIds.includes(batchId)) resumedBatchIds.push(batchId);
      }
    };
    await resumeBuilding();
    for (let attempt = 0; attempt < createAttemptsMax; attempt += 1) {
      let created: Awaited<ReturnType<typeof createBatch>>;
      try {
        created = await createBatch();
      } catch (error) {
        // Another run claimed the building slot meanwhile: finish its batch, then look again.
        if ((await buildingBatchIds()).length === 0) throw error;
        await resumeBuilding();
        continue;
      }
      const { batchId, held } = created;
      if (batchId === undefined) return { nothingDue: true, resumedBatchIds, held };
      await executeBatch(batchId, options.onProgress);
      const batch = await getBatch(batchId);
      if (batch === undefined) throw new Error(`bug: payout batch ${batchId} vanished`);
      return { ...batch, nothingDue: false, resumedBatchIds, held };
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

  /**
   * Plans a batch: claims the one building slot, reads the balances of the merchants that have a
   * bank account, and writes a payout with a fixed transfer id for each one due, all in one
   * transaction. No batch (and nothing written) when no merchant is due. Merchants due but whose
   * bank details changed within the hold are left out, and listed.
   */
  async function createBatch(): Promise<{ batchId: string | undefined; held: HeldPayout[] }> {
    const held: HeldPayout[] = [];
    try {
      const batchId = await db.transaction().execute(async (tx) => {
        const batchId = newId('pb');
        const now = BigInt(clock());
        await tx
          .insertInto('payout_batches')
          .values({
            id: batchId,
            state: 'building',
            created_at: now,
            completed_at: null,
            total_micros: '0',
            count: 0,
            file_xml: null,
            file_csv: null,
          })
          .execute();
        const candidates = await tx
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
          .orderBy('merchants.id')
          .execute();
        const balances = await availableBalances(candidates.map((row) => BigInt(row.account_id)));
        const rows: PayoutRow[] = [];
        for (const candidate of candidates) {
          const balance = balances.get(BigInt(candidate.account_id)) ?? 0n;
          if (balance <= 0n || balance < BigInt(candidate.payout_threshold_micros)) continue;
          const amount = wholeCentsOf(balance);
          if (amount === 0n) continue;
          const heldUntilMs = Number(candidate.updated_at) + bankChangeHoldMs;
          if (heldUntilMs > Number(now)) {
            const bankDetailsChangedAtMs = Number(candidate.updated_at);
            held.push({ merchantId: candidate.id, bankDetailsChangedAtMs, heldUntilMs });
            continue;
          }
          const payoutId = newId('po');
          // Re-encrypted for the payout's row: a ciphertext is bound to the row it sits in.
          const details = sealer.open({ merchantId: candidate.id }, candidate);
          rows.push({
            id: payoutId,
            batch_id: batchId,
            merchant_id: candidate.id,
            amount_micros: amount.toString(),
            transfer_id: deps.transferIds.next().toString(),
            state: 'pending',
            failure_code: null,
            ...sealer.seal({ payoutId }, details),
            created_at: now,
            completed_at: null,
          });
        }
        if (rows.length === 0) throw new NothingDue();
        for (const chunk of chunksOf(rows, insertRowsMax)) {
          await tx.insertInto('payouts').values(chunk).execute();
        }
        const total = rows.reduce((sum, row) => sum + BigInt(row.amount_micros), 0n);
        await tx
          .updateTable('payout_batches')
          .set({ total_micros: total.toString(), count: rows.length })
          .where('id', '=', batchId)
          .execute();
        return batchId;
      });
      return { batchId, held };
    } catch (error) {
      if (error instanceof NothingDue) return { batchId: undefined, held };
      throw error;
    }
  }

  /** What each account can pay out now: its available balance (account-balance.ts). */
  async function availableBalances(accountIds: readonly bigint[]): Promise<Map<bigint, bigint>> {
    const balances = await lookupBalances(ledger, accountIds);
    return new Map([...balances].map(([id, balance]) => [id, balance.availableMicros]));
  }

  /**
   * Makes the ledger transfers of a batch's pending payouts (the same fixed ids however often it
   * runs), marks each paid or failed, then writes the bank files and closes the batch.
   */
  async function executeBatch(
    batchId: string,
    onProgress: ((progress: PayoutProgress) => void) | undefined,
  ): Promise<void> {
    const rows = await db
      .selectFrom('payouts')
      .innerJoin('merchants', 'merchants.id', 'payouts.merchant_id')
      .select([
        'payouts.id',
        'payouts.merchant_id',
        'payouts.transfer_id',
        'payouts.amount_micros',
        'payouts.iban',
        'payouts.state',
        'merchants.account_id',
      ])
      .where('payouts.batch_id', '=', batchId)
      .orderBy('payouts.id')
      .execute();
    const total = rows.length;
    let done = rows.filter((row) => row.state !== 'pending').length;
    onProgress?.({ batchId, done, total });
    const pending = rows.filter((row) => row.state === 'pending');
    for (const chunk of chunksOf(pending, chunkSize)) {
      const transfers: Transfer[] = chunk.map((row) => ({
        id: BigInt(row.transfer_id),
        debitAccountId: BigInt(row.account_id),
        creditAccountId: platformAccountIds.settlement,
        amount: BigInt(row.amount_micros),
        ledger: ledgers.usd,
        code: transferCodes.payout,
      }));
      const results = await ledger.createTransfers(transfers);
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
                amount: formatAmount(BigInt(row.amount_micros)),
                currency: payoutCurrency,
                ibanLast4: sealer.openIban(row.id, row.iban).slice(-4),
              },
              now: completedAtMs,
            });
          }
        }
      });
      done += chunk.length;
      onProgress?.({ batchId, done, total });
    }
    await completeBatch(batchId);
  }

  /** Writes the bank files of the paid payouts into the batch and closes it, once. */
  async function completeBatch(batchId: string): Promise<void> {
    const payouts = await db
      .selectFrom('payouts')
      .selectAll()
      .where('batch_id', '=', batchId)
      .orderBy('id')
      .execute();
    if (payouts.some((payout) => payout.state === 'pending')) {
      throw new Error(`bug: payout batch ${batchId} still has pending payouts`);
    }
    const paid = payouts.filter((payout) => payout.state === 'paid');
    const now = clock();
    const update =
      paid.length === 0
        ? { state: 'failed' as const, total_micros: '0', count: 0 }
        : bankFilesFor(batchId, now, paid);
    // A concurrent resume of the same batch may have closed it first: its files stand.
    await db
      .updateTable('payout_batches')
      .set({ ...update, completed_at: BigInt(now) })
      .where('id', '=', batchId)
      .where('state', '=', 'building')
      .execute();
  }

  function bankFilesFor(batchId: string, nowMs: number, paid: readonly PayoutRow[]) {
    const input: BankFileInput = {
      batchId,
      createdAtMs: nowMs,
      currency: payoutCurrency,
      debtor,
      payouts: paid.map((payout) => ({
        payoutId: payout.id,
        merchantId: payout.merchant_id,
        ...sealer.open({ payoutId: payout.id }, payout),
        amountMicros: BigInt(payout.amount_micros),
      })),
    };
    const total = input.payouts.reduce((sum, payout) => sum + payout.amountMicros, 0n);
    return {
      state: 'paid' as const,
      total_micros: total.toString(),
      count: paid.length,
      file_xml: sealer.sealFile(batchId, 'file_xml', pain001Xml(input)),
      file_csv: sealer.sealFile(batchId, 'file_csv', payoutsCsv(input)),
    };
  }

  async function getBatch(batchId: string): Promise<PayoutBatch | undefined> {
    const row = await db
      .selectFrom('payout_batches')
      .selectAll()
      .where('id', '=', batchId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const payouts = await db
      .selectFrom('payouts')
      .selectAll()
      .where('batch_id', '=', batchId)
      .orderBy('id')
      .execute();
    return {
      ...summaryOf(row, row.file_xml !== null),
      payouts: payouts.map((payout) => payoutOf(payout, sealer)),
    };
  }

  /** Batches, newest first; `beforeBatchId` continues after the last one of a previous page. */
  async function listBatches(
    options: { limit: number; beforeBatchId?: string } = { limit: 20 },
  ): Promise<PayoutBatchSummary[]> {
    let query = db
      .selectFrom('payout_batches')
      .select(['id', 'state', 'created_at', 'completed_at', 'total_micros', 'count'])
      .select((eb) => eb('file_xml', 'is not', null).as('has_files'))
      .orderBy('id', 'desc')
      .limit(options.limit);
    if (options.beforeBatchId !== undefined) {
      query = query.where('id', '<', options.beforeBatchId);
    }
    const rows = await query.execute();
    return rows.map((row) => summaryOf(row, Boolean(row.has_files)));
  }

  async function getBankFile(
    batchId: string,
    format: BankFileFormat,
  ): Promise<Result<string, 'batchNotFound' | 'noBankFile'>> {
    const row = await db
      .selectFrom('payout_batches')
      .select(['state', 'file_xml', 'file_csv'])
      .where('id', '=', batchId)
      .executeTakeFirst();
    if (row === undefined) return fail('batchNotFound');
    const column: BankFileColumn = format === 'xml' ? 'file_xml' : 'file_csv';
    const file = row[column];
    if (file === null) {
      return fail(
        'noBankFile',
        row.state === 'building'
          ? 'the batch is still being paid: its files are written when it completes'
          : 'no payout of this batch was paid, so it has no bank file',
      );
    }
    return ok(sealer.openFile(batchId, column, file));
  }

  /**
   * A batch with its bank files decrypted. A file whose encryption does not verify was altered
   * where it is stored: that is a finding of the reconciliation (in `problems`), not a crash.
   */
  async function openedBatch(
    batchId: string,
    problems: string[],
  ): Promise<PayoutBatchRow | undefined> {
    const sealed = await db
      .selectFrom('payout_batches')
      .selectAll()
      .where('id', '=', batchId)
      .executeTakeFirst();
    if (sealed === undefined) return undefined;
    const open = (column: BankFileColumn, name: string) => {
      const file = sealed[column];
      if (file === null) return null;
      try {
        return sealer.openFile(batchId, column, file);
      } catch {
        problems.push(`the ${name} file does not decrypt: it was altered where it is stored`);
        return null;
      }
    };
    return { ...sealed, file_xml: open('file_xml', 'XML'), file_csv: open('file_csv', 'CSV') };
  }

  /**
   * Checks a batch three ways: each payout against its ledger transfer (found by its fixed id)
   * and against the amounts in the pain.001 and CSV files as a bank would read them, and the
   * totals of all four. Every disagreement is listed.
   */
  async function reconciliationReport(
    batchId: string,
  ): Promise<Result<ReconciliationReport, 'batchNotFound'>> {
    const problems: string[] = [];
    const batch = await openedBatch(batchId, problems);
    if (batch === undefined) return fail('batchNotFound');
    const payouts = await db
      .selectFrom('payouts')
      .innerJoin('merchants', 'merchants.id', 'payouts.merchant_id')
      .selectAll('payouts')
      .select('merchants.account_id')
      .where('payouts.batch_id', '=', batchId)
      .orderBy('payouts.id')
      .execute();
    const transfers = new Map<bigint, TransferRecord>();
    for (const chunk of chunksOf(payouts, eventsPerCallMax)) {
      const found = await ledger.lookupTransfers(chunk.map((payout) => BigInt(payout.transfer_id)));
      for (const transfer of found) transfers.set(transfer.id, transfer);
    }
    const xml = readXmlAmounts(batch, problems);
    const csv = readCsvAmounts(batch, problems);

    const lines: ReconciliationLine[] = payouts.map((payout) => {
      const amount = BigInt(payout.amount_micros);
      const transfer = transfers.get(BigInt(payout.transfer_id));
      const inXml = xml.amounts.get(payout.id);
      const inCsv = csv.amounts.get(payout.id);
      xml.amounts.delete(payout.id);
      csv.amounts.delete(payout.id);
      const lineProblems: string[] = [];
      if (payout.state === 'pending') {
        lineProblems.push('still pending: its batch is building (a payout run resumes it)');
      } else if (payout.state === 'paid') {
        if (transfer === undefined) lineProblems.push('paid, but the ledger has no transfer');
        else lineProblems.push(...transferProblems(transfer, amount, BigInt(payout.account_id)));
        if (inXml === undefined) lineProblems.push('paid, but missing from the XML file');
        else if (inXml !== amount) lineProblems.push('the XML file has another amount');
        if (inCsv === undefined) lineProblems.push('paid, but missing from the CSV file');
        else if (inCsv !== amount) lineProblems.push('the CSV file has another amount');
      } else {
        if (transfer !== undefined) lineProblems.push('failed, but the ledger has its transfer');
        if (inXml !== undefined) lineProblems.push('failed, but in the XML file');
        if (inCsv !== undefined) lineProblems.push('failed, but in the CSV file');
      }
      return {
        payoutId: payout.id,
        merchantId: payout.merchant_id,
        state: payout.state,
        amountMicros: amount,
        transferId: BigInt(payout.transfer_id),
        ledgerAmountMicros: transfer?.amount ?? null,
        xmlAmountMicros: inXml ?? null,
        csvAmountMicros: inCsv ?? null,
        problems: lineProblems,
      };
    });
    for (const id of xml.amounts.keys()) problems.push(`the XML file pays ${id}, not in the batch`);
    for (const id of csv.amounts.keys()) problems.push(`the CSV file pays ${id}, not in the batch`);

    const paidLines = lines.filter((line) => line.state === 'paid');
    const sum = (values: readonly (bigint | null)[]) =>
      values.reduce<bigint>((total, value) => total + (value ?? 0n), 0n);
    const totals = {
      paidMicros: sum(paidLines.map((line) => line.amountMicros)),
      paidCount: paidLines.length,
      batchMicros: BigInt(batch.total_micros),
      ledgerMicros: sum(lines.map((line) => line.ledgerAmountMicros)),
      ledgerCount: lines.filter((line) => line.ledgerAmountMicros !== null).length,
      xmlMicros: xml.sumMicros,
      xmlControlSumMicros: xml.controlSumMicros,
      xmlCount: xml.count,
      csvMicros: csv.sumMicros,
      csvCount: csv.count,
    };
    if (batch.state === 'building') {
      problems.push('the batch is still building: a payout run resumes it');
    } else {
      if (totals.batchMicros !== totals.paidMicros || batch.count !== totals.paidCount) {
        problems.push("the batch's total or count differs from its paid payouts");
      }
      if (totals.ledgerMicros !== totals.paidMicros) {
        problems.push('the ledger moved a different total than was paid');
      }
      if (batch.state === 'paid') {
        if (totals.xmlMicros !== totals.paidMicros || totals.xmlCount !== totals.paidCount) {
          problems.push('the XML file totals differ from the paid payouts');
        }
        if (totals.csvMicros !== totals.paidMicros || totals.csvCount !== totals.paidCount) {
          problems.push('the CSV file totals differ from the paid payouts');
        }
      }
    }
    const matches = problems.length === 0 && lines.every((line) => line.problems.length === 0);
    return ok({ batchId, state: batch.state, lines, totals, problems, matches });
  }

  /** The XML file's amounts by EndToEndId, after checking its own sums and counts. */
  function readXmlAmounts(batch: PayoutBatchRow, problems: string[]) {
    const amounts = new Map<string, bigint>();
    const empty = { amounts, sumMicros: 0n, controlSumMicros: 0n, count: 0 };
    if (batch.file_xml === null) {
      if (batch.state === 'paid') problems.push('the batch is paid but has no XML file');
      return empty;
    }
    let file: ReturnType<typeof readPain001>;
    try {
      file = readPain001(batch.file_xml);
    } catch (error) {
      problems.push(`the XML file cannot be read: ${(error as Error).message}`);
      return empty;
    }
    let sumMicros = 0n;
    for (const transaction of file.transactions) {
      if (amounts.has(transaction.endToEndId)) {
        problems.push(`the XML file pays ${transaction.endToEndId} twice`);
      }
      amounts.set(transaction.endToEndId, transaction.amountMicros);
      sumMicros += transaction.amountMicros;
      if (transaction.currency !== payoutCurrency) {
        problems.push(`the XML file pays ${transaction.endToEndId} in ${transaction.currency}`);
      }
    }
    const count = file.transactions.length;
    if (file.messageId !== batch.id) problems.push('the XML file has another MsgId');
    if (file.groupCount !== count || file.paymentCount !== count) {
      problems.push('the XML file NbOfTxs differs from its transactions');
    }
    if (file.groupControlSumMicros !== sumMicros || file.paymentControlSumMicros !== sumMicros) {
      problems.push('the XML file CtrlSum differs from the sum of its amounts');
    }
    return { amounts, sumMicros, controlSumMicros: file.groupControlSumMicros, count };
  }

  /** The CSV file's amounts by payout id. */
  function readCsvAmounts(batch: PayoutBatchRow, problems: string[]) {
    const amounts = new Map<string, bigint>();
    if (batch.file_csv === null) {
      if (batch.state === 'paid') problems.push('the batch is paid but has no CSV file');
      return { amounts, sumMicros: 0n, count: 0 };
    }
    let sumMicros = 0n;
    let count = 0;
    try {
      const [, ...records] = parseCsv(batch.file_csv);
      for (const record of records) {
        const [payoutId = '', , , , , amount = '', currencyCode = ''] = record;
        const micros = microsOfBankAmount(amount);
        if (amounts.has(payoutId)) problems.push(`the CSV file pays ${payoutId} twice`);
        if (currencyCode !== payoutCurrency) {
          problems.push(`the CSV file pays ${payoutId} in ${currencyCode}`);
        }
        amounts.set(payoutId, micros);
        sumMicros += micros;
        count += 1;
      }
    } catch (error) {
      problems.push(`the CSV file cannot be read: ${(error as Error).message}`);
    }
    return { amounts, sumMicros, count };
  }

  return {
    setBankAccount,
    getBankAccount,
    /** Encrypts what older versions stored in the clear; run at start (once recorded, a no-op). */
    sealPlaintextBankDetails: () => sealPlaintextBankDetails(db, sealer, clock()),
    runPayouts,
    getBatch,
    listBatches,
    getBankFile,
    reconciliationReport,
  };
}

export type PayoutService = ReturnType<typeof createPayoutService>;

/** How a payout's ledger transfer differs from what the payout says; empty when it agrees. */
function transferProblems(
  transfer: TransferRecord,
  amountMicros: bigint,
  merchantAccountId: bigint,
): string[] {
  const problems: string[] = [];
  if (transfer.amount !== amountMicros) problems.push('the ledger transfer has another amount');
  if (transfer.debitAccountId !== merchantAccountId) {
    problems.push("the ledger transfer does not debit the merchant's account");
  }
  if (transfer.creditAccountId !== platformAccountIds.settlement) {
    problems.push('the ledger transfer does not credit the settlement account');
  }
  if (transfer.code !== transferCodes.payout) problems.push('the ledger transfer is not a payout');
  return problems;
}

type TransferOutcome = 'paid' | 'exceedsCredits' | 'accountClosed' | 'idAlreadyFailed';

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
