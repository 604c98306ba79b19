/**
 * Kysely's SqliteDialect over better-sqlite3, adjusted so that SQLite behaves like PostgreSQL where
 * the platform relies on it:
 * - int8 columns read as `bigint` (better-sqlite3 would return lossy numbers past 2^53), 32-bit
 *   `integer` columns as `number`, as postgres.js does;
 * - transactions start with BEGIN IMMEDIATE: a deferred transaction that reads then writes fails
 *   at once with SQLITE_BUSY when another connection wrote meanwhile, whatever busy_timeout says;
 * - migrations run inside a transaction (Kysely assumes SQLite has no transactional DDL; it has),
 *   so a crash or a failing migration leaves the schema as it was.
 */
import Database from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  SqliteAdapter,
  type SqliteDatabase,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  type SqliteStatement,
} from 'kysely';

/** How long a statement waits for another connection's write lock before failing. */
export const sqliteBusyTimeoutMs = 5_000;

/** Opens the file (or `:memory:`) with the pragmas the platform needs, as Kysely's dialect. */
export function createSqliteDialect(path: string): SqliteDialect {
  const database = new Database(path);
  try {
    database.pragma('journal_mode = WAL'); // stays "memory" for :memory:, which is fine
    database.pragma('synchronous = FULL'); // nothing is acknowledged before it is on disk
    database.pragma('foreign_keys = ON'); // off by default in SQLite
    database.pragma(`busy_timeout = ${sqliteBusyTimeoutMs}`);
  } catch (error) {
    database.close();
    throw error;
  }
  return new PlatformSqliteDialect({ database: withPortableIntegers(database) });
}

class PlatformSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

type Row = Record<string, unknown>;

const int32Max = 2n ** 31n - 1n;
const int32Min = -(2n ** 31n);

/** Prepared statements kept per connection; the API runs a few dozen distinct ones. */
export const preparedStatementsMax = 512;

/**
 * Kysely prepares every query it runs; preparing costs about as much as a small query, so
 * statements are kept by their SQL text (bounded, the oldest dropped first).
 */
function withPortableIntegers(database: Database.Database): SqliteDatabase {
  const prepared = new Map<string, SqliteStatement>();
  return {
    close: () => database.close(),
    prepare: (sql) => {
      const cached = prepared.get(sql);
      if (cached !== undefined) return cached;
      const statement = portableStatement(database.prepare(sql));
      if (prepared.size >= preparedStatementsMax) {
        const oldest = prepared.keys().next().value;
        if (oldest !== undefined) prepared.delete(oldest);
      }
      prepared.set(sql, statement);
      return statement;
    },
  };
}

/**
 * Reads every integer as bigint (safe integers), then turns back to numbers the columns declared
 * as 32-bit integers. Expressions have no declared type and stay bigint, like PostgreSQL's
 * count(*) and sum(), which are int8.
 */
function portableStatement(statement: Database.Statement<unknown[], unknown>): SqliteStatement {
  if (!statement.reader) return statement;
  statement.safeIntegers(true);
  const narrowColumns = statement
    .columns()
    .filter((column) => isNarrowIntegerType(column.type))
    .map((column) => column.name);
  if (narrowColumns.length === 0) return statement;
  const narrow = (row: unknown): Row => narrowRow(row as Row, narrowColumns);
  return {
    reader: true,
    all: (parameters) => statement.all(parameters).map(narrow),
    run: (parameters) => statement.run(parameters),
    iterate: function* (parameters) {
      for (const row of statement.iterate(parameters)) yield narrow(row);
    },
  };
}

/** INTEGER, INT, SMALLINT...: PostgreSQL's int2 and int4, which postgres.js reads as numbers. */
function isNarrowIntegerType(declaredType: string | null): boolean {
  if (declaredType === null) return false;
  const type = declaredType.toUpperCase();
  return type.includes('INT') && !type.includes('BIGINT') && !type.includes('INT8');
}

function narrowRow(row: Row, columns: readonly string[]): Row {
  for (const column of columns) {
    const value = row[column];
    if (typeof value !== 'bigint') continue;
    // PostgreSQL would have refused such a value in an integer column; never round it here.
    if (value > int32Max || value < int32Min) {
      throw new RangeError(`column ${column} holds ${value}, beyond a 32-bit integer`);
    }
    row[column] = Number(value);
  }
  return row;
}
