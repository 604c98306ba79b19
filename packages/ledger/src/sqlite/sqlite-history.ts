import type Database from 'better-sqlite3';
import { historySide } from './sqlite-schema.ts';
import { toSqlU128 } from './sqlite-values.ts';
import { decodeTransferRecord, transferRecordSize } from '../transfer-records.ts';
import type { AccountFilter, TransferRecord } from '../types.ts';

/** Blocks indexed per step when the engine is idle: one short transaction of the writer. */
export const historyBlocksPerIdleStep = 32;
/** Blocks indexed per step when a query needs the history complete. */
export const historyBlocksPerQueryStep = 256;

const timestampMax = (1n << 63n) - 1n;

/**
 * Queries of account history. The history is derived from the transfer blocks off the hot path
 * (sqlite-writer.ts catchUpHistory): indexing two entries per transfer inside every batch would
 * double what a durable batch writes. It is caught up when the engine is idle and, fully,
 * before every query, so a query never misses a committed transfer.
 */
export class SqliteHistory {
  constructor(private readonly db: Database.Database) {}

  query(filter: AccountFilter): TransferRecord[] {
    const neither = filter.debits === undefined && filter.credits === undefined;
    const sides: number[] = [];
    if (neither || filter.debits === true) sides.push(historySide.debit);
    if (neither || filter.credits === true) sides.push(historySide.credit);
    if (sides.length === 0) return [];
    const order = filter.reversed === true ? 'DESC' : 'ASC';
    const rows = this.db
      .prepare(
        `SELECT substr(b.records, h.slot * ${transferRecordSize} + 1, ${transferRecordSize}) AS record
         FROM account_history h JOIN transfer_blocks b ON b.first_timestamp = h.block
         WHERE h.account_id = ? AND h.timestamp BETWEEN ? AND ? AND h.side IN (${sides.join(', ')})
         ORDER BY h.timestamp ${order} LIMIT ?`,
      )
      .all(
        toSqlU128(filter.accountId),
        filter.timestampMin ?? 0n,
        filter.timestampMax ?? timestampMax,
        filter.limit,
      ) as { record: Buffer }[];
    return rows.map((row) => decodeTransferRecord(row.record));
  }
}
