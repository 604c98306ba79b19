import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '@mite/testkit';
import { startWalCheckpointer, walAutoCheckpointPagesDefault } from './wal-checkpointer.ts';

const rowBytes = 2_000;
const rowsPerCommit = 20;

function openWal(path: string): Database.Database {
  const database = new Database(path);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.exec('create table t (id integer primary key, body blob not null)');
  return database;
}

/**
 * Writes about `megabytes` MB in small commits, letting the event loop run between them; before
 * each commit it waits for `gate`, as the platform's writes wait for its one connection.
 */
async function writeMegabytes(
  database: Database.Database,
  megabytes: number,
  gate: () => Promise<void> = async () => {},
): Promise<void> {
  const insert = database.prepare('insert into t (body) values (?)');
  const commits = Math.ceil((megabytes * 1_000_000) / (rowBytes * rowsPerCommit));
  const many = database.transaction(() => {
    for (let i = 0; i < rowsPerCommit; i++) insert.run(Buffer.alloc(rowBytes, i));
  });
  for (let i = 0; i < commits; i++) {
    await gate();
    many();
    // A real pause: the checkpointer is a worker thread, which runs on its own and needs the
    // main thread to let go of the file now and then, as a live server's idle moments do.
    if (i % 10 === 0) await sleep(2);
  }
}

const walBytes = (path: string): number => statSync(`${path}-wal`).size;

test('the main connection never checkpoints; the worker keeps the WAL bounded', async () => {
  const path = join(tempDir('wal-checkpointer-'), 'db.sqlite');
  const database = openWal(path);
  // Writes are synchronous here, so no transaction is open between two turns of the event loop;
  // what `whileNoTransaction` runs holds the next write back until it is done.
  let held: Promise<void> = Promise.resolve();
  const checkpointer = startWalCheckpointer(database, path, {
    whileNoTransaction: (work) => {
      held = work();
    },
    intervalMs: 5,
    pagesBehindMax: 1_000,
  });
  try {
    assert.equal(database.pragma('wal_autocheckpoint', { simple: true }), 0);
    // The file never shrinks below its peak, which the first writes set while the worker
    // starts; without checkpoints the next 24 MB would all be added to it.
    await writeMegabytes(database, 24, () => held);
    const afterFirst = walBytes(path);
    await writeMegabytes(database, 24, () => held);
    const grown = walBytes(path) - afterFirst;
    assert.ok(grown < 8_000_000, `WAL grew ${grown} bytes from ${afterFirst}`);
    const count = database.prepare('select count(*) as n from t').get() as { n: number };
    assert.ok(count.n > 0);
  } finally {
    await checkpointer.close();
    database.close();
  }
});

test('without the worker the WAL grows: the bound above is the worker’s doing', async () => {
  const path = join(tempDir('wal-checkpointer-'), 'db.sqlite');
  const database = openWal(path);
  try {
    database.pragma('wal_autocheckpoint = 0');
    await writeMegabytes(database, 24);
    assert.ok(walBytes(path) > 20_000_000, `WAL of ${walBytes(path)} bytes`);
  } finally {
    database.close();
  }
});

test('when the worker fails, the main connection checkpoints again', async () => {
  const dir = tempDir('wal-checkpointer-');
  const path = join(dir, 'db.sqlite');
  const database = openWal(path);
  // The worker cannot open a database that is not there, and exits with an error.
  const checkpointer = startWalCheckpointer(database, join(dir, 'missing.sqlite'), {
    whileNoTransaction: (work) => void work(),
    intervalMs: 5,
  });
  try {
    for (let i = 0; i < 200; i++) {
      if (database.pragma('wal_autocheckpoint', { simple: true }) !== 0) break;
      // A real wait: the worker thread's failure reaches this thread as an event of its own,
      // which the checkpointer handles without telling anyone; polled, at most 2 s.
      await sleep(10);
    }
    assert.equal(
      database.pragma('wal_autocheckpoint', { simple: true }),
      walAutoCheckpointPagesDefault,
    );
  } finally {
    await checkpointer.close();
    database.close();
  }
});
