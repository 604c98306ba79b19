import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { restrictSqliteFilesToOwner } from './owner-only-files.ts';
import { acquireLockFile, type LockFile } from './lock-file.ts';
import {
  historyBlocksPerIdleStep,
  historyBlocksPerQueryStep,
  SqliteHistory,
} from './sqlite-history.ts';
import { sqliteSchema, sqliteSchemaVersion } from './sqlite-schema.ts';
import { fromSqlU128, type SqlU128, toSqlU128 } from './sqlite-values.ts';
import { encodeWrites } from './sqlite-writer.ts';
import { inThreadWriter, type WriterChannel, workerWriter } from './sqlite-writer-channel.ts';
import {
  type BatchReads,
  type BatchWrites,
  decodeAccountFlags,
  type LedgerStorage,
  type OpenPending,
  pendingStatusCodes,
  pendingStatusFromCode,
  type StoredState,
} from '../storage.ts';
import {
  decodeTransferRecord,
  decodeTransferRecords,
  transferRecordSize,
} from '../transfer-records.ts';
import type { AccountFilter, AccountRecord, PendingStatus, TransferRecord } from '../types.ts';

/** Blocks per chunk when verification scans every transfer. */
const scanBlocksPerChunk = 256;
/** How long a connection waits for a lock held by a reader (a `mite verify` in another process). */
const busyTimeoutMs = 5_000;

interface AccountRow {
  id: SqlU128;
  ledger: bigint;
  code: bigint;
  flags: bigint;
  user_data: SqlU128;
  debits_pending: SqlU128;
  debits_posted: SqlU128;
  credits_pending: SqlU128;
  credits_posted: SqlU128;
  timestamp: bigint;
}

/** The record of a transfer found by id, cut out of its block. */
const recordById = `
  SELECT substr(b.records, i.slot * ${transferRecordSize} + 1, ${transferRecordSize}) AS record
  FROM transfer_ids i JOIN transfer_blocks b ON b.first_timestamp = i.block`;

/**
 * The embedded store: better-sqlite3 in WAL mode with synchronous=FULL, so a committed batch
 * survives power loss. One process writes a file at a time (a lock file next to it says which);
 * in it, one writer thread writes (sqlite-writer-worker.ts) and this thread reads, which WAL
 * lets happen at once.
 */
export function openSqliteStorage(location: string): LedgerStorage {
  const memory = location === ':memory:';
  if (!memory) fs.mkdirSync(path.dirname(path.resolve(location)), { recursive: true });
  const lock = memory ? undefined : acquireLockFile(`${path.resolve(location)}.lock`);
  try {
    restrictSqliteFilesToOwner(location);
    const db = new Database(location);
    db.defaultSafeIntegers(true);
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    if (!memory) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    migrate(db);
    const writer = memory
      ? inThreadWriter(db)
      : workerWriter(path.resolve(location), busyTimeoutMs);
    return new SqliteStorage(db, writer, lock);
  } catch (error) {
    lock?.release();
    throw error;
  }
}

function migrate(db: Database.Database): void {
  const hasMeta = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'")
    .get();
  if (hasMeta === undefined) {
    db.transaction(() => {
      db.exec(sqliteSchema);
      db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(
        String(sqliteSchemaVersion),
      );
    }).immediate();
    return;
  }
  const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as
    { value: string } | undefined;
  if (row?.value !== String(sqliteSchemaVersion)) {
    throw new Error(
      `the ledger store has schema version ${row?.value ?? 'none'}; this Mite expects ${sqliteSchemaVersion}`,
    );
  }
}

class SqliteStorage implements LedgerStorage {
  readonly kind = 'sqlite';
  private readonly statements;
  private readonly history: SqliteHistory;

  constructor(
    private readonly db: Database.Database,
    private readonly writer: WriterChannel,
    private readonly lock: LockFile | undefined,
  ) {
    this.statements = prepareStatements(db);
    this.history = new SqliteHistory(db);
  }

  async load(): Promise<StoredState> {
    // The engine loads only with no write under way: a failed write is forgotten here.
    await this.writer.reset();
    const s = this.statements;
    const accounts = (s.allAccounts.all() as AccountRow[]).map(accountFromRow);
    const openPendings: OpenPending[] = (
      s.openPendings.all() as { record: Buffer; expires_at: bigint }[]
    ).map((row) => ({ transfer: decodeTransferRecord(row.record), expiresAt: row.expires_at }));
    const lastAccount = (s.lastAccountTimestamp.get() as { last: bigint | null }).last ?? 0n;
    const lastBlock = s.lastBlock.get() as { records: Buffer } | undefined;
    const lastTransfer =
      lastBlock === undefined ? 0n : decodeTransferRecords(lastBlock.records).at(-1)?.timestamp;
    const ids = s.maxTransferId.get() as { transfers: unknown; failed: unknown };
    const maxOf = (a: bigint, b: bigint) => (a > b ? a : b);
    return {
      accounts,
      openPendings,
      lastTimestamp: maxOf(lastAccount, lastTransfer ?? 0n),
      maxTransferId: maxOf(
        ids.transfers === null ? 0n : fromSqlU128(ids.transfers),
        ids.failed === null ? 0n : fromSqlU128(ids.failed),
      ),
    };
  }

  async read(ids: readonly bigint[]): Promise<BatchReads> {
    const s = this.statements;
    const reads: BatchReads = {
      transfers: new Map(),
      pendingStatuses: new Map(),
      failedIds: new Set(),
    };
    for (const id of ids) {
      const key = toSqlU128(id);
      const row = s.transferById.get(key) as { record: Buffer; status: bigint | null } | undefined;
      if (row !== undefined) {
        reads.transfers.set(id, decodeTransferRecord(row.record));
        if (row.status !== null)
          reads.pendingStatuses.set(id, pendingStatusFromCode(Number(row.status)));
      } else if (s.failedById.get(key) !== undefined) {
        reads.failedIds.add(id);
      }
    }
    return reads;
  }

  write(writes: BatchWrites): Promise<void> {
    return this.writer.write(encodeWrites(writes));
  }

  async idle(): Promise<boolean> {
    return this.writer.catchUpHistory(historyBlocksPerIdleStep);
  }

  async lookupTransfers(ids: readonly bigint[]): Promise<TransferRecord[]> {
    const found: TransferRecord[] = [];
    for (const id of ids) {
      const row = this.statements.transferById.get(toSqlU128(id)) as { record: Buffer } | undefined;
      if (row !== undefined) found.push(decodeTransferRecord(row.record));
    }
    return found;
  }

  async getAccountTransfers(filter: AccountFilter): Promise<TransferRecord[]> {
    // A query must see every committed transfer: index whatever the writer has not yet.
    while (await this.writer.catchUpHistory(historyBlocksPerQueryStep)) {
      // Each step is one transaction on the writer thread.
    }
    return this.history.query(filter);
  }

  async scanAccounts(): Promise<AccountRecord[]> {
    return (this.statements.allAccounts.all() as AccountRow[]).map(accountFromRow);
  }

  async *scanTransfers(): AsyncIterable<TransferRecord[]> {
    let after = -1n;
    for (;;) {
      const blocks = this.statements.blocksAfter.all(after, scanBlocksPerChunk) as {
        first_timestamp: bigint;
        records: Buffer;
      }[];
      const last = blocks[blocks.length - 1];
      if (last === undefined) return;
      yield blocks.flatMap((block) => decodeTransferRecords(block.records));
      after = last.first_timestamp;
    }
  }

  async scanPendingStatuses(): Promise<Map<bigint, PendingStatus>> {
    const rows = this.statements.allPendings.all() as { id: unknown; status: bigint }[];
    return new Map(
      rows.map((row) => [fromSqlU128(row.id), pendingStatusFromCode(Number(row.status))]),
    );
  }

  async close(): Promise<void> {
    await this.writer.close();
    if (this.db.open) this.db.close();
    this.lock?.release();
  }
}

function prepareStatements(db: Database.Database) {
  return {
    allAccounts: db.prepare('SELECT * FROM accounts ORDER BY timestamp'),
    openPendings: db.prepare(
      `${recordById.replace('SELECT', 'SELECT p.expires_at,')}
       JOIN pending_transfers p ON p.id = i.id WHERE p.status = ${pendingStatusCodes.pending}`,
    ),
    lastAccountTimestamp: db.prepare('SELECT max(timestamp) AS last FROM accounts'),
    lastBlock: db.prepare(
      'SELECT records FROM transfer_blocks ORDER BY first_timestamp DESC LIMIT 1',
    ),
    maxTransferId: db.prepare(
      'SELECT (SELECT max(id) FROM transfer_ids) AS transfers, (SELECT max(id) FROM failed_transfers) AS failed',
    ),
    transferById: db.prepare(
      `${recordById.replace('SELECT', 'SELECT p.status,')}
       LEFT JOIN pending_transfers p ON p.id = i.id WHERE i.id = ?`,
    ),
    failedById: db.prepare('SELECT 1 FROM failed_transfers WHERE id = ?'),
    blocksAfter: db.prepare(
      'SELECT first_timestamp, records FROM transfer_blocks WHERE first_timestamp > ? ORDER BY first_timestamp LIMIT ?',
    ),
    allPendings: db.prepare('SELECT id, status FROM pending_transfers'),
  };
}

function accountFromRow(row: AccountRow): AccountRecord {
  return {
    id: fromSqlU128(row.id),
    ledger: Number(row.ledger),
    code: Number(row.code),
    flags: decodeAccountFlags(Number(row.flags)),
    userData: fromSqlU128(row.user_data),
    debitsPending: fromSqlU128(row.debits_pending),
    debitsPosted: fromSqlU128(row.debits_posted),
    creditsPending: fromSqlU128(row.credits_pending),
    creditsPosted: fromSqlU128(row.credits_posted),
    timestamp: BigInt(row.timestamp),
  };
}
