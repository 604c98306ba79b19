import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { freshPgDatabase } from '@mite/testkit';
import { openPostgresStorage } from './postgres-storage.ts';
import type { BatchWrites, LedgerStorage } from '../storage.ts';
import { type AccountRecord, type TransferRecord, U128_MAX } from '../types.ts';

/**
 * A fresh database, or undefined after marking the test skipped when PostgreSQL is not installed.
 * With MITE_REQUIRE_PG=1, freshPgDatabase throws instead, so the test fails rather than skips.
 */
async function database(t: TestContext): Promise<string | undefined> {
  const url = await freshPgDatabase();
  if (url === undefined) t.skip('PostgreSQL is not installed (set MITE_REQUIRE_PG=1 to fail)');
  return url;
}

const noWrites: BatchWrites = {
  accountsCreated: [],
  accountsUpdated: [],
  transfersCreated: [],
  failedIds: [],
  pendingsCreated: [],
  pendingsResolved: [],
};

function account(id: bigint, timestamp: bigint, fields: Partial<AccountRecord> = {}) {
  return {
    id,
    ledger: 1,
    code: 1,
    flags: { debitsMustNotExceedCredits: false, creditsMustNotExceedDebits: false, closed: false },
    userData: 0n,
    debitsPending: 0n,
    debitsPosted: 0n,
    creditsPending: 0n,
    creditsPosted: 0n,
    timestamp,
    ...fields,
  } satisfies AccountRecord;
}

function transfer(
  id: bigint,
  debitAccountId: bigint,
  creditAccountId: bigint,
  amount: bigint,
  timestamp: bigint,
  fields: Partial<TransferRecord> = {},
) {
  return {
    id,
    debitAccountId,
    creditAccountId,
    amount,
    ledger: 1,
    code: 1,
    flags: {
      pending: false,
      postPending: false,
      voidPending: false,
      balancingDebit: false,
      balancingCredit: false,
    },
    pendingId: 0n,
    timeoutSeconds: 0,
    userData: 0n,
    timestamp,
    ...fields,
  } satisfies TransferRecord;
}

const ids = (records: readonly { id: bigint }[]) => records.map((r) => r.id);

// Values at the edges of every column's range.
const big = U128_MAX;
const A = U128_MAX - 1n;
const B = 2n;
const C = 1n << 127n;
const u32Max = 0xffff_ffff;
const t0 = 1_700_000_000_000_000_000n;

const accountA = account(A, t0 + 1n, {
  ledger: u32Max,
  code: u32Max,
  flags: { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: false, closed: false },
  userData: big,
});
const accountB = account(B, t0 + 2n, {
  ledger: u32Max,
  flags: { debitsMustNotExceedCredits: false, creditsMustNotExceedDebits: true, closed: true },
});
const accountC = account(C, t0 + 3n, { ledger: u32Max });

const t1 = transfer(big - 5n, A, B, big, t0 + 10n, { ledger: u32Max, code: u32Max, userData: big });
const pendingT2 = transfer(7n, B, A, 5n, t0 + 11n, {
  ledger: u32Max,
  flags: { ...t1.flags, pending: true },
  timeoutSeconds: u32Max,
});
const t3 = transfer(8n, A, C, 1n, t0 + 12n, { ledger: u32Max, userData: 1n << 100n });
const pendingT4 = transfer(9n, A, C, 3n, t0 + 13n, {
  ledger: u32Max,
  flags: { ...t1.flags, pending: true },
});
const postT5 = transfer(10n, B, A, 4n, t0 + 20n, {
  ledger: u32Max,
  flags: { ...t1.flags, postPending: true },
  pendingId: pendingT2.id,
});

test('write, read, load, lookup, history and scans round-trip u128 values', async (t) => {
  const url = await database(t);
  if (url === undefined) return;
  let storage: LedgerStorage = await openPostgresStorage(url);
  try {
    assert.equal(storage.kind, 'postgres');
    assert.deepEqual(await storage.load(), {
      accounts: [],
      openPendings: [],
      lastTimestamp: 0n,
      maxTransferId: 0n,
    });
    await storage.write(noWrites);

    await storage.write({
      ...noWrites,
      accountsCreated: [accountA, accountB, accountC],
      transfersCreated: [t1, pendingT2, t3, pendingT4],
      failedIds: [{ id: big - 1n, result: 'exceedsCredits' }],
      pendingsCreated: [
        { id: pendingT2.id, expiresAt: t0 + 11n + BigInt(u32Max) * 1_000_000_000n },
        { id: pendingT4.id, expiresAt: 0n },
      ],
    });

    const reads = await storage.read([t1.id, pendingT2.id, pendingT4.id, big - 1n, 12345n]);
    assert.deepEqual(
      reads.transfers,
      new Map(ids([t1, pendingT2, pendingT4]).map((id, i) => [id, [t1, pendingT2, pendingT4][i]])),
    );
    assert.deepEqual(
      reads.pendingStatuses,
      new Map([
        [pendingT2.id, 'pending'],
        [pendingT4.id, 'pending'],
      ]),
    );
    assert.deepEqual(reads.failedIds, new Set([big - 1n]));
    assert.deepEqual(await storage.read([]), {
      transfers: new Map(),
      pendingStatuses: new Map(),
      failedIds: new Set(),
    });

    // Second batch: balances near the top of the range, a post and an expiry.
    const updatedA = { ...accountA, debitsPosted: big, creditsPosted: big - 1n, debitsPending: 3n };
    const updatedB = { ...accountB, creditsPosted: big, debitsPosted: 4n };
    await storage.write({
      ...noWrites,
      accountsUpdated: [updatedA, updatedB],
      transfersCreated: [postT5],
      pendingsResolved: [{ id: pendingT2.id, status: 'posted' }],
    });

    const state = await storage.load();
    assert.deepEqual(state.accounts, [updatedA, updatedB, accountC]);
    assert.deepEqual(state.openPendings, [{ transfer: pendingT4, expiresAt: 0n }]);
    assert.equal(state.lastTimestamp, postT5.timestamp);
    // The largest id of any transfer or failed transfer: the failed id big - 1.
    assert.equal(state.maxTransferId, big - 1n);
    assert.deepEqual(
      (await storage.read([pendingT2.id])).pendingStatuses,
      new Map([[pendingT2.id, 'posted']]),
    );

    assert.deepEqual(await storage.lookupTransfers([postT5.id, 404n, t1.id, t3.id]), [
      postT5,
      t1,
      t3,
    ]);
    assert.deepEqual(await storage.lookupTransfers([]), []);

    const history = (
      filter: Omit<Parameters<LedgerStorage['getAccountTransfers']>[0], 'accountId'>,
    ) => storage.getAccountTransfers({ accountId: A, ...filter }).then(ids);
    assert.deepEqual(await history({ limit: 100 }), ids([t1, pendingT2, t3, pendingT4, postT5]));
    assert.deepEqual(
      await history({ limit: 100, reversed: true }),
      ids([postT5, pendingT4, t3, pendingT2, t1]),
    );
    assert.deepEqual(await history({ limit: 100, debits: true }), ids([t1, t3, pendingT4]));
    assert.deepEqual(await history({ limit: 100, credits: true }), ids([pendingT2, postT5]));
    assert.deepEqual(
      await history({ limit: 100, debits: true, credits: true }),
      ids([t1, pendingT2, t3, pendingT4, postT5]),
    );
    assert.deepEqual(await history({ limit: 100, debits: false, credits: false }), []);
    assert.deepEqual(await history({ limit: 2 }), ids([t1, pendingT2]));
    assert.deepEqual(await history({ limit: 2, reversed: true }), ids([postT5, pendingT4]));
    assert.deepEqual(
      await history({ limit: 100, timestampMin: t3.timestamp, timestampMax: pendingT4.timestamp }),
      ids([t3, pendingT4]),
    );
    assert.deepEqual(
      await history({ limit: 1, timestampMin: pendingT2.timestamp, credits: true, reversed: true }),
      ids([postT5]),
    );
    assert.deepEqual(
      await history({ limit: 100, timestampMax: (1n << 64n) - 1n }),
      ids([t1, pendingT2, t3, pendingT4, postT5]),
    );
    assert.deepEqual(await history({ limit: 100, timestampMin: t0 + 100n }), []);
    assert.deepEqual(await storage.getAccountTransfers({ accountId: C, limit: 10 }), [
      t3,
      pendingT4,
    ]);

    const chunks: TransferRecord[][] = [];
    for await (const chunk of storage.scanTransfers()) chunks.push(chunk);
    assert.deepEqual(chunks, [[t1, pendingT2, t3, pendingT4, postT5]]);
    assert.deepEqual(await storage.scanAccounts(), [updatedA, updatedB, accountC]);
    assert.deepEqual(
      await storage.scanPendingStatuses(),
      new Map([
        [pendingT2.id, 'posted'],
        [pendingT4.id, 'pending'],
      ]),
    );

    // Everything survives a reopen.
    await storage.close();
    storage = await openPostgresStorage(url);
    assert.deepEqual(await storage.load(), state);
  } finally {
    await storage.close();
  }
});

test('a failing write leaves nothing behind, and the store stays usable', async (t) => {
  const url = await database(t);
  if (url === undefined) return;
  const storage = await openPostgresStorage(url);
  try {
    const x = transfer(100n, A, B, 1n, t0 + 10n);
    await assert.rejects(
      storage.write({
        ...noWrites,
        accountsCreated: [accountA, accountB],
        transfersCreated: [x, { ...x, timestamp: t0 + 11n }],
        failedIds: [{ id: 5n, result: 'accountClosed' }],
        pendingsCreated: [{ id: 6n, expiresAt: 0n }],
      }),
      /duplicate key/,
    );
    assert.deepEqual(await storage.load(), {
      accounts: [],
      openPendings: [],
      lastTimestamp: 0n,
      maxTransferId: 0n,
    });
    assert.deepEqual((await storage.read([5n, x.id])).failedIds, new Set());

    await storage.write({
      ...noWrites,
      accountsCreated: [accountA, accountB],
      transfersCreated: [x],
    });
    const before = await storage.load();

    // The same transfer id again, in a batch that also moves balances and records a failure.
    await assert.rejects(
      storage.write({
        ...noWrites,
        accountsUpdated: [{ ...accountA, debitsPosted: 50n }],
        transfersCreated: [transfer(101n, A, B, 2n, t0 + 20n), { ...x, timestamp: t0 + 21n }],
        failedIds: [{ id: 7n, result: 'exceedsCredits' }],
      }),
      /duplicate key/,
    );
    assert.deepEqual(await storage.load(), before);
    assert.deepEqual(await storage.lookupTransfers([101n]), []);
    assert.deepEqual((await storage.read([7n])).failedIds, new Set());

    // An update of an account that does not exist is a corrupt batch: refused as a whole.
    await assert.rejects(
      storage.write({
        ...noWrites,
        accountsUpdated: [{ ...accountC, debitsPosted: 1n }],
        transfersCreated: [transfer(102n, A, B, 2n, t0 + 30n)],
      }),
      /corrupt batch/,
    );
    assert.deepEqual(await storage.load(), before);

    // And the connection is not stuck in an aborted transaction.
    await storage.write({ ...noWrites, transfersCreated: [transfer(103n, A, B, 2n, t0 + 40n)] });
    assert.equal((await storage.lookupTransfers([103n])).length, 1);
  } finally {
    await storage.close();
  }
});

test('one writer: a second open of the same database fails until the first closes', async (t) => {
  const url = await database(t);
  if (url === undefined) return;
  const first = await openPostgresStorage(url);
  try {
    await assert.rejects(openPostgresStorage(url), /open elsewhere/);
    await assert.rejects(openPostgresStorage(url), /writer lock/);
  } finally {
    await first.close();
  }
  const second = await openPostgresStorage(url);
  await second.close();
  await second.close(); // idempotent
  await assert.rejects(
    second.write({ ...noWrites, failedIds: [{ id: 1n, result: 'exceedsCredits' }] }),
    /closed/,
  );
});

test('scanTransfers walks large stores in timestamp-ordered chunks', async (t) => {
  const url = await database(t);
  if (url === undefined) return;
  const storage = await openPostgresStorage(url);
  try {
    await storage.write({ ...noWrites, accountsCreated: [accountA, accountB] });
    const total = 24_000;
    const batch = 8_000;
    const started = performance.now();
    for (let start = 0; start < total; start += batch) {
      const transfers: TransferRecord[] = [];
      for (let i = start; i < start + batch; i++) {
        // Ids in reverse of timestamp order, so that id order and timestamp order differ.
        transfers.push(transfer(BigInt(total - i), A, B, BigInt(i + 1), t0 + 1000n + BigInt(i)));
      }
      await storage.write({
        ...noWrites,
        accountsUpdated: [
          { ...accountA, debitsPosted: BigInt(start + batch) },
          { ...accountB, creditsPosted: BigInt(start + batch) },
        ],
        transfersCreated: transfers,
      });
    }
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(
      `wrote ${total} transfers in ${seconds.toFixed(2)} s: ${Math.round(total / seconds)}/s`,
    );

    const sizes: number[] = [];
    let expected = 0;
    for await (const chunk of storage.scanTransfers()) {
      sizes.push(chunk.length);
      for (const record of chunk) {
        assert.equal(record.timestamp, t0 + 1000n + BigInt(expected));
        assert.equal(record.amount, BigInt(expected + 1));
        expected++;
      }
    }
    assert.deepEqual(sizes, [10_000, 10_000, 4_000]);
    const newest = await storage.getAccountTransfers({ accountId: B, limit: 3, reversed: true });
    assert.deepEqual(
      newest.map((r) => r.amount),
      [24_000n, 23_999n, 23_998n],
    );
  } finally {
    await storage.close();
  }
});
