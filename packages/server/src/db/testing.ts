/**
 * Test helpers: run a test on both dialects, each on a database of its own that closes after.
 * For tests only (it imports @mite/testkit, a dev dependency).
 */
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freshPgDatabase, tempDir } from '@mite/testkit';
import type { Kysely } from 'kysely';
import { openPlatformDb, type PlatformDb, type PlatformDialect } from './platform-db.ts';
import { preparedQuery } from './prepared-query.ts';
import type { PlatformSchema } from './schema.ts';

export const platformDialects: readonly PlatformDialect[] = ['sqlite', 'postgres'];

/**
 * A URL for a new, empty database: a file in a temporary directory (a real file, so WAL and a
 * second connection behave as in production), or a fresh PostgreSQL database. Undefined after
 * marking the test skipped when PostgreSQL is not installed (MITE_REQUIRE_PG=1 throws instead).
 */
export async function freshPlatformDbUrl(
  t: TestContext,
  dialect: PlatformDialect,
): Promise<string | undefined> {
  if (dialect === 'sqlite') return `sqlite:${join(tempDir('mite-platform-'), 'platform.db')}`;
  const url = await freshPgDatabase();
  if (url === undefined) t.skip('PostgreSQL is not installed (set MITE_REQUIRE_PG=1 to fail)');
  return url;
}

/** Opens a platform database at url, closed when the test ends. */
export async function openForTest(t: TestContext, url: string): Promise<PlatformDb> {
  const platformDb = await openPlatformDb({ url });
  t.after(() => platformDb.close());
  return platformDb;
}

/** A fresh, migrated platform database of the given dialect, closed when the test ends. */
export async function freshPlatformDb(
  t: TestContext,
  dialect: PlatformDialect,
): Promise<PlatformDb | undefined> {
  const url = await freshPlatformDbUrl(t, dialect);
  return url === undefined ? undefined : openForTest(t, url);
}

// Idempotency records as plain rows: the prepared-query and batcher tests' fixtures.

export interface RecordArgs {
  principal: string;
  key: string;
  now: bigint;
}

export const insertRecord = preparedQuery<RecordArgs, never>((db, arg) =>
  db.insertInto('idempotency_records').values({
    principal: arg('principal'),
    idempotency_key: arg('key'),
    method: 'POST',
    path: '/v1/things',
    request_hash: 'h',
    state: 'in_progress',
    response_status: null,
    response_headers: null,
    response_body: null,
    created_at: arg('now'),
    expires_at: arg('now'),
  }),
);

export const selectRecord = preparedQuery<
  { principal: string; key: string },
  { idempotency_key: string; method: string; created_at: bigint }
>((db, arg) =>
  db
    .selectFrom('idempotency_records')
    .select(['idempotency_key', 'method', 'created_at'])
    .where('principal', '=', arg('principal'))
    .where('idempotency_key', '=', arg('key')),
);

export const countRecords = async (db: Kysely<PlatformSchema>): Promise<number> => {
  const rows = await db.selectFrom('idempotency_records').select('idempotency_key').execute();
  return rows.length;
};
