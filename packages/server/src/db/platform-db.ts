/**
 * The platform's relational database (users, sessions, merchants, keys, idempotency records; the
 * ledger has its own storage), on SQLite or PostgreSQL through Kysely. Opening migrates to the
 * latest schema; see schema.ts for the conventions both dialects share.
 */
import { type Dialect, Kysely, Migrator, type Migration } from 'kysely';
import { platformMigrations } from './migrations/index.ts';
import type { PlatformSchema } from './schema.ts';
import { createSqliteDialect } from './sqlite-dialect.ts';
import type { SyncFile } from './wal-sync.ts';

export type PlatformDialect = 'sqlite' | 'postgres';

export interface PlatformDb {
  readonly db: Kysely<PlatformSchema>;
  readonly dialect: PlatformDialect;
  /**
   * Resolves when every commit made so far is durable. Only needed after a transaction that
   * called deferDurableWait (SQLite); a PostgreSQL commit is durable when it returns.
   */
  waitDurable(): Promise<void>;
  /**
   * Inside a transaction: its end will not wait until it is durable, the caller waits with
   * `waitDurable` (the transaction batcher answers some units at commit). No-op on PostgreSQL.
   */
  deferDurableWait(): void;
  /** Closes every connection; safe to call more than once. */
  close(): Promise<void>;
}

export interface PlatformDbOptions {
  /** `sqlite:PATH`, `sqlite::memory:`, or `postgres://...` (also `postgresql://...`). */
  readonly url: string;
  /** Size of the PostgreSQL connection pool (ignored on SQLite, which has one connection). */
  readonly pgMaxConnections?: number;
  /** SQLite: replaces fsync of the WAL, for tests that hold or count syncs. */
  readonly sqliteSyncFile?: SyncFile;
}

/** Default size of the PostgreSQL connection pool. */
export const defaultPgMaxConnections = 10;

/** Where Kysely records applied migrations: named so as not to meet another migrator's tables. */
const migrationTableName = 'platform_migrations';
const migrationLockTableName = 'platform_migration_lock';

/** A migration failed; nothing of it was kept (both dialects run migrations in a transaction). */
export class PlatformMigrationError extends Error {
  override readonly name = 'PlatformMigrationError';
}

export async function openPlatformDb(options: PlatformDbOptions): Promise<PlatformDb> {
  const platformDb = await connectPlatformDb(options);
  try {
    await migratePlatformDb(platformDb.db);
  } catch (error) {
    await platformDb.close();
    throw error;
  }
  return platformDb;
}

/** Connects without migrating. */
async function connectPlatformDb(options: PlatformDbOptions): Promise<PlatformDb> {
  const { url } = options;
  if (url.startsWith('sqlite:')) {
    const dialect = createSqliteDialect(url.slice('sqlite:'.length), options.sqliteSyncFile);
    return wrap(new Kysely({ dialect }), 'sqlite', {
      waitDurable: () => dialect.waitDurable(),
      deferDurableWait: () => dialect.deferDurableWait(),
    });
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const maxConnections = options.pgMaxConnections ?? defaultPgMaxConnections;
    const dialect = await createPostgresDialect(url, maxConnections);
    return wrap(new Kysely({ dialect }), 'postgres', {
      waitDurable: async () => {},
      deferDurableWait: () => {},
    });
  }
  // Only the scheme: a PostgreSQL URL may carry a password.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '(none)';
  throw new Error(`unsupported platform database URL scheme ${scheme}: use sqlite: or postgres:`);
}

/** The PostgreSQL client is loaded only here: a SQLite platform never loads it (about 10 MB). */
async function createPostgresDialect(url: string, maxConnections: number): Promise<Dialect> {
  const [{ default: postgres }, { PostgresJSDialect }] = await Promise.all([
    import('postgres'),
    import('kysely-postgres-js'),
  ]);
  const sql = postgres(url, {
    // int8 columns (timestamps) come back as bigint, never as lossy numbers or strings.
    types: { bigint: postgres.BigInt },
    max: maxConnections,
    onnotice: () => {}, // "already exists, skipping" and the like: noise in structured logs
    connection: { application_name: 'mite-platform' },
  });
  return new PostgresJSDialect({ postgres: sql });
}

function wrap(
  db: Kysely<PlatformSchema>,
  dialect: PlatformDialect,
  durability: Pick<PlatformDb, 'waitDurable' | 'deferDurableWait'>,
): PlatformDb {
  let closing: Promise<void> | undefined;
  return { db, dialect, ...durability, close: () => (closing ??= db.destroy()) };
}

/**
 * Applies the migrations not applied yet, in name order, and returns their names. Concurrent
 * callers on one database are serialised (PostgreSQL: Kysely's advisory lock; SQLite: BEGIN
 * IMMEDIATE), so each migration runs once.
 */
export async function migratePlatformDb(
  db: Kysely<PlatformSchema>,
  migrations: Readonly<Record<string, Migration>> = platformMigrations,
): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve({ ...migrations }) },
    migrationTableName,
    migrationLockTableName,
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((result) => result.status === 'Error')?.migrationName;
    throw new PlatformMigrationError(`platform migration ${failed ?? '(setup)'} failed`, {
      cause: error,
    });
  }
  return results.map((result) => result.migrationName);
}
