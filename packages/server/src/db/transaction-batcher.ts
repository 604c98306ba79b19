/**
 * Group commit for the platform database: small units of work that arrive together share one
 * transaction.
 *
 * A purchase writes a few rows (its idempotency record, the payment, its outcome and webhook
 * event); as separate commits, each of those rewrites the same B-tree pages to the WAL and waits
 * for its own turn on the one SQLite connection. Queued while a batch is running, units instead
 * run one after another inside the next batch's transaction, which commits (and, on SQLite,
 * becomes durable) once for all of them; each caller gets its own unit's result after that commit.
 *
 * A unit must touch nothing but the transaction it is given (no ledger call, no network): the
 * batch waits for every unit. Units see the writes of the units before them in the batch, as
 * they would have seen those commits. A unit that throws (a bug, a constraint violation, a
 * serialization failure between nodes) rolls the whole batch back; each of its other units is
 * then run again in a transaction of its own, so only the failing unit fails.
 */
import type { Kysely, Transaction } from 'kysely';
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
  /** Runs `unit` in a transaction shared with the units queued with it; resolves after commit. */
  run<T>(unit: TransactionUnit<T>): Promise<T>;
}

interface Queued {
  readonly unit: TransactionUnit<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export function createTransactionBatcher(platformDb: PlatformDb): TransactionBatcher {
  const { db } = platformDb;
  const batchesMax = concurrentBatchesMax[platformDb.dialect];
  const queue: Queued[] = [];
  let running = 0;

  const startBatches = (): void => {
    while (running < batchesMax && queue.length > 0) {
      running++;
      const batch = queue.splice(0, transactionBatchSizeMax);
      void commitBatch(db, batch).finally(() => {
        running--;
        startBatches();
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
  };
}

async function commitBatch(db: Kysely<PlatformSchema>, batch: readonly Queued[]): Promise<void> {
  let results: unknown[];
  try {
    results = await db.transaction().execute(async (tx) => {
      const done: unknown[] = [];
      for (const queued of batch) done.push(await queued.unit(tx));
      return done;
    });
  } catch (error) {
    if (batch.length === 1) {
      batch[0]?.reject(error);
      return;
    }
    // Which unit failed is unknown (the commit itself may have): each runs again on its own.
    await Promise.all(batch.map((queued) => commitBatch(db, [queued])));
    return;
  }
  batch.forEach((queued, index) => queued.resolve(results[index]));
}
