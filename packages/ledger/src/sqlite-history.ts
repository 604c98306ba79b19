import type Database from 'better-sqlite3';
import { historySide } from './sqlite-schema.ts';
import { toSqlU128 } from './sqlite-values.ts';
import {
  decodeTransferRecord,
  decodeTransferRecords,
  transferRecordSize,
} from './transfer-records.ts';
import type { AccountFilter, TransferRecord } from './types.ts';

/** Blocks indexed per step when the engine is idle: a step blocks the event loop briefly. */
export const historyBlocksPerIdleStep = 32;

const timestampMax = (1n << 63n) - 1n;

/**
 * Account history, derived from the transfer blocks off the hot path: indexing two entries per
 * transfer inside every batch would double what a durable batch writes. It is caught up when
 * the engine is idle and, fully, before every history query, so a query never misses a
 * committed transfer.
 */
export class SqliteHistory {
  private through: bigint;
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    this.statements = {
      through: db.prepare("SELECT value FROM meta WHERE key = 'history_through'"),
      setThrough: db.prepare("UPDATE meta SET value = ? WHERE key = 'history_through'"),
      blocksAfter: db.prepare(
        'SELECT first_timestamp, records FROM transfer_blocks WHERE first_timestamp > ? ORDER BY first_timestamp LIMIT ?',
      ),
      insert: db.prepare(
        'INSERT INTO account_history (account_id, timestamp, side, block, slot) VALUES (?, ?, ?, ?, ?)',
      ),
    };
    const row = this.statements.through.get() as { value: string } | undefined;
    this.through = BigInt(row?.value ?? '0');
  }

  /** Indexes up to `blocksMax` more blocks; says whether blocks remain unindexed. */
  catchUp(blocksMax: number): boolean {
    const s = this.statements;
    const blocks = s.blocksAfter.all(this.through, blocksMax) as {
      first_timestamp: bigint;
      records: Buffer;
    }[];
    const last = blocks[blocks.length - 1];
    if (last === undefined) return false;
    this.db.transaction(() => {
      for (const block of blocks) {
        decodeTransferRecords(block.records).forEach((t, slot) => {
          s.insert.run(
            toSqlU128(t.debitAccountId),
            t.timestamp,
            historySide.debit,
            block.first_timestamp,
            slot,
          );
          s.insert.run(
            toSqlU128(t.creditAccountId),
            t.timestamp,
            historySide.credit,
            block.first_timestamp,
            slot,
          );
        });
      }
      s.setThrough.run(String(last.first_timestamp));
    })();
    this.through = last.first_timestamp;
    return blocks.length === blocksMax;
  }

  query(filter: AccountFilter): TransferRecord[] {
    while (this.catchUp(historyBlocksPerIdleStep * 8)) {
      // Catch up fully: a query must see every committed transfer.
    }
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
