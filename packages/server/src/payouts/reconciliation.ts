import { eventsPerCallMax, type Ledger, type TransferRecord } from '@mite/ledger';
import type { PayoutBatchRow, PayoutBatchState, PayoutRow, PayoutState } from '../db/schema.ts';
import { keysetPages, type ReadPage } from '../db/keyset-pages.ts';
import { platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import { fail, ok, type Result } from '../result.ts';
import { microsOfBankAmount, parseCsv, readPain001 } from './bank-file.ts';
import {
  type BankFileFormat,
  chunksOf,
  payoutCurrency,
  type PayoutStore,
} from './payout-batches.ts';
import type { BankFileColumn } from './sealed-bank-details.ts';

/**
 * What reconciliation can find wrong, as data: the words for each are made where the report is
 * shown (payout-routes.ts), from one table keyed by code.
 */
export type ReconciliationFinding =
  // About one payout.
  | { readonly code: 'payoutPending' }
  | { readonly code: 'paidWithoutTransfer' }
  | { readonly code: 'transferAmountDiffers' }
  | { readonly code: 'transferNotFromMerchant' }
  | { readonly code: 'transferNotToSettlement' }
  | { readonly code: 'transferNotPayout' }
  | { readonly code: 'paidMissingFromFile'; readonly file: BankFileFormat }
  | { readonly code: 'fileAmountDiffers'; readonly file: BankFileFormat }
  | { readonly code: 'failedWithTransfer' }
  | { readonly code: 'failedInFile'; readonly file: BankFileFormat }
  // About the batch and its files.
  | { readonly code: 'fileAltered'; readonly file: BankFileFormat }
  | { readonly code: 'fileMissing'; readonly file: BankFileFormat }
  | { readonly code: 'fileUnreadable'; readonly file: BankFileFormat; readonly reason: string }
  | { readonly code: 'filePaysTwice'; readonly file: BankFileFormat; readonly payoutId: string }
  | {
      readonly code: 'filePaysOutsideBatch';
      readonly file: BankFileFormat;
      readonly payoutId: string;
    }
  | {
      readonly code: 'fileCurrencyDiffers';
      readonly file: BankFileFormat;
      readonly payoutId: string;
      readonly currency: string;
    }
  | { readonly code: 'xmlMessageIdDiffers' }
  | { readonly code: 'xmlCountDiffers' }
  | { readonly code: 'xmlControlSumDiffers' }
  | { readonly code: 'fileTotalsDiffer'; readonly file: BankFileFormat }
  | { readonly code: 'batchBuilding' }
  | { readonly code: 'batchTotalsDiffer' }
  | { readonly code: 'ledgerTotalDiffers' };

export type ReconciliationFindingCode = ReconciliationFinding['code'];

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
  readonly findings: readonly ReconciliationFinding[];
}

export interface ReconciliationTotals {
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
}

export interface ReconciliationReport {
  readonly batchId: string;
  readonly state: PayoutBatchState;
  readonly lines: readonly ReconciliationLine[];
  readonly totals: ReconciliationTotals;
  /** Disagreements about the batch as a whole (its totals, its files). */
  readonly findings: readonly ReconciliationFinding[];
  /** True when every line and the batch reconcile. */
  readonly matches: boolean;
}

/** A bank file's amounts by payout id (EndToEndId), and its own totals. */
interface FileAmounts {
  readonly amounts: Map<string, bigint>;
  readonly sumMicros: bigint;
  readonly count: number;
}

type ReconciledPayout = PayoutRow & { readonly account_id: string };

export interface ReconciliationDeps extends PayoutStore {
  readonly ledger: Ledger;
  /** Payouts read per query (payoutPageRowsDefault). */
  readonly pageRows: number;
}

/**
 * Checks a batch three ways: each payout against its ledger transfer (found by its fixed id)
 * and against the amounts in the pain.001 and CSV files as a bank would read them, and the
 * totals of all four. Every disagreement is a finding. The payouts are read a page at a time.
 */
export function createReconciliation(deps: ReconciliationDeps) {
  const { db, sealer, ledger } = deps;

  async function reconciliationReport(
    batchId: string,
  ): Promise<Result<ReconciliationReport, 'batchNotFound'>> {
    const findings: ReconciliationFinding[] = [];
    const batch = await openedBatch(batchId, findings);
    if (batch === undefined) return fail('batchNotFound');
    const xml = readXmlAmounts(batch, findings);
    const csv = readCsvAmounts(batch, findings);
    const lines: ReconciliationLine[] = [];
    for await (const payouts of keysetPages(batchPayoutPage(batchId), deps.pageRows)) {
      const transfers = await transfersOf(payouts);
      for (const payout of payouts) {
        lines.push(lineOf(payout, transfers.get(BigInt(payout.transfer_id)), xml, csv));
        xml.amounts.delete(payout.id);
        csv.amounts.delete(payout.id);
      }
    }
    for (const [file, amounts] of [
      ['xml', xml.amounts],
      ['csv', csv.amounts],
    ] as const) {
      for (const payoutId of amounts.keys()) {
        findings.push({ code: 'filePaysOutsideBatch', file, payoutId });
      }
    }
    const totals = totalsOf(batch, lines, xml, csv);
    findings.push(...batchFindings(batch, totals));
    const matches = findings.length === 0 && lines.every((line) => line.findings.length === 0);
    return ok({ batchId, state: batch.state, lines, totals, findings, matches });
  }

  /** The batch's payouts with their merchants' accounts, by id, a page after `afterId`. */
  function batchPayoutPage(batchId: string): ReadPage<ReconciledPayout> {
    return (afterId, pageRows) =>
      db
        .selectFrom('payouts')
        .innerJoin('merchants', 'merchants.id', 'payouts.merchant_id')
        .selectAll('payouts')
        .select('merchants.account_id')
        .where('payouts.batch_id', '=', batchId)
        .$if(afterId !== undefined, (query) => query.where('payouts.id', '>', afterId ?? ''))
        .orderBy('payouts.id')
        .limit(pageRows)
        .execute();
  }

  /** The ledger transfers of the payouts, by id, asked for a ledger call's worth at a time. */
  async function transfersOf(payouts: readonly PayoutRow[]) {
    const transfers = new Map<bigint, TransferRecord>();
    for (const chunk of chunksOf(payouts, eventsPerCallMax)) {
      const found = await ledger.lookupTransfers(chunk.map((payout) => BigInt(payout.transfer_id)));
      for (const transfer of found) transfers.set(transfer.id, transfer);
    }
    return transfers;
  }

  /**
   * A batch with its bank files decrypted. A file whose encryption does not verify was altered
   * where it is stored: that is a finding of the reconciliation, not a crash.
   */
  async function openedBatch(
    batchId: string,
    findings: ReconciliationFinding[],
  ): Promise<PayoutBatchRow | undefined> {
    const sealed = await db
      .selectFrom('payout_batches')
      .selectAll()
      .where('id', '=', batchId)
      .executeTakeFirst();
    if (sealed === undefined) return undefined;
    const open = (column: BankFileColumn, file: BankFileFormat) => {
      const sealedFile = sealed[column];
      if (sealedFile === null) return null;
      try {
        return sealer.openFile(batchId, column, sealedFile);
      } catch {
        findings.push({ code: 'fileAltered', file });
        return null;
      }
    };
    return { ...sealed, file_xml: open('file_xml', 'xml'), file_csv: open('file_csv', 'csv') };
  }

  return { reconciliationReport };
}

/** One payout checked against its ledger transfer and both bank files. */
function lineOf(
  payout: ReconciledPayout,
  transfer: TransferRecord | undefined,
  xml: FileAmounts,
  csv: FileAmounts,
): ReconciliationLine {
  const amount = BigInt(payout.amount_micros);
  const inFile = { xml: xml.amounts.get(payout.id), csv: csv.amounts.get(payout.id) };
  const findings: ReconciliationFinding[] = [];
  if (payout.state === 'pending') {
    findings.push({ code: 'payoutPending' });
  } else if (payout.state === 'paid') {
    if (transfer === undefined) findings.push({ code: 'paidWithoutTransfer' });
    else findings.push(...transferFindings(transfer, amount, BigInt(payout.account_id)));
    for (const file of ['xml', 'csv'] as const) {
      const filed = inFile[file];
      if (filed === undefined) findings.push({ code: 'paidMissingFromFile', file });
      else if (filed !== amount) findings.push({ code: 'fileAmountDiffers', file });
    }
  } else {
    if (transfer !== undefined) findings.push({ code: 'failedWithTransfer' });
    for (const file of ['xml', 'csv'] as const) {
      if (inFile[file] !== undefined) findings.push({ code: 'failedInFile', file });
    }
  }
  return {
    payoutId: payout.id,
    merchantId: payout.merchant_id,
    state: payout.state,
    amountMicros: amount,
    transferId: BigInt(payout.transfer_id),
    ledgerAmountMicros: transfer?.amount ?? null,
    xmlAmountMicros: inFile.xml ?? null,
    csvAmountMicros: inFile.csv ?? null,
    findings,
  };
}

function totalsOf(
  batch: PayoutBatchRow,
  lines: readonly ReconciliationLine[],
  xml: FileAmounts & { readonly controlSumMicros: bigint },
  csv: FileAmounts,
): ReconciliationTotals {
  const paidLines = lines.filter((line) => line.state === 'paid');
  const sum = (values: readonly (bigint | null)[]) =>
    values.reduce<bigint>((total, value) => total + (value ?? 0n), 0n);
  return {
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
}

/** How the batch's totals disagree with its paid payouts, the ledger and the files. */
function batchFindings(
  batch: PayoutBatchRow,
  totals: ReconciliationTotals,
): ReconciliationFinding[] {
  if (batch.state === 'building') return [{ code: 'batchBuilding' }];
  const findings: ReconciliationFinding[] = [];
  if (totals.batchMicros !== totals.paidMicros || batch.count !== totals.paidCount) {
    findings.push({ code: 'batchTotalsDiffer' });
  }
  if (totals.ledgerMicros !== totals.paidMicros) findings.push({ code: 'ledgerTotalDiffers' });
  if (batch.state === 'paid') {
    if (totals.xmlMicros !== totals.paidMicros || totals.xmlCount !== totals.paidCount) {
      findings.push({ code: 'fileTotalsDiffer', file: 'xml' });
    }
    if (totals.csvMicros !== totals.paidMicros || totals.csvCount !== totals.paidCount) {
      findings.push({ code: 'fileTotalsDiffer', file: 'csv' });
    }
  }
  return findings;
}

/** How a payout's ledger transfer differs from what the payout says; empty when it agrees. */
export function transferFindings(
  transfer: TransferRecord,
  amountMicros: bigint,
  merchantAccountId: bigint,
): ReconciliationFinding[] {
  const findings: ReconciliationFinding[] = [];
  if (transfer.amount !== amountMicros) findings.push({ code: 'transferAmountDiffers' });
  if (transfer.debitAccountId !== merchantAccountId) {
    findings.push({ code: 'transferNotFromMerchant' });
  }
  if (transfer.creditAccountId !== platformAccountIds.settlement) {
    findings.push({ code: 'transferNotToSettlement' });
  }
  if (transfer.code !== transferCodes.payout) findings.push({ code: 'transferNotPayout' });
  return findings;
}

/** The XML file's amounts by EndToEndId, after checking its own sums and counts. */
function readXmlAmounts(batch: PayoutBatchRow, findings: ReconciliationFinding[]) {
  const amounts = new Map<string, bigint>();
  const empty = { amounts, sumMicros: 0n, controlSumMicros: 0n, count: 0 };
  if (batch.file_xml === null) {
    if (batch.state === 'paid') findings.push({ code: 'fileMissing', file: 'xml' });
    return empty;
  }
  let file: ReturnType<typeof readPain001>;
  try {
    file = readPain001(batch.file_xml);
  } catch (error) {
    findings.push({ code: 'fileUnreadable', file: 'xml', reason: (error as Error).message });
    return empty;
  }
  let sumMicros = 0n;
  for (const { endToEndId: payoutId, amountMicros, currency } of file.transactions) {
    if (amounts.has(payoutId)) findings.push({ code: 'filePaysTwice', file: 'xml', payoutId });
    amounts.set(payoutId, amountMicros);
    sumMicros += amountMicros;
    if (currency !== payoutCurrency) {
      findings.push({ code: 'fileCurrencyDiffers', file: 'xml', payoutId, currency });
    }
  }
  const count = file.transactions.length;
  if (file.messageId !== batch.id) findings.push({ code: 'xmlMessageIdDiffers' });
  if (file.groupCount !== count || file.paymentCount !== count) {
    findings.push({ code: 'xmlCountDiffers' });
  }
  if (file.groupControlSumMicros !== sumMicros || file.paymentControlSumMicros !== sumMicros) {
    findings.push({ code: 'xmlControlSumDiffers' });
  }
  return { amounts, sumMicros, controlSumMicros: file.groupControlSumMicros, count };
}

/** The CSV file's amounts by payout id. */
function readCsvAmounts(batch: PayoutBatchRow, findings: ReconciliationFinding[]): FileAmounts {
  const amounts = new Map<string, bigint>();
  if (batch.file_csv === null) {
    if (batch.state === 'paid') findings.push({ code: 'fileMissing', file: 'csv' });
    return { amounts, sumMicros: 0n, count: 0 };
  }
  let sumMicros = 0n;
  let count = 0;
  try {
    const [, ...records] = parseCsv(batch.file_csv);
    for (const record of records) {
      const [payoutId = '', , , , , amount = '', currency = ''] = record;
      const micros = microsOfBankAmount(amount);
      if (amounts.has(payoutId)) findings.push({ code: 'filePaysTwice', file: 'csv', payoutId });
      if (currency !== payoutCurrency) {
        findings.push({ code: 'fileCurrencyDiffers', file: 'csv', payoutId, currency });
      }
      amounts.set(payoutId, micros);
      sumMicros += micros;
      count += 1;
    }
  } catch (error) {
    findings.push({ code: 'fileUnreadable', file: 'csv', reason: (error as Error).message });
  }
  return { amounts, sumMicros, count };
}
