/**
 * Kysely's SqliteDialect over better-sqlite3, adjusted so that SQLite behaves like PostgreSQL where
 * the platform relies on it:
 * - int8 columns read as `bigint` (better-sqlite3 would return lossy numbers past 2^53), 32-bit
 *   `integer` columns as `number`, as postgres.js does;
 * - transactions start with BEGIN IMMEDIATE: a deferred transaction that reads then writes fails
 *   at once with SQLITE_BUSY when another connection wrote meanwhile, whatever busy_timeout says;
 * - commits are made durable by a group sync of the WAL off the main thread (wal-sync.ts) rather
 *   than by an fsync inside each COMMIT; every use of the connection waits for it before it
 *   returns, so nothing is acknowledged, or read, before it is on disk;
 * - migrations run inside a transaction (Kysely assumes SQLite has no transactional DDL; it has),
 *   so a crash or a failing migration leaves the schema as it was.
 */
import Database from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type QueryCompiler,
  type QueryResult,
  SelectQueryNode,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
} from 'kysely';
import { startWalCheckpointer, type WalCheckpointer } from './wal-checkpointer.ts';
import { createWalSync, type SyncFile, type WalSync } from './wal-sync.ts';
import { restrictSqliteFilesToOwner } from '@mite/ledger';

/** How long a statement waits for another connection's write lock before failing. */
export const sqliteBusyTimeoutMs = 5_000;

/** Prepared statements kept per connection; the API runs a few dozen distinct ones. */
export const preparedStatementsMax = 512;

/** The platform's SQLite dialect, with the durability wait it puts on every release. */
export interface PlatformSqliteDialect extends SqliteDialect {
  /** Resolves when every commit made so far is on disk. */
  waitDurable(): Promise<void>;
  /**
   * Called inside a transaction: its release will not wait for durability, because the caller
   * takes that wait over (`waitDurable`), for instance to answer some of a batch's units at commit
   * and the rest once synced. There is one connection, so "the transaction" is unambiguous.
   */
  deferDurableWait(): void;
}

/**
 * Opens the file (or `:memory:`) with the pragmas the platform needs, as Kysely's dialect.
 * `syncFile` replaces fsync in tests that count or fail syncs.
 */
export function createSqliteDialect(path: string, syncFile?: SyncFile): PlatformSqliteDialect {
  restrictSqliteFilesToOwner(path);
  const database = new Database(path);
  const inMemory = path === ':memory:' || path === '';
  try {
    database.pragma('journal_mode = WAL'); // stays "memory" for :memory:, which is fine
    // NORMAL: COMMIT does not fsync; wal-sync.ts syncs the WAL, once for many commits.
    database.pragma(`synchronous = ${inMemory ? 'FULL' : 'NORMAL'}`);
    database.pragma('foreign_keys = ON'); // off by default in SQLite
    database.pragma(`busy_timeout = ${sqliteBusyTimeoutMs}`);
  } catch (error) {
    database.close();
    throw error;
  }
  const walSync = inMemory ? undefined : createWalSync(path, syncFile);
  // A file's checkpoints run on a worker thread; an in-memory database has no WAL to checkpoint.
  const driver = new PlatformSqliteDriver(database, walSync, inMemory ? undefined : path);
  return new DurableSqliteDialect(driver, walSync);
}

class DurableSqliteDialect extends SqliteDialect implements PlatformSqliteDialect {
  readonly #driver: PlatformSqliteDriver;
  readonly #walSync: WalSync | undefined;

  constructor(driver: PlatformSqliteDriver, walSync: WalSync | undefined) {
    // The base class's config is unused: createDriver below replaces its driver.
    super({} as SqliteDialectConfig);
    this.#driver = driver;
    this.#walSync = walSync;
  }

  async waitDurable(): Promise<void> {
    await this.#walSync?.waitDurable();
  }

  deferDurableWait(): void {
    this.#driver.deferDurableWait();
  }

  override createDriver(): Driver {
    return this.#driver;
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/**
 * Kysely's SQLite driver, with four changes: transactions BEGIN IMMEDIATE; waiters for the one
 * connection queue in order (Kysely's mutex wakes every waiter at each release, which costs
 * O(waiters^2) under load); releasing the connection waits until its commits are durable; and
 * checkpoints run on another thread (wal-checkpointer.ts).
 */
class PlatformSqliteDriver implements Driver {
  readonly #database: Database.Database;
  readonly #walSync: WalSync | undefined;
  readonly #connection: PlatformSqliteConnection;
  readonly #queue = new FifoLock();
  readonly #checkpointer: WalCheckpointer | undefined;

  constructor(database: Database.Database, walSync: WalSync | undefined, path?: string) {
    this.#database = database;
    this.#walSync = walSync;
    this.#connection = new PlatformSqliteConnection(database, walSync);
    this.#checkpointer =
      path === undefined
        ? undefined
        : startWalCheckpointer(database, path, {
            whileNoTransaction: (work) => this.#whileNoTransaction(work),
          });
  }

  async init(): Promise<void> {}

  deferDurableWait(): void {
    this.#connection.deferDurableWait();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#queue.acquire();
    return this.#connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async savepoint(
    connection: DatabaseConnection,
    name: string,
    _compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quoteName(name)}`));
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    _compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to ${quoteName(name)}`));
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    _compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release ${quoteName(name)}`));
  }

  /**
   * Lets the next caller in first, then waits for durability: the next caller's queries run
   * while this one's commits are being synced, and both are covered by as few fsyncs as can be.
   * A reader waits too, so that it never answers with a write that is not on disk yet.
   */
  async releaseConnection(): Promise<void> {
    const skipWait = this.#connection.takeSkipDurableWait();
    this.#queue.release();
    if (!skipWait) await this.#walSync?.waitDurable();
  }

  /** Takes the connection like a query (so no transaction is open) while `work` runs. */
  #whileNoTransaction(work: () => Promise<void>): void {
    void this.#queue.acquire().then(async () => {
      try {
        await work();
      } catch {
        // The checkpointer falls back on its own; the connection must be handed on regardless.
      } finally {
        this.#queue.release();
      }
    });
  }

  async destroy(): Promise<void> {
    // The checkpointer's connection goes first: closing the last connection checkpoints the
    // whole WAL and removes it.
    await this.#checkpointer?.close();
    await this.#walSync?.close();
    if (this.#database.open) this.#database.close();
  }
}

function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A queue for the one connection: each release hands it to the longest waiter. */
class FifoLock {
  #held = false;
  readonly #waiters: (() => void)[] = [];
  #head = 0;

  acquire(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    if (this.#head < this.#waiters.length) {
      const next = this.#waiters[this.#head];
      this.#waiters[this.#head++] = noop;
      if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) {
        this.#waiters.splice(0, this.#head);
        this.#head = 0;
      }
      next?.(); // still held: ownership passes to the waiter
      return;
    }
    this.#waiters.length = 0;
    this.#head = 0;
    this.#held = false;
  }
}

function noop(): void {}

type Row = Record<string, unknown>;

interface CachedStatement {
  readonly statement: Database.Statement<unknown[], unknown>;
  /** Columns declared as 32-bit integers, read back as numbers. */
  readonly narrowColumns: readonly string[];
}

class PlatformSqliteConnection implements DatabaseConnection {
  readonly #database: Database.Database;
  readonly #walSync: WalSync | undefined;
  /** Kept by SQL text, the oldest dropped first: Kysely prepares every query it runs. */
  readonly #prepared = new Map<string, CachedStatement>();
  /** Whether the open transaction (or the statement just run) wrote anything. */
  #wrote = false;
  /** Whether the next release skips the durable wait (deferDurableWait was called). */
  #skipDurableWait = false;

  constructor(database: Database.Database, walSync: WalSync | undefined) {
    this.#database = database;
    this.#walSync = walSync;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { statement, narrowColumns } = this.#prepare(compiledQuery.sql);
    const parameters = compiledQuery.parameters as unknown[];
    try {
      if (statement.reader) {
        const rows = statement.all(parameters) as Row[];
        return { rows: narrowRows(rows, narrowColumns) as R[] };
      }
      const { changes, lastInsertRowid } = statement.run(parameters);
      return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    } finally {
      this.#noteWrite(statement.readonly);
    }
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(compiledQuery.query)) {
      throw new Error('the SQLite driver streams select queries only');
    }
    const { statement, narrowColumns } = this.#prepare(compiledQuery.sql);
    for (const row of statement.iterate(compiledQuery.parameters as unknown[])) {
      yield { rows: narrowRows([row as Row], narrowColumns) as R[] };
    }
  }

  deferDurableWait(): void {
    if (!this.#database.inTransaction) {
      throw new Error('bug: deferDurableWait is called inside a transaction');
    }
    this.#skipDurableWait = true;
  }

  takeSkipDurableWait(): boolean {
    const skip = this.#skipDurableWait;
    this.#skipDurableWait = false;
    return skip;
  }

  /** A commit (or autocommit) that follows a write is one more commit to make durable. */
  #noteWrite(readonly: boolean): void {
    if (!readonly) this.#wrote = true;
    if (this.#wrote && !this.#database.inTransaction) {
      this.#wrote = false;
      this.#walSync?.noteCommit();
    }
  }

  #prepare(sql: string): CachedStatement {
    const cached = this.#prepared.get(sql);
    if (cached !== undefined) return cached;
    const statement = this.#database.prepare(sql);
    let narrowColumns: string[] = [];
    if (statement.reader) {
      statement.safeIntegers(true);
      narrowColumns = statement
        .columns()
        .filter((column) => isNarrowIntegerType(column.type))
        .map((column) => column.name);
    }
    if (this.#prepared.size >= preparedStatementsMax) {
      const oldest = this.#prepared.keys().next().value;
      if (oldest !== undefined) this.#prepared.delete(oldest);
    }
    const entry = { statement, narrowColumns };
    this.#prepared.set(sql, entry);
    return entry;
  }
}

const int32Max = 2n ** 31n - 1n;
const int32Min = -(2n ** 31n);

/** INTEGER, INT, SMALLINT...: PostgreSQL's int2 and int4, which postgres.js reads as numbers. */
function isNarrowIntegerType(declaredType: string | null): boolean {
  if (declaredType === null) return false;
  const type = declaredType.toUpperCase();
  return type.includes('INT') && !type.includes('BIGINT') && !type.includes('INT8');
}

/**
 * Every integer is read as bigint (safe integers); the columns declared as 32-bit integers turn
 * back to numbers. Expressions have no declared type and stay bigint, like PostgreSQL's count(*)
 * and sum(), which are int8.
 */
function narrowRows(rows: Row[], columns: readonly string[]): Row[] {
  if (columns.length === 0) return rows;
  for (const row of rows) {
    for (const column of columns) {
      const value = row[column];
      if (typeof value !== 'bigint') continue;
      // PostgreSQL would have refused such a value in an integer column; never round it here.
      if (value > int32Max || value < int32Min) {
        throw new RangeError(`column ${column} holds ${value}, beyond a 32-bit integer`);
      }
      row[column] = Number(value);
    }
  }
  return rows;
}
