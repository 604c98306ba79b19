import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  decodeCursor,
  encodeCursor,
  page,
  pageQuery,
  pageSchema,
  pageSizeDefault,
  pageSizeMax,
} from './pagination.ts';
import { call, createTestApp } from './test-routes.ts';
import { type ListeningApp, listenOnLoopback } from './testing.ts';

const allItems = Array.from({ length: 45 }, (_, index) => index + 1);
const cursorSchema = z.object({ after: z.number().int() });

const listRoutes: FastifyPluginAsyncZod = async (api) => {
  api.get(
    '/v1/items',
    {
      schema: { querystring: pageQuery(cursorSchema), response: { 200: pageSchema(z.number()) } },
      config: { auth: 'public' },
    },
    async (request) => {
      const { cursor, limit } = request.query;
      // A real query: WHERE id > :after ORDER BY id LIMIT :limit + 1.
      const rows = allItems.filter((item) => cursor === undefined || item > cursor.after);
      return page(rows.slice(0, limit + 1), limit, (item) => ({ after: item }));
    },
  );
};

interface ListPage {
  items: number[];
  nextCursor: string | null;
}

describe('cursor pagination over HTTP', () => {
  let server: ListeningApp;

  before(async () => {
    const app = createTestApp();
    void app.register(listRoutes);
    server = await listenOnLoopback(app);
  });
  after(() => server.close());

  async function walk(limit?: number): Promise<ListPage[]> {
    const pages: ListPage[] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams();
      if (cursor !== null) query.set('cursor', cursor);
      if (limit !== undefined) query.set('limit', String(limit));
      const response = await call(server.baseUrl, 'GET', `/v1/items?${query.toString()}`);
      assert.equal(response.status, 200, response.text);
      const body = response.json() as unknown as ListPage;
      pages.push(body);
      cursor = body.nextCursor;
    } while (cursor !== null);
    return pages;
  }

  test('pages through every item once, in order', async () => {
    const pages = await walk();
    assert.deepEqual(
      pages.map((one) => one.items.length),
      [pageSizeDefault, pageSizeDefault, 45 - 2 * pageSizeDefault],
    );
    assert.deepEqual(
      pages.flatMap((one) => one.items),
      allItems,
    );
    const sevens = await walk(7);
    assert.equal(sevens.length, 7);
    assert.deepEqual(
      sevens.flatMap((one) => one.items),
      allItems,
    );
  });

  test('a limit out of range is a validation failure', async () => {
    for (const limit of ['0', String(pageSizeMax + 1), 'many', '2.5']) {
      const response = await call(server.baseUrl, 'GET', `/v1/items?limit=${limit}`);
      assert.equal(response.status, 400, limit);
      const issues = response.json().issues as { in: string; path: string }[];
      assert.deepEqual(issues[0], { ...issues[0], in: 'querystring', path: '/limit' });
    }
  });

  test('a tampered cursor is a validation failure', async () => {
    const [first] = await walk(10);
    const cursor = first?.nextCursor ?? '';
    const tampered = [
      `${cursor.slice(0, 3)}${cursor[3] === 'A' ? 'B' : 'A'}${cursor.slice(4)}`,
      cursor.slice(0, -2),
      'not a cursor!',
      encodeCursor({ after: 'ten' }),
      encodeCursor([10]),
      'A'.repeat(600),
    ];
    for (const text of tampered) {
      const query = new URLSearchParams({ cursor: text }).toString();
      const response = await call(server.baseUrl, 'GET', `/v1/items?${query}`);
      assert.equal(response.status, 400, text);
      assert.equal(response.json().type, '/v1/problems/validation-failed');
      const issues = response.json().issues as { in: string; path: string }[];
      assert.deepEqual(issues[0], { ...issues[0], in: 'querystring', path: '/cursor' });
    }
  });
});

describe('cursor helpers', () => {
  test('encode and decode round-trip', () => {
    const value = { createdAt: '2025-01-01T00:00:00.000Z', id: 'p_1', weird: 'é/+?=' };
    const text = encodeCursor(value);
    assert.match(text, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeCursor(text), { ok: true, value });
    assert.deepEqual(decodeCursor(text, z.object({ id: z.string() })), {
      ok: true,
      value: { id: 'p_1' },
    });
  });

  test('decoding refuses what was not encoded', () => {
    for (const text of ['', '%%%', Buffer.from('{"a":').toString('base64url')]) {
      const decoded = decodeCursor(text);
      assert.equal(decoded.ok, false, text);
      assert.equal(decoded.ok ? undefined : decoded.code, 'validationFailed');
    }
  });

  test('page takes limit + 1 rows and says whether more follow', () => {
    assert.deepEqual(
      page([1, 2, 3], 3, (item) => item),
      { items: [1, 2, 3], nextCursor: null },
    );
    const more = page([1, 2, 3, 4], 3, (item) => ({ after: item }));
    assert.deepEqual(more.items, [1, 2, 3]);
    assert.deepEqual(decodeCursor(more.nextCursor ?? ''), { ok: true, value: { after: 3 } });
  });
});
