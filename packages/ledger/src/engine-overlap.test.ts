import assert from 'node:assert/strict';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { freshPgDatabase, tempDir } from '@mite/testkit';
import { LedgerEngine } from './engine.ts';
import { systemClockNs } from './open-ledger.ts';
import { openPostgresStorage } from './postgres/postgres-storage.ts';
import { openSqliteStorage } from './sqlite/sqlite-storage.ts';
import type { BatchReads, BatchWrites, LedgerStorage } from './storage.ts';
import type { AccountEvent, TransferEvent } from './validate.ts';

const account = (id: bigint): AccountEvent => ({
  id,
  ledger: 1,
  code: 1,
  userData: 0n,
  linked: false,
  debitsMustNotExceedCredits: false,
  creditsMustNotExceedDebits: false,
  closed: false,
});

const transfer = (id: bigint, fields: Partial<TransferEvent> = {}): TransferEvent => ({
  id,
  debitAccountId: 1n,
  creditAccountId: 2n,
  amount: 1n,
  ledger: 1,
  code: 1,
  pendingId: 0n,
  timeoutSeconds: 0,
  userData: 0n,
  linked: false,
  pending: false,
  postPending: false,
  voidPending: false,
  balancingDebit: false,
  balancingCredit: false,
  ...fields,
});

/** A top-up's shape: a credit linked to its card fee, under fixed ids. */
const chain = (): TransferEvent[] => [
  transfer(1_000n, { linked: true, amount: 5n }),
  transfer(1_001n, { debitAccountId: 2n, creditAccountId: 3n }),
];

/**
 * The store, with one write held back until the next batch's read has been answered by the
 * store, and that read handed to the engine only once the held write is durable and the engine
 * has seen it so: the read missed the write, which is no longer in flight.
 */
function overlapping(storage: LedgerStorage) {
  let held = false;
  let release: () => void = () => {};
  const releasedWrite = new Promise<void>((resolve) => (release = resolve));
  let written: Promise<void> = Promise.resolve();
  const wrapped: LedgerStorage = Object.assign(Object.create(storage) as LedgerStorage, {
    write(writes: BatchWrites): Promise<void> {
      if (!hold.armed) return storage.write(writes);
      hold.armed = false;
      held = true;
      written = releasedWrite.then(() => storage.write(writes));
      return written;
    },
    async read(ids: readonly bigint[]): Promise<BatchReads> {
      const reads = await storage.read(ids);
      if (!held) return reads;
      held = false;
      hold.overlapped = true;
      release();
      await written;
      // Every callback of the engine's durable chain runs before the next turn.
      await nextTurn();
      return reads;
    },
  });
  const hold = { armed: false, overlapped: false };
  return { storage: wrapped, hold };
}

async function checkOverlap(t: TestContext, storage: LedgerStorage): Promise<void> {
  const { storage: wrapped, hold } = overlapping(storage);
  const engine = new LedgerEngine(
    { storage: wrapped, clock: systemClockNs, batchSizeMax: 8190, batchWaitMs: 0 },
    await storage.load(),
  );
  t.after(async () => {
    await engine.close();
    await storage.close();
  });
  assert.deepEqual(await engine.submitAccounts([account(1n), account(2n), account(3n)]), [
    'ok',
    'ok',
    'ok',
  ]);
  hold.armed = true;
  const first = engine.submitTransfers(chain());
  // The first batch is applied and its write held before the second is taken.
  await nextTurn();
  const second = engine.submitTransfers(chain());
  assert.deepEqual(await first, ['ok', 'ok']);
  assert.ok(hold.overlapped, 'the second batch read the store while the first was written');
  // As in TigerBeetle: the chain's first event exists, which fails the rest of the chain.
  const again = ['exists', 'linkedEventFailed'];
  assert.deepEqual(await second, again);
  assert.deepEqual(await engine.submitTransfers(chain()), again);
}

// A batch read the store while the batch before it was still being written; that write became
// durable (and left the engine's batches in flight) before the read was answered, but after
// the read had looked. The second batch saw the chain in neither place and wrote it again.
const title = 'a batch sees the transfers of a batch that became durable while it read the store';

test(`${title} (SQLite)`, async (t) => {
  await checkOverlap(t, openSqliteStorage(path.join(tempDir('mite-overlap-'), 'ledger.sqlite')));
});

test(`${title} (PostgreSQL)`, async (t) => {
  const url = await freshPgDatabase();
  if (url === undefined) {
    t.skip('PostgreSQL is not installed (set MITE_REQUIRE_PG=1 to fail)');
    return;
  }
  await checkOverlap(t, await openPostgresStorage(url));
});
