/** Plain-text tables and number formats for benchmark reports. */

export interface Column {
  readonly header: string;
  /** Numbers read best right-aligned; the default is left. */
  readonly align?: 'left' | 'right';
}

/** An aligned table: a header line, a rule, one line per row (missing cells print empty). */
export function formatTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
): string {
  const widths = columns.map((column, index) =>
    Math.max(column.header.length, ...rows.map((row) => (row[index] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    columns
      .map((column, index) => {
        const cell = cells[index] ?? '';
        const width = widths[index] ?? 0;
        return column.align === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((column) => column.header)),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...rows.map(line),
  ].join('\n');
}

const integerFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 123456.7 -> "123,457". */
export function formatInteger(value: number): string {
  return integerFormat.format(value);
}

/** Seconds with two decimals (three below one second). */
export function formatSeconds(seconds: number): string {
  return seconds.toFixed(seconds < 1 ? 3 : 2);
}

/** A ratio such as 0.83. */
export function formatRatio(ratio: number): string {
  return ratio.toFixed(2);
}
