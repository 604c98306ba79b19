import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keysetPages } from './keyset-pages.ts';

const rows = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id }));

/** Pages of `rows` as a database would read them, with the `afterId` each read was given. */
async function pagesOf(pageRows: number) {
  const asked: (string | undefined)[] = [];
  const pages: string[][] = [];
  const readPage = (afterId: string | undefined, limit: number) => {
    asked.push(afterId);
    const rest = rows.filter((row) => afterId === undefined || row.id > afterId);
    return Promise.resolve(rest.slice(0, limit));
  };
  for await (const page of keysetPages(readPage, pageRows)) pages.push(page.map((row) => row.id));
  return { asked, pages };
}

describe('keyset pages', () => {
  it('read every row, each page after the last id of the one before', async () => {
    assert.deepEqual(await pagesOf(2), {
      asked: [undefined, 'b', 'd'],
      pages: [['a', 'b'], ['c', 'd'], ['e']],
    });
  });

  it('end with an empty read when the last page was full, yielding no empty page', async () => {
    assert.deepEqual(await pagesOf(5), {
      asked: [undefined, 'e'],
      pages: [['a', 'b', 'c', 'd', 'e']],
    });
  });

  it('refuse a page size that is not a whole number of rows', async () => {
    for (const pageRows of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(pagesOf(pageRows), /pageRows/);
    }
  });
});
