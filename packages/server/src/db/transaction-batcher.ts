/**
 * Group commit for the platform database: small units of work that arrive together share one
 * transaction.
 *
 * A purchase writes a few rows (the payment, its outcome and webhook event); as separate commits,
 * each of those rewrites the same B-tree pages to the WAL and waits for its own turn on the one
 * SQLite connection. Queued while a batch is running, units instead
 * run one after another inside the next batch's transaction, which commits (and, on SQLite,
 * becomes durable) once for all of them; each caller gets its own unit's result after that commit.
 *
 * A unit must touch nothing but the transaction it is given (no ledger call, no network): the
 * batch waits for every unit. Units see the writes of the units before them in the batch, as
 * they would have seen those commits. A unit that throws (a bug, a constraint violation, a
 * serialization failure between nodes) rolls the whole batch back; each of its other units is
 * then run again in a transaction of its own, so only the failing unit fails.
 *
 * Every unit is answered once its batch is durable: there is one durability rule, and no unit
 * asks for less. On SQLite the batch releases the connection at commit and waits for the WAL's
 * sync itself (PlatformDb.deferDurableWait): other queries run meanwhile (and, like every read,
 * wait for the sync before they answer).
 */
import type { Transaction } from 'kysely';
import type { PlatformDb } from './platform-db.ts';
import type { PlatformSchema } from './schema.ts';

/** Units in one transaction at most: bounds how long one batch holds the write lock. */
export const transactionBatchSizeMax = 256;

/**
 * Batches committing at once. SQLite has one connection and one writer, so one; PostgreSQL runs a
 * few on separate connections, so that its round trips overlap.
 */
export const concurrentBatchesMax = { sqlite: 1, postgres: 4 } as const;

export type TransactionUnit<T> = (tx: Transaction<PlatformSchema>) => Promise<T>;

export interface TransactionBatcher {
  /** Runs `unit` in a transaction shared with the units queued with it; resolves once durable. */
  run<T>(unit: TransactionUnit<T>): Promise<T>;
  /** Resolves once no unit is queued or running (before closing the database). */
  drain(): Promise<void>;
}

interface Queued {
  readonly unit: TransactionUnit<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export function createTransactionBatcher(platformDb: PlatformDb): TransactionBatcher {
  const batchesMax = concurrentBatchesMax[platformDb.dialect];
  const queue: Queued[] = [];
  let running = 0;
  const drained: (() => void)[] = [];

  const startBatches = (): void => {
    while (running < batchesMax && queue.length > 0) {
      running++;
      const batch = queue.splice(0, transactionBatchSizeMax);
      // The next batch starts once this one is durable, not at its commit: meanwhile the queue
      // fills, and a commit, which costs about as much as several units' statements, is shared
      // by more units. (Started at commit, batches held under two units each.)
      void commitBatch(platformDb, batch, () => {
        running--;
        startBatches();
        if (running === 0 && queue.length === 0) {
          for (const resolve of drained.splice(0)) resolve();
        }
      });
    }
  };

  return {
    run<T>(unit: TransactionUnit<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ unit, resolve: resolve as (value: unknown) => void, reject });
        startBatches();
      });
    },
    drain(): Promise<void> {
      if (running === 0 && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => drained.push(resolve));
    },
  };
}

/** Commits `batch` and answers its units; calls `settled` once it is durable or failed. */
async function commitBatch(
  platformDb: PlatformDb,
  batch: readonly Queued[],
  settled: () => void = () => {},
): Promise<void> {
  // On SQLite the batch waits for durability itself, with the connection released.
  const ownWait = platformDb.dialect === 'sqlite';
  let results: unknown[];
  try {
    results = await platformDb.db.transaction().execute(async (tx) => {
      if (ownWait) platformDb.deferDurableWait();
      const done: unknown[] = [];
      for (const queued of batch) done.push(await queued.unit(tx));
      return done;
    });
  } catch (error) {
    if (batch.length === 1) {
      // The caller hears of its failure before a drain may end, as it hears of a success.
      batch[0]?.reject(error);
      settled();
      return;
    }
    // Which unit failed is unknown (the commit itself may have): each runs again on its own,
    // before the next batch starts (and before a drain may end).
    await Promise.all(batch.map((queued) => commitBatch(platformDb, [queued])));
    settled();
    return;
  }
  let synced: unknown = undefined;
  try {
    if (ownWait) await platformDb.waitDurable();
  } catch (error) {
    synced = error ?? new Error('platform database: WAL sync failed');
  }
  batch.forEach((queued, index) => {
    if (synced === undefined) queued.resolve(results[index]);
    else queued.reject(synced);
  });
  settled();
}
