/**
 * docs/DATA.md lists every table and column Mite stores, with why and for how long: this test
 * reads the migrated databases and fails on a table or column the page does not list (and, on
 * SQLite, on a listed platform table or column that no longer exists), so the page stays true.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { platformFor } from '../platform-testing.ts';
import { tableColumns } from './table-columns.ts';
import { forEachDialect } from './testing.ts';

const dataDoc = new URL('../../../../docs/DATA.md', import.meta.url);

interface DocumentedTables {
  /** Table to columns, for the whole page. */
  readonly all: Map<string, Set<string>>;
  /** The tables under "Platform database". */
  readonly platform: Set<string>;
}

/** The page's tables (`### \`name\`` headings) and their columns (rows starting `| \`column\``). */
async function documentedTables(): Promise<DocumentedTables> {
  const all = new Map<string, Set<string>>();
  const platform = new Set<string>();
  let section = '';
  let table: Set<string> | undefined;
  for (const line of (await readFile(dataDoc, 'utf8')).split('\n')) {
    if (line.startsWith('## ')) section = line;
    const heading = /^### `([a-z_0-9]+)`/.exec(line);
    if (heading?.[1] !== undefined) {
      table = all.get(heading[1]) ?? new Set();
      all.set(heading[1], table);
      if (section === '## Platform database') platform.add(heading[1]);
      continue;
    }
    const column = /^\| `([a-z_0-9]+)` /.exec(line);
    if (column?.[1] !== undefined) table?.add(column[1]);
  }
  return { all, platform };
}

function undocumented(tables: Map<string, string[]>, documented: Map<string, Set<string>>) {
  const missing: string[] = [];
  for (const [table, columns] of tables) {
    const listed = documented.get(table);
    if (listed === undefined) missing.push(table);
    else for (const column of columns) if (!listed.has(column)) missing.push(`${table}.${column}`);
  }
  return missing;
}

function sqliteTables(file: string): Map<string, string[]> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `select m.name as t, p.name as c from sqlite_master m, pragma_table_info(m.name) p
         where m.type = 'table' and m.name not like 'sqlite_%'`,
      )
      .all() as { t: string; c: string }[];
    const tables = new Map<string, string[]>();
    for (const row of rows) tables.set(row.t, [...(tables.get(row.t) ?? []), row.c]);
    return tables;
  } finally {
    db.close();
  }
}

forEachDialect('docs/DATA.md', (dialect, it) => {
  it('lists every table and column of the migrated databases', async (t) => {
    const platform = await platformFor(t, dialect, { backgroundJobs: false });
    const documented = await documentedTables();
    const tables = await tableColumns(platform.platformDb);
    assert.ok(tables.has('payments') && tables.has('users'));
    assert.deepEqual(undocumented(tables, documented.all), [], 'add these to docs/DATA.md');
    // On PostgreSQL the ledger shares the platform's database, so its tables were compared too.
    if (dialect !== 'sqlite') {
      assert.ok(tables.has('transfers') && tables.has('forwarded_requests'));
      return;
    }
    const ledger = sqliteTables(path.join(platform.dataDir, 'ledger.sqlite'));
    assert.ok(ledger.has('accounts'));
    assert.deepEqual(undocumented(ledger, documented.all), [], 'add these to docs/DATA.md');
    const gone: string[] = [];
    for (const table of documented.platform) {
      const columns = tables.get(table);
      if (columns === undefined) gone.push(table);
      else
        for (const column of documented.all.get(table) ?? []) {
          if (!columns.includes(column)) gone.push(`${table}.${column}`);
        }
    }
    assert.deepEqual(gone, [], 'docs/DATA.md lists these, which the schema no longer has');
  });
});
