import type { Kysely } from 'kysely';
import { uuidv7 } from 'uuidv7';
import { currency } from '@mite/protocol';
import { keysetPages, type ReadPage } from '../db/keyset-pages.ts';
import type {
  PayoutBatchRow,
  PayoutBatchState,
  PayoutRow,
  PayoutState,
  PlatformSchema,
} from '../db/schema.ts';
import { fail, ok, type Result } from '../result.ts';
import type { BankDetailsSealer, BankFileColumn } from './sealed-bank-details.ts';

/** The currency of payouts and bank files: the platform's. */
export const payoutCurrency = currency;

export type BankFileFormat = 'xml' | 'csv';

/**
 * Rows read per query when a batch is planned, executed and closed: merchants, payouts. A batch
 * is read a page at a time, so that no run holds a whole batch's rows in one query's result.
 */
export const payoutPageRowsDefault = 500;

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

/** What reading and writing batches needs: the database, and the key to their bank details. */
export interface PayoutStore {
  readonly db: Kysely<PlatformSchema>;
  readonly sealer: BankDetailsSealer;
}

/** `pb_` / `po_` + a uuidv7 without dashes: 35 characters, the most pain.001 ids may have. */
export function newPayoutId(prefix: 'pb' | 'po'): string {
  return `${prefix}_${uuidv7().replace(/-/g, '')}`;
}

export function chunksOf<T>(items: readonly T[], size: number): T[][] {
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
 * Batches as operators read them: one with its payouts (read a page of `pageRows` at a time), a
 * page of them, their bank files.
 */
export function createPayoutBatchReader({
  db,
  sealer,
  pageRows,
}: PayoutStore & { pageRows: number }) {
  async function getBatch(batchId: string): Promise<PayoutBatch | undefined> {
    const row = await db
      .selectFrom('payout_batches')
      .selectAll()
      .where('id', '=', batchId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const readPage: ReadPage<PayoutRow> = (afterId, limit) =>
      db
        .selectFrom('payouts')
        .selectAll()
        .where('batch_id', '=', batchId)
        .$if(afterId !== undefined, (query) => query.where('id', '>', afterId ?? ''))
        .orderBy('id')
        .limit(limit)
        .execute();
    const payouts: Payout[] = [];
    for await (const page of keysetPages(readPage, pageRows)) {
      for (const payout of page) payouts.push(payoutOf(payout, sealer));
    }
    return { ...summaryOf(row, row.file_xml !== null), payouts };
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

  return { getBatch, listBatches, getBankFile };
}
