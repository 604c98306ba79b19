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
import { accountEvent, transferEvent } from './testing/events.ts';
import type { TransferEvent } from './validate.ts';

/** A top-up's shape: a credit linked to its card fee, under fixed ids. */
const chain = (): TransferEvent[] => [
  transferEvent(1_000n, { linked: true, amount: 5n }),
  transferEvent(1_001n, { debitAccountId: 2n, creditAccountId: 3n }),
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

/**
 * What two overlapping batches submit, and what the second must answer. `before` is made
 * durable first, with no write held.
 */
interface OverlapCase {
  readonly name: string;
  readonly before: TransferEvent[];
  readonly first: TransferEvent[];
  readonly second: TransferEvent[];
  readonly firstResults: string[];
  readonly secondResults: string[];
}

const overlapCases: readonly OverlapCase[] = [
  {
    name: 'the same linked chain is created once',
    before: [],
    first: chain(),
    second: chain(),
    firstResults: ['ok', 'ok'],
    // As in TigerBeetle: the chain's first event exists, which fails the rest of the chain.
    secondResults: ['exists', 'linkedEventFailed'],
  },
  {
    // Here the second batch read the pending transfer as still pending, and posted it again.
    name: 'a pending transfer is posted once',
    before: [transferEvent(500n, { pending: true, amount: 7n })],
    first: [transferEvent(501n, { postPending: true, pendingId: 500n, amount: 0n })],
    second: [transferEvent(502n, { postPending: true, pendingId: 500n, amount: 0n })],
    firstResults: ['ok'],
    secondResults: ['pendingTransferAlreadyPosted'],
  },
];

async function checkOverlap(
  t: TestContext,
  storage: LedgerStorage,
  overlap: OverlapCase,
): Promise<void> {
  const { storage: wrapped, hold } = overlapping(storage);
  const engine = new LedgerEngine(
    { storage: wrapped, clock: systemClockNs, batchSizeMax: 8190, batchWaitMs: 0 },
    await storage.load(),
  );
  t.after(async () => {
    await engine.close();
    await storage.close();
  });
  const accounts = [accountEvent(1n), accountEvent(2n), accountEvent(3n)];
  assert.deepEqual(await engine.submitAccounts(accounts), ['ok', 'ok', 'ok']);
  if (overlap.before.length > 0) {
    const ok = overlap.before.map(() => 'ok');
    assert.deepEqual(await engine.submitTransfers(overlap.before), ok);
  }
  hold.armed = true;
  const first = engine.submitTransfers(overlap.first);
  // The first batch is applied and its write held before the second is taken.
  await nextTurn();
  const second = engine.submitTransfers(overlap.second);
  assert.deepEqual(await first, overlap.firstResults);
  assert.ok(hold.overlapped, 'the second batch read the store while the first was written');
  assert.deepEqual(await second, overlap.secondResults);
  // Submitted again with nothing in flight, the answer is the same.
  assert.deepEqual(await engine.submitTransfers(overlap.second), overlap.secondResults);
}

// A batch read the store while the batch before it was still being written; that write became
// durable (and left the engine's batches in flight) before the read was answered, but after
// the read had looked. The second batch saw the first's work in neither place: it created the
// chain again (a duplicate key), or found the pending transfer still pending.
for (const overlap of overlapCases) {
  const title = `overlapping batches: ${overlap.name}`;

  test(`${title} (SQLite)`, async (t) => {
    const file = path.join(tempDir('mite-overlap-'), 'ledger.sqlite');
    await checkOverlap(t, openSqliteStorage(file), overlap);
  });

  test(`${title} (PostgreSQL)`, async (t) => {
    const url = await freshPgDatabase();
    if (url === undefined) {
      t.skip('PostgreSQL is not installed (set MITE_REQUIRE_PG=1 to fail)');
      return;
    }
    await checkOverlap(t, await openPostgresStorage(url), overlap);
  });
}
