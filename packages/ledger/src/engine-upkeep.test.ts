import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '@mite/testkit';
import { LedgerEngine, upkeepBatchesMax, upkeepQuietMs } from './engine.ts';
import { systemClockNs } from './open-ledger.ts';
import { openSqliteStorage } from './sqlite/sqlite-storage.ts';
import type { LedgerStorage } from './storage.ts';
import { accountEvent, transferEvent } from './testing/events.ts';

/** An engine on a real SQLite store whose upkeep steps are counted. */
async function countingEngine(t: { after(fn: () => Promise<void>): void }) {
  const storage = openSqliteStorage(path.join(tempDir('mite-upkeep-'), 'ledger.sqlite'));
  const counts = { upkeepSteps: 0 };
  const idle = storage.idle?.bind(storage);
  assert.ok(idle !== undefined, 'the SQLite store has upkeep to do');
  const counted: LedgerStorage = Object.assign(Object.create(storage) as LedgerStorage, {
    idle: () => {
      counts.upkeepSteps++;
      return idle();
    },
  });
  const engine = new LedgerEngine(
    { storage: counted, clock: systemClockNs, batchSizeMax: 8190, batchWaitMs: 0 },
    await storage.load(),
  );
  t.after(async () => {
    await engine.close();
    await storage.close();
  });
  assert.deepEqual(await engine.submitAccounts([accountEvent(1n), accountEvent(2n)]), ['ok', 'ok']);
  return { engine, counts };
}

/** Turns of the event loop: for what a timer started (a flush, an upkeep step) to run. */
async function turns(count = 20): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

test('upkeep waits for a quiet moment, not for each gap between batches', async (t) => {
  // The quiet moment is timed by setTimeout, here on a clock the test moves.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { engine, counts } = await countingEngine(t);
  // Whatever upkeep the set-up left is done first.
  for (let i = 0; i < 3; i++) {
    t.mock.timers.tick(upkeepQuietMs);
    await turns();
  }
  counts.upkeepSteps = 0;
  // One batch after another, each submitted as soon as the one before is answered: the engine
  // is idle for an instant after each, never for upkeepQuietMs.
  const burst = upkeepBatchesMax - 2;
  for (let i = 0; i < burst; i++) {
    assert.deepEqual(await engine.submitTransfers([transferEvent(BigInt(100 + i))]), ['ok']);
  }
  assert.equal(counts.upkeepSteps, 0, 'no upkeep between the batches of a burst');
  await turns(); // the end of the last flush arms the quiet timer
  t.mock.timers.tick(upkeepQuietMs - 1);
  await turns();
  assert.equal(counts.upkeepSteps, 0, 'not before the engine was quiet for upkeepQuietMs');
  t.mock.timers.tick(1);
  await turns();
  assert.ok(counts.upkeepSteps >= 1, 'upkeep once the engine was quiet');
});

test('under a long burst upkeep still runs, about once per upkeepBatchesMax batches', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { engine, counts } = await countingEngine(t);
  for (let i = 0; i < 3; i++) {
    t.mock.timers.tick(upkeepQuietMs);
    await turns();
  }
  counts.upkeepSteps = 0;
  const burst = upkeepBatchesMax * 4;
  for (let i = 0; i < burst; i++) {
    assert.deepEqual(await engine.submitTransfers([transferEvent(BigInt(1_000 + i))]), ['ok']);
  }
  assert.ok(counts.upkeepSteps >= 2, `${counts.upkeepSteps} steps in ${burst} batches`);
  assert.ok(counts.upkeepSteps <= 5, `${counts.upkeepSteps} steps in ${burst} batches`);
});
