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
 * over only after a checkpoint has copied every frame. Writes that never pause would therefore
 * grow it without end: when the worker finds more than `walPagesBehindMax` pages in the WAL, the
 * main thread checkpoints once itself (`checkpointHere`, between transactions), which finishes
 * what the worker copied most of. If the worker fails, the main connection checkpoints again as
 * SQLite does by default. Either way: slower answers at worst, never an unbounded WAL.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** How often the worker checkpoints; under load the WAL grows about 1,000 pages in 150 ms. */
export const walCheckpointIntervalMs = 100;

/** WAL pages (4 KB each) past which the main thread checkpoints once itself. */
export const walPagesBehindMax = 4_000;

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
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface WalCheckpointerOptions {
  /**
   * Runs `PRAGMA wal_checkpoint(PASSIVE)` on the main connection outside any transaction (the
   * platform queues it for the connection like any query).
   */
  readonly checkpointHere: () => void;
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
  const fallBack = (): void => {
    if (closing || !database.open) return;
    database.pragma(`wal_autocheckpoint = ${walAutoCheckpointPagesDefault}`);
  };
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (message: { behind?: number; failed?: string }) => {
    if (message.behind !== undefined) {
      if (!closing && database.open) options.checkpointHere();
      return;
    }
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
