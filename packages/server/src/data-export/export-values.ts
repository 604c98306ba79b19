/**
 * How a stored value is shown in an export: times (`*_at`, `access_until`, epoch milliseconds) as
 * ISO 8601, amounts (`*_micros`, micro-units) as decimal strings under the name without the
 * suffix, JSON columns (`legs`) parsed, other bigints as decimal strings. A person reads the
 * result; a program can still parse it.
 */
import { formatLedgerAmount } from '@mite/protocol';

const jsonColumns: ReadonlySet<string> = new Set(['legs']);

function isTimeColumn(column: string): boolean {
  return column.endsWith('_at') || column === 'access_until';
}

/** The column's name and value as the export shows them. */
export function exportValue(column: string, value: unknown): [string, unknown] {
  if (value === null || value === undefined) {
    return [column.endsWith('_micros') ? column.slice(0, -'_micros'.length) : column, null];
  }
  if (isTimeColumn(column) && (typeof value === 'bigint' || typeof value === 'number')) {
    return [column, new Date(Number(value)).toISOString()];
  }
  if (column.endsWith('_micros')) {
    return [column.slice(0, -'_micros'.length), formatLedgerAmount(BigInt(String(value)))];
  }
  if (jsonColumns.has(column) && typeof value === 'string') {
    return [column, JSON.parse(value) as unknown];
  }
  if (typeof value === 'bigint') return [column, value.toString()];
  return [column, value];
}

/** A stored row as the export shows it. */
export function exportRow(row: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    const [name, shown] = exportValue(column, value);
    out[name] = shown;
  }
  return out;
}
