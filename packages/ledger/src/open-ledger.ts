import { batchSizeMaxDefault, batchWaitMsDefault, LedgerEngine } from './engine.ts';
import { openSqliteStorage } from './sqlite/sqlite-storage.ts';
import type { LedgerStorage } from './storage.ts';
import {
  type AccountFilter,
  type AccountRecord,
  accountTransfersLimitMax,
  type Ledger,
  type TransferRecord,
} from './types.ts';
import {
  eventsPerCallMax,
  LedgerInputError,
  parseAccounts,
  parseIds,
  parseTransfers,
} from './validate.ts';
import { verifyStore } from './verify.ts';

export interface LedgerOptions {
  /** `sqlite:PATH`, `sqlite::memory:`, or `postgres://...` / `postgresql://...`. */
  readonly url: string;
  /** The engine clock in nanoseconds since the epoch; tests pass their own. */
  readonly clock?: () => bigint;
  /** Most events in one group-committed batch. */
  readonly batchSizeMax?: number;
  /** How long to wait for more submissions before writing a batch. */
  readonly batchWaitMs?: number;
  /** Fold every transfer on open and refuse a store whose balances disagree (default true). */
  readonly verifyOnOpen?: boolean;
}

/** The wall clock in nanoseconds. */
export function systemClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export async function openLedger(options: LedgerOptions): Promise<Ledger> {
  const batchSizeMax = options.batchSizeMax ?? batchSizeMaxDefault;
  if (!Number.isInteger(batchSizeMax) || batchSizeMax < 1 || batchSizeMax > eventsPerCallMax) {
    throw new LedgerInputError(`batchSizeMax must be an integer in 1..${eventsPerCallMax}`);
  }
  if (options.url.startsWith('postgres://') || options.url.startsWith('postgresql://')) {
    return openPostgresLedger(options, batchSizeMax);
  }
  const storage = await openStorage(options.url);
  try {
    const engine = new LedgerEngine(
      {
        storage,
        clock: options.clock ?? systemClockNs,
        batchSizeMax,
        batchWaitMs: options.batchWaitMs ?? batchWaitMsDefault,
      },
      await storage.load(),
    );
    if (options.verifyOnOpen !== false) {
      const report = await verifyStore(storage, engine.committed);
      if (!report.ok) {
        throw new Error(
          `the ledger store failed verification on open: ${report.problems.join('; ')}`,
        );
      }
    }
    return createLedger(engine, storage);
  } catch (error) {
    await storage.close();
    throw error;
  }
}

async function openStorage(url: string): Promise<LedgerStorage> {
  if (url.startsWith('sqlite:')) {
    const location = url.slice('sqlite:'.length);
    if (location === '') throw new LedgerInputError('sqlite: URL needs a path or :memory:');
    return openSqliteStorage(location);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    // Loaded on demand so that a SQLite deployment never loads the PostgreSQL client.
    const { openPostgresStorage } = await import('./postgres/postgres-storage.ts');
    return openPostgresStorage(url);
  }
  throw new LedgerInputError('ledger url must start with sqlite: or postgres://');
}

/**
 * PostgreSQL: a node that writes while it holds the writer lock and forwards its writes to the
 * node that holds it otherwise (postgres-node.ts). Loaded on demand so that a SQLite deployment
 * never loads the PostgreSQL client.
 */
async function openPostgresLedger(options: LedgerOptions, batchSizeMax: number): Promise<Ledger> {
  const { PostgresLedgerNode } = await import('./postgres/postgres-node.ts');
  const node = await PostgresLedgerNode.open({
    url: options.url,
    clock: options.clock ?? systemClockNs,
    batchSizeMax,
    batchWaitMs: options.batchWaitMs ?? batchWaitMsDefault,
    verifyOnOpen: options.verifyOnOpen !== false,
  });
  let closing: Promise<void> | undefined;
  return {
    createAccounts: async (accounts) => node.submit('accounts', parseAccounts(accounts)),
    createTransfers: async (transfers) => node.submit('transfers', parseTransfers(transfers)),
    lookupAccounts: async (ids) => {
      const parsed = parseIds(ids, 'ids');
      const engine = node.engine;
      if (engine === undefined) return node.reader.lookupAccounts(parsed);
      await engine.writesSettled();
      return durableAccounts(engine, parsed);
    },
    lookupTransfers: async (ids) => node.lookupTransfers(parseIds(ids, 'ids')),
    getAccountTransfers: async (filter) => {
      const parsed = parseFilter(filter);
      const engine = node.engine;
      if (engine === undefined) return node.reader.getAccountTransfers(parsed);
      await engine.writesSettled();
      return node.reader.getAccountTransfers(upToDurable(engine, parsed));
    },
    verify: () => node.verify(),
    close: () => (closing ??= node.close()),
  };
}

function createLedger(engine: LedgerEngine, storage: LedgerStorage): Ledger {
  let closing: Promise<void> | undefined;
  return {
    createAccounts: async (accounts) => engine.submitAccounts(parseAccounts(accounts)),
    createTransfers: async (transfers) => engine.submitTransfers(parseTransfers(transfers)),
    // Lookups see durable state only: a batch still being written is not there yet.
    lookupAccounts: async (ids) => durableAccounts(engine, parseIds(ids, 'ids')),
    lookupTransfers: async (ids): Promise<TransferRecord[]> => {
      const found = await storage.lookupTransfers(parseIds(ids, 'ids'));
      const durableNs = engine.durable.timestampNs;
      return found.filter((transfer) => transfer.timestamp <= durableNs);
    },
    getAccountTransfers: async (filter) =>
      storage.getAccountTransfers(upToDurable(engine, parseFilter(filter))),
    verify: () => engine.exclusive(() => verifyStore(storage, engine.committed)),
    close: () => {
      closing ??= engine.close().then(() => storage.close());
      return closing;
    },
  };
}

/** The accounts as of the engine's last durable batch (ids not found are absent). */
function durableAccounts(engine: LedgerEngine, ids: readonly bigint[]): AccountRecord[] {
  const accounts = engine.durable.accounts;
  return ids
    .map((id) => accounts.get(id))
    .filter((account): account is AccountRecord => account !== undefined);
}

/** The filter, capped at the engine's last durable batch: nothing newer is visible yet. */
function upToDurable(engine: LedgerEngine, filter: AccountFilter): AccountFilter {
  const durableNs = engine.durable.timestampNs;
  const max = filter.timestampMax;
  return { ...filter, timestampMax: max === undefined || max > durableNs ? durableNs : max };
}

function parseFilter(filter: AccountFilter): AccountFilter {
  const [accountId] = parseIds([filter.accountId], 'filter.accountId');
  if (accountId === undefined) throw new Error('bug: parseIds lost an id');
  const { limit } = filter;
  if (!Number.isInteger(limit) || limit < 1 || limit > accountTransfersLimitMax) {
    throw new LedgerInputError(`filter.limit must be an integer in 1..${accountTransfersLimitMax}`);
  }
  for (const bound of [filter.timestampMin, filter.timestampMax]) {
    if (bound !== undefined && (typeof bound !== 'bigint' || bound < 0n || bound >= 1n << 63n)) {
      throw new LedgerInputError('filter timestamps must be bigint nanoseconds in 0..2^63-1');
    }
  }
  return filter;
}
