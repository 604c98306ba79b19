/**
 * Key management (issue 10, item 5): when each merchant API key and admin key was last used
 * (written at most once a minute per key: auth/key-usage.ts).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const table of ['api_keys', 'admin_keys']) {
    await db.schema.alterTable(table).addColumn('last_used_at', 'bigint').execute();
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['api_keys', 'admin_keys']) {
    await db.schema.alterTable(table).dropColumn('last_used_at').execute();
  }
}
