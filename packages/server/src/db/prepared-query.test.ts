import assert from 'node:assert/strict';
import { affectedRows, firstRow, preparedQuery } from './prepared-query.ts';
import {
  countRecords,
  forEachDialect,
  insertRecord,
  platformDbFor,
  selectRecord,
} from './testing.ts';

forEachDialect('prepared queries', (dialect, it) => {
  it("a prepared query runs with each call's values, its fixed ones kept", async (t) => {
    const platformDb = await platformDbFor(t, dialect);
    const { db } = platformDb;
    for (const key of ['a', 'b']) {
      assert.equal(await affectedRows(insertRecord, db, { principal: 'p', key, nowMs: 7n }), 1n);
    }
    assert.deepEqual(await firstRow(selectRecord, db, { principal: 'p', key: 'b' }), {
      idempotency_key: 'b',
      method: 'POST',
      created_at: 7n,
    });
    assert.equal(await firstRow(selectRecord, db, { principal: 'q', key: 'b' }), undefined);
    // On a transaction of the same database too; a rollback takes its write back.
    await assert.rejects(
      db.transaction().execute(async (tx) => {
        await insertRecord(tx, { principal: 'p', key: 'c', nowMs: 8n });
        assert.ok(await firstRow(selectRecord, tx, { principal: 'p', key: 'c' }));
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal(await countRecords(db), 2);
  });

  it('a placeholder Kysely cannot pass as a parameter is refused', async (t) => {
    const platformDb = await platformDbFor(t, dialect);
    // A list is expanded element by element when compiled: one placeholder for the whole list
    // ends up nowhere in the parameters.
    const inList = preparedQuery<{ key: string }, { principal: string }>((db, arg) =>
      db
        .selectFrom('idempotency_records')
        .select('principal')
        .where('idempotency_key', 'in', [arg('key')].slice(1)),
    );
    await assert.rejects(inList(platformDb.db, { key: 'a' }), /placeholder key is not/);
  });
});
