/**
 * Checkpoints the platform's SQLite write-ahead log on a worker thread.
 *
 * By default SQLite checkpoints inside the COMMIT that takes the WAL past 1,000 pages: on the
 * calling thread, which for the platform is the event loop. Such a checkpoint copies about 4 MB
 * into the database file and fsyncs both files; under the API benchmark that was one COMMIT in
 * 40 taking 1 to 13 ms, during which no request moved (about 40% of all the time spent in
 * COMMIT, and the slowest responses). Here the main connection never checkpoints
 * (`wal_autocheckpoint = 0`); a second connection on a worker thread runs a PASSIVE checkpoint
 * every `walCheckpointIntervalMs`, which copies what no reader still needs without blocking
 * readers or the writer, and syncs the WAL before and the database file after, as SQLite's own
 * would. Once every frame is copied, the main connection's next write starts the WAL over, so
 * its size stays bounded as before.
 *
 * A PASSIVE checkpoint stops at the frames that were there when it began, and the WAL starts
 * over only when a write begins after a checkpoint that copied every frame. Writes that never
 * pause would therefore grow it without end: when the worker finds more than `walPagesBehindMax`
 * pages in the WAL, the platform holds its writes back for a moment (`whileNoTransaction`: the
 * connection is taken like any query, so no transaction is open) while the worker checkpoints
 * once more, which then copies every frame (most of them were copied already), and the next
 * write starts the WAL over. The event loop keeps running meanwhile. If the worker fails, the
 * main connection checkpoints again as SQLite does by default: slower answers at worst, never an
 * unbounded WAL.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** How often the worker checkpoints; under load the WAL grows about 1,000 pages in 150 ms. */
export const walCheckpointIntervalMs = 100;

/** WAL pages (4 KB each) past which writes wait for one complete checkpoint (SQLite's default). */
export const walPagesBehindMax = 1_000;

/** SQLite's default, restored when the worker fails. */
export const walAutoCheckpointPagesDefault = 1_000;

export interface WalCheckpointer {
  /** Stops the worker (and its connection) and waits until it has exited. */
  close(): Promise<void>;
}

/** The worker's code (CommonJS, run with `eval`): no TypeScript, so that it needs no build. */
const workerCode = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require('better-sqlite3');
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('synchronous = FULL'); // a checkpoint syncs the WAL before and the database after
const timer = setInterval(() => {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    if (result.log > workerData.pagesBehindMax) parentPort.postMessage({ behind: result.log });
  } catch (error) {
    clearInterval(timer);
    parentPort.postMessage({ failed: String(error && error.message) });
  }
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message === 'checkpoint') {
    try {
      const [result] = db.pragma('wal_checkpoint(PASSIVE)');
      parentPort.postMessage({ checkpointed: result.checkpointed });
    } catch (error) {
      clearInterval(timer);
      parentPort.postMessage({ failed: String(error && error.message) });
    }
    return;
  }
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface WalCheckpointerOptions {
  /**
   * Runs `work` while the main connection is taken, between transactions, as a query would take
   * it: no write can begin until `work` settles.
   */
  readonly whileNoTransaction: (work: () => Promise<void>) => void;
  /** For tests. */
  readonly intervalMs?: number;
  readonly pagesBehindMax?: number;
}

/**
 * Takes checkpoints of `path` (a database in WAL mode) off `database`, the main connection to
 * it, and onto a worker thread.
 */
export function startWalCheckpointer(
  database: Database.Database,
  path: string,
  options: WalCheckpointerOptions,
): WalCheckpointer {
  const intervalMs = options.intervalMs ?? walCheckpointIntervalMs;
  const pagesBehindMax = options.pagesBehindMax ?? walPagesBehindMax;
  database.pragma('wal_autocheckpoint = 0');
  // `require` as this package sees it (better-sqlite3 is its dependency), whatever the cwd.
  const requireFrom = JSON.stringify(fileURLToPath(import.meta.url));
  const worker = new Worker(
    `(function (require) {${workerCode}})(require('node:module').createRequire(${requireFrom}));`,
    { eval: true, workerData: { path, intervalMs, pagesBehindMax } },
  );
  worker.unref();
  let closing = false;
  // Settles the complete checkpoint under way, if one is: the writes held back for it go on.
  let releaseWrites: (() => void) | undefined;
  const release = (): void => {
    const resolve = releaseWrites;
    releaseWrites = undefined;
    resolve?.();
  };
  const fallBack = (): void => {
    release();
    if (closing || !database.open) return;
    database.pragma(`wal_autocheckpoint = ${walAutoCheckpointPagesDefault}`);
  };
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const checkpointWhileNoTransaction = (): void => {
    if (releaseWrites !== undefined || closing) return;
    const done = new Promise<void>((resolve) => (releaseWrites = resolve));
    options.whileNoTransaction(async () => {
      if (closing) return release();
      worker.postMessage('checkpoint');
      await done;
    });
  };
  worker.on('message', (message: { behind?: number; checkpointed?: number; failed?: string }) => {
    if (message.behind !== undefined) return checkpointWhileNoTransaction();
    if (message.checkpointed !== undefined) return release();
    fallBack();
    void worker.terminate();
  });
  worker.on('error', fallBack);
  worker.on('exit', fallBack);
  return {
    async close() {
      closing = true;
      worker.ref(); // the process waits for the worker to close its connection
      worker.postMessage('close');
      await exited;
    },
  };
}
