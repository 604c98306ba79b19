/**
 * The platform database's tables and their columns as the migrations made them, read from the
 * database itself (SQLite's `pragma_table_info`, PostgreSQL's information_schema), for the tests
 * that keep docs/DATA.md and the user export true to the schema. Kysely's migration bookkeeping
 * tables are left out.
 */
import { sql } from 'kysely';
import type { PlatformDb } from './platform-db.ts';

/** Table name to its column names, both sorted. */
export async function tableColumns(platform: PlatformDb): Promise<Map<string, string[]>> {
  const rows =
    platform.dialect === 'sqlite'
      ? await sql<{ table_name: string; column_name: string }>`
          select m.name as table_name, p.name as column_name
          from sqlite_master m, pragma_table_info(m.name) p
          where m.type = 'table' and m.name not like 'sqlite_%'`.execute(platform.db)
      : await sql<{ table_name: string; column_name: string }>`
          select table_name, column_name from information_schema.columns
          where table_schema = current_schema()`.execute(platform.db);
  const tables = new Map<string, string[]>();
  for (const row of rows.rows) {
    if (row.table_name.startsWith('kysely_')) continue;
    tables.set(row.table_name, [...(tables.get(row.table_name) ?? []), row.column_name]);
  }
  for (const columns of tables.values()) columns.sort();
  return new Map([...tables.entries()].sort(([a], [b]) => a.localeCompare(b)));
}
