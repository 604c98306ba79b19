import assert from 'node:assert/strict';
import { fsync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { tempDir } from '@mite/testkit';
import { createSqliteDialect } from './sqlite-dialect.ts';
import type { SyncFile } from './wal-sync.ts';

interface Schema {
  notes: { id: number; body: string };
}

async function openNotes(path: string, syncFile: SyncFile): Promise<Kysely<Schema>> {
  const db = new Kysely<Schema>({ dialect: createSqliteDialect(path, syncFile) });
  await sql`create table notes (id integer primary key, body text not null)`.execute(db);
  return db;
}

test('concurrent commits resolve only after an fsync that began after them, with fewer fsyncs than commits', async (t) => {
  const path = join(tempDir('wal-sync'), 'notes.sqlite');
  let reader: Database.Database | undefined;
  const completedSyncsCovering: number[] = []; // the highest committed id each finished sync began after
  const syncFile: SyncFile = (fd, done) => {
    reader ??= new Database(path, { readonly: true });
    const row = reader.prepare('select coalesce(max(id), 0) as id from notes').get() as {
      id: number;
    };
    fsync(fd, (error) => {
      if (error === null) completedSyncsCovering.push(row.id);
      done(error);
    });
  };
  const db = await openNotes(path, syncFile);
  t.after(async () => {
    reader?.close();
    await db.destroy();
  });
  const syncsBefore = completedSyncsCovering.length;
  const commits = 200;
  await Promise.all(
    Array.from({ length: commits }, async (_, index) => {
      const id = index + 1;
      await db
        .insertInto('notes')
        .values({ id, body: `note ${id}` })
        .execute();
      // Acknowledged: some finished fsync must have begun once this row was committed.
      assert.ok(
        completedSyncsCovering.some((covered) => covered >= id),
        `insert ${id} resolved before a sync covered it`,
      );
    }),
  );
  const syncs = completedSyncsCovering.length - syncsBefore;
  assert.ok(syncs >= 1 && syncs < commits / 4, `${syncs} fsyncs for ${commits} commits`);
});

test('a failed fsync fails the write waiting on it and every write after it', async (t) => {
  const path = join(tempDir('wal-sync'), 'notes.sqlite');
  let failNext = false;
  const syncFile: SyncFile = (fd, done) => {
    if (failNext) done(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    else fsync(fd, done);
  };
  const db = await openNotes(path, syncFile);
  t.after(() => db.destroy());
  await db.insertInto('notes').values({ id: 1, body: 'kept' }).execute();
  failNext = true;
  await assert.rejects(db.insertInto('notes').values({ id: 2, body: 'lost?' }).execute(), /EIO/);
  failNext = false;
  await assert.rejects(
    db.insertInto('notes').values({ id: 3, body: 'after' }).execute(),
    /WAL sync failed/,
  );
});

test('a read that follows an unsynced commit waits for the sync', async (t) => {
  const path = join(tempDir('wal-sync'), 'notes.sqlite');
  let release: (() => void) | undefined;
  let hold = false;
  let syncHeld = (): void => {};
  const held = new Promise<void>((resolve) => (syncHeld = resolve));
  const syncFile: SyncFile = (fd, done) => {
    if (!hold) return fsync(fd, done);
    release = () => fsync(fd, done);
    syncHeld();
  };
  const db = await openNotes(path, syncFile);
  t.after(() => db.destroy());
  hold = true;
  const write = db.insertInto('notes').values({ id: 1, body: 'slow disk' }).execute();
  let readDone = false;
  const read = db
    .selectFrom('notes')
    .selectAll()
    .execute()
    .then((rows) => {
      readDone = true;
      return rows;
    });
  // Once the write's sync has begun (and is held), the read, which SQLite answers at once, has
  // had every chance to answer: a few turns of the event loop, not a span of time.
  await held;
  for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(readDone, false, 'the read answered with a commit not yet on disk');
  hold = false;
  release?.();
  await write;
  assert.deepEqual(await read, [{ id: 1, body: 'slow disk' }]);
});
