/**
 * Group commit for the platform's SQLite database, by syncing its write-ahead log off the main
 * thread.
 *
 * With `synchronous = FULL`, SQLite fsyncs the WAL inside every COMMIT, on the calling thread: the
 * whole event loop stops for each fsync, and concurrent requests pay one fsync each, in turn. With
 * `synchronous = NORMAL` SQLite still syncs at every checkpoint (WAL before, database after) and
 * when the WAL is reused, so the file stays consistent, but a COMMIT returns with its frames in
 * the page cache only. This module supplies the missing sync: `waitDurable()` resolves once an
 * fsync of the WAL file that began after the caller's commit has completed. fsync flushes every
 * page of the file written before it, whoever wrote it, so one fsync (run on libuv's thread pool)
 * makes every commit before it durable; commits made while it runs wait for the next one, which
 * covers all of them. Nothing is acknowledged before its commit is durable, as with FULL, but
 * the event loop never blocks on the disk and N concurrent commits cost about one fsync.
 */
import { closeSync, fsync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

export interface WalSync {
  /** Counts a commit (or a rollback) that wrote to the WAL. */
  noteCommit(): void;
  /** Resolves when every commit noted so far is on disk. */
  waitDurable(): Promise<void>;
  /** Waits for a sync in flight, then closes the file; later waits fail. */
  close(): Promise<void>;
}

export type SyncFile = (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;

/**
 * Syncs `<databasePath>-wal`, which SQLite keeps while a connection is open in WAL mode.
 * `syncFile` is node:fs's fsync unless a test counts or fails the syncs.
 */
export function createWalSync(databasePath: string, syncFile: SyncFile = fsync): WalSync {
  let fd: number | undefined;
  let committed = 0;
  let durable = 0;
  let syncing = false;
  let closed = false;
  let idle: (() => void) | undefined;
  const waiters: { seq: number; resolve: () => void; reject: (error: Error) => void }[] = [];

  const walFd = (): number => {
    if (fd !== undefined) return fd;
    fd = openSync(`${databasePath}-wal`, 'r');
    // The WAL's directory entry must survive a power loss too: sync the directory once.
    const dirFd = openSync(dirname(databasePath), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    return fd;
  };

  const settle = (error: Error | null, target: number): void => {
    syncing = false;
    idle?.();
    if (error !== null) {
      // A failed fsync may have dropped dirty pages (Linux clears the error after reporting it
      // once): nothing written before it can be called durable again. Fail every waiter and
      // every later one, as the ledger does, rather than acknowledge a write that may be lost.
      closed = true;
      for (const waiter of waiters.splice(0)) waiter.reject(error);
      return;
    }
    durable = target;
    let kept = 0;
    for (const waiter of waiters) {
      if (waiter.seq <= durable) waiter.resolve();
      else waiters[kept++] = waiter;
    }
    waiters.length = kept;
    if (waiters.length > 0) startSync();
  };

  const startSync = (): void => {
    if (syncing) return;
    syncing = true;
    const target = committed;
    let handle: number;
    try {
      handle = walFd();
    } catch (error) {
      settle(error as Error, target);
      return;
    }
    syncFile(handle, (error) => settle(error, target));
  };

  return {
    noteCommit: () => {
      committed++;
    },
    waitDurable: () => {
      if (closed) return Promise.reject(new Error('platform database: WAL sync failed or closed'));
      if (durable >= committed) return Promise.resolve();
      const seq = committed;
      return new Promise<void>((resolve, reject) => {
        waiters.push({ seq, resolve, reject });
        startSync();
      });
    },
    close: async () => {
      while (syncing) await new Promise<void>((resolve) => (idle = resolve));
      closed = true;
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
