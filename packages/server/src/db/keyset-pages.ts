/**
 * Reading a large set of rows a page at a time, so that background work never holds a whole table
 * (a batch, a period, every merchant) in memory or in one query's result. Each page starts after
 * the last id of the page before (keyset pagination): rows that leave the set meanwhile (a payout
 * marked paid) do not shift the pages, as they would with an offset.
 */

/** Reads the page of rows after `afterId` (from the start when undefined), ordered by id. */
export type ReadPage<Row> = (afterId: string | undefined, pageRows: number) => Promise<Row[]>;

/** The pages of `readPage`, each of at most `pageRows` rows; ends with the first short page. */
export async function* keysetPages<Row extends { readonly id: string }>(
  readPage: ReadPage<Row>,
  pageRows: number,
): AsyncGenerator<Row[], void, undefined> {
  if (!Number.isSafeInteger(pageRows) || pageRows < 1) {
    throw new Error('pageRows is a whole number, 1 or more');
  }
  let afterId: string | undefined;
  for (;;) {
    const rows = await readPage(afterId, pageRows);
    if (rows.length > 0) yield rows;
    afterId = rows.at(-1)?.id;
    if (rows.length < pageRows || afterId === undefined) return;
  }
}
