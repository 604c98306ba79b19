/**
 * The writer thread of a SQLite ledger store. It owns the only connection that writes, with
 * synchronous=FULL: a commit returns once the WAL is on disk, and that wait (and the B-tree
 * work) happens here, on the second core, while the main thread applies the next batch.
 * Requests are handled one at a time, in order; after a failed write every later write is
 * refused until the main thread says `reset` (it has read the store again).
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { createSqliteWriter } from './sqlite-writer.ts';
import type { WriterReply, WriterRequest } from './sqlite-writer-channel.ts';

const { location, busyTimeoutMs } = workerData as { location: string; busyTimeoutMs: number };
const port = parentPort;
if (port === null) throw new Error('sqlite-writer-worker must run as a worker thread');

const db = new Database(location);
db.defaultSafeIntegers(true);
db.pragma(`busy_timeout = ${busyTimeoutMs}`);
db.pragma('synchronous = FULL');
const writer = createSqliteWriter(db);
let failed: string | undefined;

function handle(request: WriterRequest): WriterReply {
  switch (request.type) {
    case 'write':
      if (failed !== undefined) return { seq: request.seq, error: failed };
      try {
        writer.write(request.writes);
        return { seq: request.seq };
      } catch (error) {
        failed = error instanceof Error ? error.message : String(error);
        return { seq: request.seq, error: failed };
      }
    case 'history':
      try {
        return { seq: request.seq, more: writer.catchUpHistory(request.blocksMax) };
      } catch (error) {
        return { seq: request.seq, error: error instanceof Error ? error.message : String(error) };
      }
    case 'reset':
      failed = undefined;
      return { seq: request.seq };
    case 'close':
      db.close();
      return { seq: request.seq };
  }
}

port.on('message', (request: WriterRequest) => {
  const reply = handle(request);
  port.postMessage(reply);
  if (request.type === 'close') port.close();
});
