import type Database from 'better-sqlite3';
import { historySide } from './sqlite-schema.ts';
import { toSqlU128 } from './sqlite-values.ts';
import { type BatchWrites, encodeAccountFlags, pendingStatusCodes } from '../storage.ts';
import {
  blockRecordsMax,
  decodeTransferRecords,
  encodeTransferRecords,
  getU128,
  setU128,
  transferRecordSize,
} from '../transfer-records.ts';
import { type AccountRecord, createTransferResults } from '../types.ts';

/** Rows per multi-row INSERT into transfer_ids: one statement call instead of a hundred. */
const idRowsPerInsert = 128;
/** Bytes per balance update: the account id and its four balances, each 16 bytes. */
const balanceRowSize = 80;

/**
 * A batch's writes in the form that crosses to the writer thread: the bulk of it (transfers,
 * balances) as binary buffers, which are moved rather than copied, and the rest as small arrays.
 */
export interface EncodedWrites {
  readonly transfers: Uint8Array;
  readonly balances: Uint8Array;
  readonly accountsCreated: readonly AccountRecord[];
  readonly failedIds: readonly { readonly id: bigint; readonly result: number }[];
  readonly pendingsCreated: BatchWrites['pendingsCreated'];
  readonly pendingsResolved: readonly { readonly id: bigint; readonly status: number }[];
}

export function encodeWrites(writes: BatchWrites): EncodedWrites {
  const balances = new Uint8Array(writes.accountsUpdated.length * balanceRowSize);
  const view = new DataView(balances.buffer);
  writes.accountsUpdated.forEach((a, index) => {
    const at = index * balanceRowSize;
    setU128(view, at, a.id);
    setU128(view, at + 16, a.debitsPending);
    setU128(view, at + 32, a.debitsPosted);
    setU128(view, at + 48, a.creditsPending);
    setU128(view, at + 64, a.creditsPosted);
  });
  return {
    transfers: encodeTransferRecords(writes.transfersCreated),
    balances,
    accountsCreated: writes.accountsCreated,
    failedIds: writes.failedIds.map((f) => ({
      id: f.id,
      result: createTransferResults.indexOf(f.result),
    })),
    pendingsCreated: writes.pendingsCreated,
    pendingsResolved: writes.pendingsResolved.map((p) => ({
      id: p.id,
      status: pendingStatusCodes[p.status],
    })),
  };
}

/** The buffers of encoded writes, to move to the writer thread instead of copying them. */
export function transferables(writes: EncodedWrites): ArrayBuffer[] {
  return [writes.transfers.buffer, writes.balances.buffer].filter(
    (buffer): buffer is ArrayBuffer => buffer instanceof ArrayBuffer && buffer.byteLength > 0,
  );
}

export interface SqliteWriter {
  /** Writes one batch in one transaction; throws, having written nothing, if it cannot. */
  write(writes: EncodedWrites): void;
  /** Indexes up to `blocksMax` more blocks into account_history; says whether more remain. */
  catchUpHistory(blocksMax: number): boolean;
}

/**
 * The only code that writes a SQLite ledger store, run on the writer thread (or on the main
 * thread for an in-memory store, which another thread cannot see).
 */
export function createSqliteWriter(db: Database.Database): SqliteWriter {
  const s = prepareWriteStatements(db);
  const write = db.transaction((writes: EncodedWrites) => {
    for (const a of writes.accountsCreated) {
      s.insertAccount.run(
        toSqlU128(a.id),
        a.ledger,
        a.code,
        encodeAccountFlags(a.flags),
        toSqlU128(a.userData),
        toSqlU128(a.debitsPending),
        toSqlU128(a.debitsPosted),
        toSqlU128(a.creditsPending),
        toSqlU128(a.creditsPosted),
        a.timestamp,
      );
    }
    updateBalances(s, writes.balances);
    writeTransfers(s, writes.transfers);
    for (const f of writes.failedIds) s.insertFailed.run(toSqlU128(f.id), f.result);
    for (const p of writes.pendingsCreated) {
      s.insertPending.run(toSqlU128(p.id), pendingStatusCodes.pending, p.expiresAt);
    }
    for (const p of writes.pendingsResolved) {
      const changed = s.resolvePending.run(p.status, toSqlU128(p.id));
      if (changed.changes !== 1) throw new Error(`bug: pending transfer ${p.id} has no status row`);
    }
  });
  let historyThrough = BigInt(
    (s.historyThrough.get() as { value: string } | undefined)?.value ?? '0',
  );
  const catchUp = db.transaction((blocks: { first_timestamp: bigint; records: Buffer }[]) => {
    for (const block of blocks) {
      decodeTransferRecords(block.records).forEach((t, slot) => {
        const at = block.first_timestamp;
        s.insertHistory.run(toSqlU128(t.debitAccountId), t.timestamp, historySide.debit, at, slot);
        s.insertHistory.run(
          toSqlU128(t.creditAccountId),
          t.timestamp,
          historySide.credit,
          at,
          slot,
        );
      });
    }
    const last = blocks[blocks.length - 1];
    if (last !== undefined) s.setHistoryThrough.run(String(last.first_timestamp));
  });
  return {
    write,
    catchUpHistory(blocksMax) {
      const blocks = s.blocksAfter.all(historyThrough, blocksMax) as {
        first_timestamp: bigint;
        records: Buffer;
      }[];
      const last = blocks[blocks.length - 1];
      if (last === undefined) return false;
      catchUp(blocks);
      historyThrough = last.first_timestamp;
      return blocks.length === blocksMax;
    },
  };
}

type WriteStatements = ReturnType<typeof prepareWriteStatements>;

/** One balance write per touched account (a prepared single-row UPDATE measured fastest). */
function updateBalances(s: WriteStatements, balances: Uint8Array): void {
  const view = new DataView(balances.buffer, balances.byteOffset, balances.byteLength);
  for (let at = 0; at < balances.byteLength; at += balanceRowSize) {
    s.updateAccount.run(
      toSqlU128(getU128(view, at + 16)),
      toSqlU128(getU128(view, at + 32)),
      toSqlU128(getU128(view, at + 48)),
      toSqlU128(getU128(view, at + 64)),
      toSqlU128(getU128(view, at)),
    );
  }
}

/** Stores packed transfers in blocks of blockRecordsMax records and indexes their ids. */
function writeTransfers(s: WriteStatements, records: Uint8Array): void {
  const bytes = Buffer.from(records.buffer, records.byteOffset, records.byteLength);
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  const blockBytes = blockRecordsMax * transferRecordSize;
  const idRows: unknown[] = [];
  for (let start = 0; start < bytes.byteLength; start += blockBytes) {
    const block = bytes.subarray(start, start + blockBytes);
    const firstTimestamp = view.getBigUint64(start + 96);
    s.insertBlock.run(firstTimestamp, block);
    for (let slot = 0; slot * transferRecordSize < block.byteLength; slot++) {
      idRows.push(
        toSqlU128(getU128(view, start + slot * transferRecordSize)),
        firstTimestamp,
        slot,
      );
    }
  }
  const chunk = idRowsPerInsert * 3;
  let at = 0;
  for (; at + chunk <= idRows.length; at += chunk) s.insertIds.run(...idRows.slice(at, at + chunk));
  for (; at < idRows.length; at += 3) s.insertId.run(...idRows.slice(at, at + 3));
}

function prepareWriteStatements(db: Database.Database) {
  return {
    insertAccount: db.prepare(
      `INSERT INTO accounts (id, ledger, code, flags, user_data, debits_pending, debits_posted,
       credits_pending, credits_posted, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateAccount: db.prepare(
      `UPDATE accounts SET debits_pending = ?, debits_posted = ?, credits_pending = ?,
       credits_posted = ? WHERE id = ?`,
    ),
    insertBlock: db.prepare('INSERT INTO transfer_blocks (first_timestamp, records) VALUES (?, ?)'),
    insertIds: db.prepare(
      `INSERT INTO transfer_ids (id, block, slot) VALUES ${Array(idRowsPerInsert).fill('(?, ?, ?)').join(', ')}`,
    ),
    insertId: db.prepare('INSERT INTO transfer_ids (id, block, slot) VALUES (?, ?, ?)'),
    insertFailed: db.prepare('INSERT INTO failed_transfers (id, result) VALUES (?, ?)'),
    insertPending: db.prepare(
      'INSERT INTO pending_transfers (id, status, expires_at) VALUES (?, ?, ?)',
    ),
    resolvePending: db.prepare('UPDATE pending_transfers SET status = ? WHERE id = ?'),
    historyThrough: db.prepare("SELECT value FROM meta WHERE key = 'history_through'"),
    setHistoryThrough: db.prepare("UPDATE meta SET value = ? WHERE key = 'history_through'"),
    blocksAfter: db.prepare(
      'SELECT first_timestamp, records FROM transfer_blocks WHERE first_timestamp > ? ORDER BY first_timestamp LIMIT ?',
    ),
    insertHistory: db.prepare(
      'INSERT INTO account_history (account_id, timestamp, side, block, slot) VALUES (?, ?, ?, ?, ?)',
    ),
  };
}
