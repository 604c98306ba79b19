import assert from 'node:assert/strict';
import { fsync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Transaction } from 'kysely';
import Database from 'better-sqlite3';
import { tempDir } from '@mite/testkit';
import { openPlatformDb } from './platform-db.ts';
import { affectedRows, firstRow } from './prepared-query.ts';
import type { PlatformSchema } from './schema.ts';
import {
  countRecords,
  forEachDialect,
  insertRecord,
  platformDbFor,
  selectRecord,
} from './testing.ts';
import { createTransactionBatcher, transactionBatchSizeMax } from './transaction-batcher.ts';
import type { SyncFile } from './wal-sync.ts';

forEachDialect('transaction batcher', (dialect, it) => {
  it('units queued together share a transaction and each gets its result', async (t) => {
    const platformDb = await platformDbFor(t, dialect);
    const batcher = createTransactionBatcher(platformDb);
    const transactions = new Set<Transaction<PlatformSchema>>();
    const units = 50;
    const results = await Promise.all(
      Array.from({ length: units }, (_, i) =>
        batcher.run(async (tx) => {
          transactions.add(tx);
          await insertRecord(tx, { principal: 'p', key: `k${i}`, nowMs: BigInt(i) });
          return (await firstRow(selectRecord, tx, { principal: 'p', key: `k${i}` }))?.created_at;
        }),
      ),
    );
    assert.deepEqual(
      results,
      Array.from({ length: units }, (_, i) => BigInt(i)),
    );
    // The first unit starts alone; every one queued while it ran shares the next transaction.
    assert.ok(transactions.size < units / 4, `${transactions.size} transactions for ${units}`);
    assert.ok(transactionBatchSizeMax >= units);
    assert.equal(await countRecords(platformDb.db), units);
  });

  it('a failing unit fails alone; the others in its batch commit', async (t) => {
    const platformDb = await platformDbFor(t, dialect);
    const batcher = createTransactionBatcher(platformDb);
    const insert = (key: string) =>
      batcher.run((tx) => affectedRows(insertRecord, tx, { principal: 'p', key, nowMs: 1n }));
    await insert('taken');
    const outcomes = await Promise.allSettled([
      insert('a'),
      // The primary key refuses this one, after it wrote nothing else.
      insert('taken'),
      batcher.run(async (tx) => {
        await insertRecord(tx, { principal: 'p', key: 'written-then-thrown', nowMs: 1n });
        throw new Error('a bug in this unit');
      }),
      insert('b'),
    ]);
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
    );
    const keys = await platformDb.db
      .selectFrom('idempotency_records')
      .select('idempotency_key')
      .orderBy('idempotency_key')
      .execute();
    assert.deepEqual(
      keys.map((row) => row.idempotency_key),
      ['a', 'b', 'taken'],
    );
  });

  it("drain waits for every queued unit, a failed batch's retries included", async (t) => {
    const platformDb = await platformDbFor(t, dialect);
    const batcher = createTransactionBatcher(platformDb);
    await batcher.drain(); // nothing queued: at once
    const insert = (key: string) =>
      batcher.run((tx) => affectedRows(insertRecord, tx, { principal: 'p', key, nowMs: 1n }));
    await insert('taken');
    const settled: string[] = [];
    const units = ['a', 'taken', 'b', 'c'].map((key) =>
      insert(key).then(
        () => settled.push(key),
        () => settled.push(`${key} refused`),
      ),
    );
    await batcher.drain();
    // Every unit ended before drain did, the one refused by the key on its retry included.
    assert.deepEqual([...settled].sort(), ['a', 'b', 'c', 'taken refused']);
    assert.equal(await countRecords(platformDb.db), 4);
    await Promise.all(units);
  });
});

test('sqlite: a unit is answered once the WAL is synced, and a batch starts once the one before is durable', async (t) => {
  const held: (() => void)[] = [];
  let holding = false;
  let syncHeld = (): void => {};
  /** Resolves when the next sync is requested and held. */
  const nextHeld = () => new Promise<void>((resolve) => (syncHeld = resolve));
  const syncFile: SyncFile = (fd, done) => {
    if (holding) {
      held.push(() => fsync(fd, done));
      syncHeld();
    } else fsync(fd, done);
  };
  const path = join(tempDir('mite-batcher-'), 'platform.db');
  const platformDb = await openPlatformDb({ url: `sqlite:${path}`, sqliteSyncFile: syncFile });
  // Another connection sees what is committed, synced or not (the platform's own reads wait).
  const observer = new Database(path, { readonly: true });
  const committed = () =>
    (observer.prepare('select count(*) as n from idempotency_records').get() as { n: number }).n;
  t.after(() => {
    observer.close();
    holding = false;
    for (const release of held.splice(0)) release();
    return platformDb.close();
  });
  holding = true;
  const batcher = createTransactionBatcher(platformDb);
  const answered: string[] = [];
  const insert = (key: string) =>
    batcher
      .run((tx) => affectedRows(insertRecord, tx, { principal: 'p', key, nowMs: 1n }))
      .then(() => answered.push(key));
  // What would happen next, were it allowed to, happens within a few turns of the event loop:
  // the writes are synchronous SQLite, only the held syncs are not.
  const settle = async () => {
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
  };
  const releaseHeld = () => {
    for (const release of held.splice(0)) release();
  };
  // Alone in a batch: committed, but not answered while its sync is held.
  const firstSync = nextHeld();
  const first = insert('first');
  await firstSync;
  await settle();
  assert.deepEqual(answered, []);
  assert.equal(committed(), 1, 'committed');
  // Queued meanwhile, these two share the next batch, which starts once the first is durable.
  const both = [insert('second'), insert('third')];
  await settle();
  assert.equal(committed(), 1, 'no batch starts before the one before it is durable');
  const secondSync = nextHeld();
  releaseHeld();
  await secondSync; // the next batch committed and its sync is held
  await settle();
  assert.equal(committed(), 3);
  assert.deepEqual(answered, ['first'], 'the next batch waits for its own sync');
  holding = false;
  releaseHeld();
  await Promise.all([first, ...both]);
  assert.deepEqual(answered, ['first', 'second', 'third']);
  assert.equal(await countRecords(platformDb.db), 3);
});
