/**
 * A user's export as CSV: one file per section (`payments.csv`, `wallet_movements.csv`...) in
 * one zip, with a README.txt that says what each file is. A zip of CSVs is what a person can open
 * (every spreadsheet opens each file; every system opens a zip), and one file per table keeps each
 * file's columns its own, where one CSV for everything would need a column for every table's
 * fields. CSV is written by csv-stringify (RFC 4180 quoting, formulas escaped), the zip by fflate.
 */
import { stringify } from 'csv-stringify/sync';
import { strToU8, zipSync, type Zippable } from 'fflate';
import type { ExportRow, UserExport } from './user-export.ts';

/** The file's columns: every key any row has, in the order first seen. */
function columnsOf(rows: readonly ExportRow[]): string[] {
  const columns = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) columns.add(key);
  return [...columns];
}

/** A cell: text as is, nested values (a payment's legs) as JSON, nothing as an empty cell. */
function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function sectionCsv(rows: readonly ExportRow[]): string {
  const columns = columnsOf(rows);
  if (columns.length === 0) return '';
  return stringify(
    rows.map((row) => columns.map((column) => cell(row[column]))),
    // Merchants write some of these fields (names, titles, refund reasons): a field starting
    // with =, +, -, @, tab or CR gets a leading apostrophe, so that a spreadsheet shows it rather
    // than running it as a formula (CSV injection), as in the payout bank files.
    { header: true, columns, record_delimiter: 'windows', escape_formulas: true },
  );
}

function readme(exported: UserExport): string {
  return [
    'Everything Mite holds about you, as exported on ' + exported.exportedAt + '.',
    '',
    'One CSV file per kind of record, each with a header row. Times are UTC (ISO 8601),',
    'amounts are decimals in the platform currency. An empty file means Mite holds no such',
    'record about you. The same export as one JSON file: GET /v1/users/me/export?format=json.',
    '',
    'Files:',
    ...Object.entries(exported.sections).map(
      ([name, rows]) => `  ${name}.csv (${rows.length} ${rows.length === 1 ? 'row' : 'rows'})`,
    ),
    '',
  ].join('\r\n');
}

/** The zip's bytes. */
export function exportZip(exported: UserExport): Uint8Array {
  const files: Zippable = { 'README.txt': strToU8(readme(exported)) };
  for (const [name, rows] of Object.entries(exported.sections)) {
    files[`${name}.csv`] = strToU8(sectionCsv(rows));
  }
  // Files have the export's time, not the zip format's default of the current local time.
  return zipSync(files, { mtime: new Date(exported.exportedAt) });
}
