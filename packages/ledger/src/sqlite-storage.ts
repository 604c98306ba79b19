import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { acquireLockFile, type LockFile } from './lock-file.ts';
import { sqliteSchema, sqliteSchemaVersion } from './sqlite-schema.ts';
import {
  type BatchReads,
  type BatchWrites,
  decodeAccountFlags,
  decodeTransferFlags,
  encodeAccountFlags,
  encodeTransferFlags,
  type LedgerStorage,
  type OpenPending,
  pendingStatusCodes,
  pendingStatusFromCode,
  type StoredState,
  u128FromBytes,
  u128ToBytes,
} from './storage.ts';
import {
  type AccountFilter,
  type AccountRecord,
  createTransferResults,
  type PendingStatus,
  type TransferRecord,
} from './types.ts';

/** Transfers per chunk when verification scans the whole table. */
const scanChunkSize = 10_000;
/** How long a connection waits for a lock held by a reader (a `mite verify` in another process). */
const busyTimeoutMs = 5_000;

interface TransferRow {
  id: Buffer;
  debit_account_id: Buffer;
  credit_account_id: Buffer;
  amount: Buffer;
  pending_id: Buffer | null;
  user_data: Buffer | null;
  ledger: number;
  code: number;
  flags: number;
  timeout: number;
  timestamp: bigint;
}

interface AccountRow {
  id: Buffer;
  ledger: number;
  code: number;
  flags: number;
  user_data: Buffer | null;
  debits_pending: Buffer;
  debits_posted: Buffer;
  credits_pending: Buffer;
  credits_posted: Buffer;
  timestamp: bigint;
}

const transferColumns =
  'id, debit_account_id, credit_account_id, amount, pending_id, user_data, ledger, code, flags, timeout, timestamp';

/**
 * The embedded store: better-sqlite3 in WAL mode with synchronous=FULL, so a committed batch
 * survives power loss. One process writes a file at a time (a lock file next to it says which).
 */
export function openSqliteStorage(location: string): LedgerStorage {
  const memory = location === ':memory:';
  if (!memory) fs.mkdirSync(path.dirname(path.resolve(location)), { recursive: true });
  const lock = memory ? undefined : acquireLockFile(`${path.resolve(location)}.lock`);
  try {
    const db = new Database(location);
    db.defaultSafeIntegers(true);
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    if (!memory) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    migrate(db);
    return new SqliteStorage(db, lock);
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
    | { value: string }
    | undefined;
  if (row?.value !== String(sqliteSchemaVersion)) {
    throw new Error(
      `the ledger store has schema version ${row?.value ?? 'none'}; this Mite expects ${sqliteSchemaVersion}`,
    );
  }
}

class SqliteStorage implements LedgerStorage {
  readonly kind = 'sqlite';
  private readonly statements;
  private readonly writeBatch: (writes: BatchWrites) => void;

  constructor(
    private readonly db: Database.Database,
    private readonly lock: LockFile | undefined,
  ) {
    this.statements = prepareStatements(db);
    this.writeBatch = db.transaction((writes: BatchWrites) => this.applyWrites(writes));
  }

  async load(): Promise<StoredState> {
    const s = this.statements;
    const accounts = (s.allAccounts.all() as AccountRow[]).map(accountFromRow);
    const openPendings: OpenPending[] = (
      s.openPendings.all() as (TransferRow & { expires_at: bigint })[]
    ).map((row) => ({ transfer: transferFromRow(row), expiresAt: row.expires_at }));
    const times = s.lastTimestamp.get() as { accounts: bigint | null; transfers: bigint | null };
    const ids = s.maxTransferId.get() as { transfers: Buffer | null; failed: Buffer | null };
    const maxOf = (a: bigint, b: bigint) => (a > b ? a : b);
    return {
      accounts,
      openPendings,
      lastTimestamp: maxOf(times.accounts ?? 0n, times.transfers ?? 0n),
      maxTransferId: maxOf(
        ids.transfers === null ? 0n : u128FromBytes(ids.transfers),
        ids.failed === null ? 0n : u128FromBytes(ids.failed),
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
      const key = u128ToBytes(id);
      const row = s.transferById.get(key) as (TransferRow & { status: bigint | null }) | undefined;
      if (row !== undefined) {
        reads.transfers.set(id, transferFromRow(row));
        if (row.status !== null)
          reads.pendingStatuses.set(id, pendingStatusFromCode(Number(row.status)));
      } else if (s.failedById.get(key) !== undefined) {
        reads.failedIds.add(id);
      }
    }
    return reads;
  }

  async write(writes: BatchWrites): Promise<void> {
    this.writeBatch(writes);
  }

  private applyWrites(writes: BatchWrites): void {
    const s = this.statements;
    for (const a of writes.accountsCreated) {
      s.insertAccount.run(
        u128ToBytes(a.id),
        a.ledger,
        a.code,
        encodeAccountFlags(a.flags),
        nullableU128(a.userData),
        u128ToBytes(a.debitsPending),
        u128ToBytes(a.debitsPosted),
        u128ToBytes(a.creditsPending),
        u128ToBytes(a.creditsPosted),
        a.timestamp,
      );
    }
    for (const a of writes.accountsUpdated) {
      s.updateAccount.run(
        u128ToBytes(a.debitsPending),
        u128ToBytes(a.debitsPosted),
        u128ToBytes(a.creditsPending),
        u128ToBytes(a.creditsPosted),
        u128ToBytes(a.id),
      );
    }
    for (const t of writes.transfersCreated) {
      s.insertTransfer.run(
        u128ToBytes(t.id),
        u128ToBytes(t.debitAccountId),
        u128ToBytes(t.creditAccountId),
        u128ToBytes(t.amount),
        nullableU128(t.pendingId),
        nullableU128(t.userData),
        t.ledger,
        t.code,
        encodeTransferFlags(t.flags),
        t.timeoutSeconds,
        t.timestamp,
      );
    }
    for (const f of writes.failedIds) {
      s.insertFailed.run(u128ToBytes(f.id), createTransferResults.indexOf(f.result));
    }
    for (const p of writes.pendingsCreated) {
      s.insertPending.run(u128ToBytes(p.id), pendingStatusCodes.pending, p.expiresAt);
    }
    for (const p of writes.pendingsResolved) {
      const changed = s.resolvePending.run(pendingStatusCodes[p.status], u128ToBytes(p.id));
      if (changed.changes !== 1) throw new Error(`bug: pending transfer ${p.id} has no status row`);
    }
  }

  async lookupTransfers(ids: readonly bigint[]): Promise<TransferRecord[]> {
    const found: TransferRecord[] = [];
    for (const id of ids) {
      const row = this.statements.transferById.get(u128ToBytes(id)) as TransferRow | undefined;
      if (row !== undefined) found.push(transferFromRow(row));
    }
    return found;
  }

  async getAccountTransfers(filter: AccountFilter): Promise<TransferRecord[]> {
    const neither = filter.debits === undefined && filter.credits === undefined;
    const debits = neither || filter.debits === true;
    const credits = neither || filter.credits === true;
    if (!debits && !credits) return [];
    const sides = [debits ? 'debit_account_id = @id' : '', credits ? 'credit_account_id = @id' : '']
      .filter((side) => side !== '')
      .join(' OR ');
    const order = filter.reversed === true ? 'DESC' : 'ASC';
    const rows = this.db
      .prepare(
        `SELECT ${transferColumns} FROM transfers WHERE (${sides})
         AND timestamp >= @min AND timestamp <= @max ORDER BY timestamp ${order} LIMIT @limit`,
      )
      .all({
        id: u128ToBytes(filter.accountId),
        min: filter.timestampMin ?? 0n,
        max: filter.timestampMax ?? (1n << 63n) - 1n,
        limit: filter.limit,
      }) as TransferRow[];
    return rows.map(transferFromRow);
  }

  async scanAccounts(): Promise<AccountRecord[]> {
    return (this.statements.allAccounts.all() as AccountRow[]).map(accountFromRow);
  }

  async *scanTransfers(): AsyncIterable<TransferRecord[]> {
    let after = -1n;
    for (;;) {
      const rows = this.statements.transfersAfter.all(after, scanChunkSize) as TransferRow[];
      const last = rows[rows.length - 1];
      if (last === undefined) return;
      yield rows.map(transferFromRow);
      after = last.timestamp;
    }
  }

  async scanPendingStatuses(): Promise<Map<bigint, PendingStatus>> {
    const rows = this.statements.allPendings.all() as { id: Buffer; status: bigint }[];
    return new Map(
      rows.map((row) => [u128FromBytes(row.id), pendingStatusFromCode(Number(row.status))]),
    );
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
    this.lock?.release();
  }
}

function prepareStatements(db: Database.Database) {
  return {
    allAccounts: db.prepare('SELECT * FROM accounts ORDER BY timestamp'),
    openPendings: db.prepare(
      `SELECT t.*, p.expires_at FROM pending_transfers p JOIN transfers t ON t.id = p.id
       WHERE p.status = ${pendingStatusCodes.pending}`,
    ),
    lastTimestamp: db.prepare(
      'SELECT (SELECT max(timestamp) FROM accounts) AS accounts, (SELECT max(timestamp) FROM transfers) AS transfers',
    ),
    maxTransferId: db.prepare(
      'SELECT (SELECT max(id) FROM transfers) AS transfers, (SELECT max(id) FROM failed_transfers) AS failed',
    ),
    transferById: db.prepare(
      `SELECT t.*, p.status FROM transfers t LEFT JOIN pending_transfers p ON p.id = t.id WHERE t.id = ?`,
    ),
    failedById: db.prepare('SELECT 1 FROM failed_transfers WHERE id = ?'),
    transfersAfter: db.prepare(
      `SELECT ${transferColumns} FROM transfers WHERE timestamp > ? ORDER BY timestamp LIMIT ?`,
    ),
    allPendings: db.prepare('SELECT id, status FROM pending_transfers'),
    insertAccount: db.prepare(
      `INSERT INTO accounts (id, ledger, code, flags, user_data, debits_pending, debits_posted,
       credits_pending, credits_posted, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateAccount: db.prepare(
      `UPDATE accounts SET debits_pending = ?, debits_posted = ?, credits_pending = ?,
       credits_posted = ? WHERE id = ?`,
    ),
    insertTransfer: db.prepare(
      `INSERT INTO transfers (${transferColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertFailed: db.prepare('INSERT INTO failed_transfers (id, result) VALUES (?, ?)'),
    insertPending: db.prepare(
      'INSERT INTO pending_transfers (id, status, expires_at) VALUES (?, ?, ?)',
    ),
    resolvePending: db.prepare('UPDATE pending_transfers SET status = ? WHERE id = ?'),
  };
}

function nullableU128(value: bigint): Buffer | null {
  return value === 0n ? null : u128ToBytes(value);
}

function optionalU128(bytes: Buffer | null): bigint {
  return bytes === null ? 0n : u128FromBytes(bytes);
}

function accountFromRow(row: AccountRow): AccountRecord {
  return {
    id: u128FromBytes(row.id),
    ledger: Number(row.ledger),
    code: Number(row.code),
    flags: decodeAccountFlags(Number(row.flags)),
    userData: optionalU128(row.user_data),
    debitsPending: u128FromBytes(row.debits_pending),
    debitsPosted: u128FromBytes(row.debits_posted),
    creditsPending: u128FromBytes(row.credits_pending),
    creditsPosted: u128FromBytes(row.credits_posted),
    timestamp: BigInt(row.timestamp),
  };
}

function transferFromRow(row: TransferRow): TransferRecord {
  return {
    id: u128FromBytes(row.id),
    debitAccountId: u128FromBytes(row.debit_account_id),
    creditAccountId: u128FromBytes(row.credit_account_id),
    amount: u128FromBytes(row.amount),
    ledger: Number(row.ledger),
    code: Number(row.code),
    flags: decodeTransferFlags(Number(row.flags)),
    pendingId: optionalU128(row.pending_id),
    timeoutSeconds: Number(row.timeout),
    userData: optionalU128(row.user_data),
    timestamp: BigInt(row.timestamp),
  };
}
