import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import postgres from 'postgres';
import { findPgBin, freshPgDatabase, startPgCluster, tempDir } from './pg-cluster.ts';

const pgMissing =
  findPgBin() === undefined && process.env.MITE_REQUIRE_PG !== '1'
    ? 'PostgreSQL is not installed'
    : false;

test(
  'startPgCluster starts a cluster that answers queries, and stop removes it',
  {
    skip: pgMissing,
  },
  async () => {
    const started = performance.now();
    const cluster = await startPgCluster();
    const startMs = performance.now() - started;
    try {
      assert.match(cluster.url, /^postgres:\/\/[^@]+@127\.0\.0\.1:\d+\/postgres$/);
      assert.ok(existsSync(cluster.dir));
      const sql = postgres(cluster.url, { max: 1 });
      try {
        const rows = await sql<{ one: number; fsync: string }[]>`
        select 1 as one, current_setting('fsync') as fsync`;
        assert.deepEqual([...rows], [{ one: 1, fsync: 'on' }]);
      } finally {
        await sql.end();
      }
    } finally {
      await cluster.stop();
    }
    assert.ok(!existsSync(cluster.dir), 'stop() removes the directory');
    await cluster.stop(); // idempotent
    assert.ok(startMs < 60_000);
  },
);

test('freshPgDatabase returns a new empty database each time', { skip: pgMissing }, async () => {
  const a = await freshPgDatabase();
  const b = await freshPgDatabase();
  assert.ok(a !== undefined && b !== undefined);
  assert.notEqual(a, b);
  const sql = postgres(a, { max: 1 });
  try {
    const [row] = await sql<{ db: string; tables: number }[]>`
      select current_database() as db,
             (select count(*)::int from pg_tables where schemaname = 'public') as tables`;
    assert.equal(row?.tables, 0);
    assert.ok(a.endsWith(`/${row?.db}`));
  } finally {
    await sql.end();
  }
});

test(
  'freshPgDatabase copies a template database, which stays as it was',
  { skip: pgMissing },
  async () => {
    const template = await freshPgDatabase();
    assert.ok(template !== undefined);
    const setUp = postgres(template, { max: 1, onnotice: () => {} });
    try {
      await setUp`create table things (name text not null)`;
      await setUp`insert into things values ('one')`;
    } finally {
      await setUp.end();
    }
    const copy = await freshPgDatabase({ template });
    assert.ok(copy !== undefined && copy !== template);
    const sql = postgres(copy, { max: 1 });
    try {
      assert.deepEqual([...(await sql`select name from things`)], [{ name: 'one' }]);
      await sql`insert into things values ('two')`;
    } finally {
      await sql.end();
    }
    const original = postgres(template, { max: 1 });
    try {
      assert.deepEqual([...(await original`select name from things`)], [{ name: 'one' }]);
    } finally {
      await original.end();
    }
    await assert.rejects(
      freshPgDatabase({ template: 'postgres://postgres@127.0.0.1:1/postgres' }),
      /not a test database/,
    );
  },
);

test('tempDir creates a fresh directory', () => {
  const dir = tempDir('mite-testkit-');
  assert.ok(existsSync(dir));
  writeFileSync(join(dir, 'x'), 'x');
  assert.notEqual(tempDir('mite-testkit-'), dir);
});
