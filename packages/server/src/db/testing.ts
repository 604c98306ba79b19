/**
 * Test helpers: run a test on both dialects, each on a database of its own that closes after.
 * For tests only (it imports @mite/testkit, a dev dependency).
 */
import { join } from 'node:path';
import { describe, it, type TestContext, type TestOptions } from 'node:test';
import { freshPgDatabase, postgresSkipReason, requirePgDatabase, tempDir } from '@mite/testkit';
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
  if (dialect === 'sqlite') return databaseUrlFor(dialect);
  const url = await freshPgDatabase();
  if (url === undefined) t.skip('PostgreSQL is not installed (set MITE_REQUIRE_PG=1 to fail)');
  return url;
}

type TestBody = (t: TestContext) => void | Promise<void>;

/** node:test's `it`, for the tests of one dialect. */
export interface DialectTest {
  (name: string, body: TestBody): void;
  (name: string, options: TestOptions, body: TestBody): void;
}

/**
 * Registers the tests `define` declares once per dialect, in a suite `name (dialect)`. Where
 * PostgreSQL is not installed, its variants are registered as skipped, each with the reason,
 * rather than passing without running (MITE_REQUIRE_PG=1 runs them, to fail). Open databases in
 * them with platformDbFor or databaseUrlFor, which never skip. `skipReason` is for this helper's
 * own test.
 *
 *   forEachDialect('payouts', (dialect, it) => {
 *     it('pays each merchant once', async (t) => {
 *       const platform = await platformDbFor(t, dialect);
 *       ...
 *     });
 *   });
 */
export function forEachDialect(
  name: string,
  define: (dialect: PlatformDialect, it: DialectTest) => void,
  skipReason: (dialect: PlatformDialect) => string | undefined = (dialect) =>
    dialect === 'postgres' ? postgresSkipReason() : undefined,
): void {
  for (const dialect of platformDialects) {
    const skip = skipReason(dialect);
    const dialectIt: DialectTest = (
      testName: string,
      optionsOrBody: TestOptions | TestBody,
      maybeBody?: TestBody,
    ) => {
      const [options, body] =
        typeof optionsOrBody === 'function' ? [{}, optionsOrBody] : [optionsOrBody, maybeBody];
      it(testName, skip === undefined ? options : { ...options, skip }, body);
    };
    describe(`${name} (${dialect})`, () => define(dialect, dialectIt));
  }
}

/**
 * A fresh, migrated platform database for a test registered by forEachDialect, closed when the
 * test ends. Without PostgreSQL it throws: forEachDialect has skipped such tests already.
 */
export async function platformDbFor(t: TestContext, dialect: PlatformDialect): Promise<PlatformDb> {
  return openForTest(t, await databaseUrlFor(dialect));
}

/** A URL for a new, empty database of the dialect (see freshPlatformDbUrl); never skips. */
export async function databaseUrlFor(dialect: PlatformDialect): Promise<string> {
  if (dialect === 'sqlite') return `sqlite:${join(tempDir('mite-platform-'), 'platform.db')}`;
  return requirePgDatabase();
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
  nowMs: bigint;
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
    created_at: arg('nowMs'),
    expires_at: arg('nowMs'),
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
