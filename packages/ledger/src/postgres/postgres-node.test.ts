import assert from 'node:assert/strict';
import { test } from 'node:test';
import postgres from 'postgres';
import { freshPgDatabase } from '@mite/testkit';
import { openLedger } from '../open-ledger.ts';
import type { Ledger, Transfer } from '../types.ts';

const L = 1;
const C = 1;
/** Funding account (unlimited), then wallets that must not go below zero. */
const bank = 1n;
const wallets = [11n, 12n, 13n];
const shop = 2n;

async function seed(ledger: Ledger, fundingEach: bigint): Promise<void> {
  const accounts = [bank, shop, ...wallets].map((id) => ({
    id,
    ledger: L,
    code: C,
    ...(wallets.includes(id) ? { flags: { debitsMustNotExceedCredits: true } } : {}),
  }));
  assert.deepEqual(
    await ledger.createAccounts(accounts),
    accounts.map(() => 'ok'),
  );
  const funding = wallets.map((wallet, i) => transfer(BigInt(1000 + i), bank, wallet, fundingEach));
  assert.deepEqual(
    await ledger.createTransfers(funding),
    funding.map(() => 'ok'),
  );
}

function transfer(id: bigint, debit: bigint, credit: bigint, amount: bigint): Transfer {
  return { id, debitAccountId: debit, creditAccountId: credit, amount, ledger: L, code: C };
}

async function balance(ledger: Ledger, id: bigint): Promise<bigint> {
  const [account] = await ledger.lookupAccounts([id]);
  assert.ok(account !== undefined);
  return account.creditsPosted - account.debitsPosted;
}

test('two nodes on one PostgreSQL: concurrent spending, retries of one id, no overdraft, verify clean', async (t) => {
  const url = await freshPgDatabase();
  if (url === undefined) return t.skip('PostgreSQL is not available');
  const first = await openLedger({ url });
  const second = await openLedger({ url });
  t.after(async () => {
    await second.close();
    await first.close();
  });
  const funding = 50n;
  await seed(first, funding);

  // 3 wallets x 40 payments of 3 from each node: far more than 50 each can pay.
  const nodes = [first, second];
  let nextId = 10_000n;
  const calls: Promise<{ wallet: bigint; result: string }>[] = [];
  for (let round = 0; round < 40; round++) {
    for (const wallet of wallets) {
      for (const node of nodes) {
        const id = nextId++;
        calls.push(
          node
            .createTransfers([transfer(id, wallet, shop, 3n)])
            .then(([result]) => ({ wallet, result: result ?? 'missing' })),
        );
      }
    }
  }
  // The same transfer sent through both nodes at once, several times: one ok, the rest exist.
  const twin = transfer(99_999n, bank, shop, 7n);
  const twins = await Promise.all(
    Array.from({ length: 6 }, (_, i) => nodes[i % 2]?.createTransfers([twin]) ?? []),
  );
  const outcomes = await Promise.all(calls);
  assert.deepEqual(twins.flat().sort(), ['exists', 'exists', 'exists', 'exists', 'exists', 'ok']);

  for (const wallet of wallets) {
    const paid = outcomes.filter((o) => o.wallet === wallet && o.result === 'ok').length;
    const refused = outcomes.filter((o) => o.wallet === wallet && o.result === 'exceedsCredits');
    assert.equal(paid, Number(funding / 3n), `wallet ${wallet} paid as often as it could`);
    assert.equal(paid + refused.length, 80);
    // Both nodes read the same durable balance.
    assert.equal(await balance(first, wallet), funding - 3n * BigInt(paid));
    assert.equal(await balance(second, wallet), funding - 3n * BigInt(paid));
  }
  assert.deepEqual(await first.verify(), { ok: true, problems: [] });
  assert.deepEqual(await second.verify(), { ok: true, problems: [] });
});

test('when the writer stops, the other node takes over and answers what waits', async (t) => {
  const url = await freshPgDatabase();
  if (url === undefined) return t.skip('PostgreSQL is not available');
  const writer = await openLedger({ url });
  const follower = await openLedger({ url });
  t.after(() => follower.close());
  await seed(writer, 1_000n);

  const before = follower.createTransfers([transfer(20_001n, wallets[0] ?? 0n, shop, 5n)]);
  assert.deepEqual(await before, ['ok']);
  // Requests sent while the writer closes are answered by the follower once it writes.
  const closing = writer.close();
  const during = Array.from({ length: 20 }, (_, i) =>
    follower.createTransfers([transfer(BigInt(20_100 + i), wallets[1] ?? 0n, shop, 1n)]),
  );
  await closing;
  assert.deepEqual((await Promise.all(during)).flat(), Array<string>(20).fill('ok'));
  assert.equal(await balance(follower, wallets[1] ?? 0n), 1_000n - 20n);
  assert.deepEqual(await follower.verify(), { ok: true, problems: [] });
});

test('a writer whose session is killed stops writing; the other node takes over, each request applied once', async (t) => {
  const url = await freshPgDatabase();
  if (url === undefined) return t.skip('PostgreSQL is not available');
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  const first = await openLedger({ url });
  const second = await openLedger({ url });
  t.after(async () => {
    await second.close();
    await first.close();
    await admin.end({ timeout: 5 });
  });
  await seed(first, 10_000n);

  const [lockHolder] = await admin<{ pid: number }[]>`
    select pid from pg_locks where locktype = 'advisory' and granted and objsubid = 1
      and database = (select oid from pg_database where datname = current_database())`;
  assert.ok(lockHolder !== undefined, 'a writer holds the lock');
  // Spend from both nodes in waves; the writer's session is killed after the third.
  const results: string[] = [];
  for (let wave = 0; wave < 10; wave++) {
    if (wave === 3) await admin`select pg_terminate_backend(${lockHolder.pid})`;
    const spends = Array.from({ length: 6 }, (_, i) =>
      (i % 2 === 0 ? first : second)
        .createTransfers([transfer(BigInt(30_000 + wave * 6 + i), wallets[2] ?? 0n, shop, 10n)])
        .then(
          ([result]) => result ?? 'missing',
          (error: Error) => `error: ${error.message}`,
        ),
    );
    results.push(...(await Promise.all(spends)));
  }
  const ok = results.filter((r) => r === 'ok').length;
  // A request cut off with the session may fail; none may be applied without being stored.
  assert.ok(
    results.every((r) => r === 'ok' || r.startsWith('error')),
    results.join(', '),
  );
  assert.ok(ok >= 18, `the waves before the kill were acknowledged: ${results.join(', ')}`);

  // After the take-over, every node writes again; what was acknowledged is there, once.
  const retry = await first.createTransfers([transfer(39_999n, wallets[2] ?? 0n, shop, 10n)]);
  assert.deepEqual(retry, ['ok']);
  const stored = await second.lookupTransfers(
    Array.from({ length: 60 }, (_, i) => BigInt(30_000 + i)),
  );
  assert.ok(stored.length >= ok, `${stored.length} stored, ${ok} acknowledged`);
  const spent = 10_000n - (await balance(second, wallets[2] ?? 0n));
  assert.equal(spent, 10n * BigInt(stored.length + 1));
  assert.deepEqual(await second.verify(), { ok: true, problems: [] });
});

test("the writer's lookups show every write another node has been answered for", async (t) => {
  const url = await freshPgDatabase();
  if (url === undefined) return t.skip('PostgreSQL is not available');
  const writer = await openLedger({ url });
  const follower = await openLedger({ url });
  t.after(async () => {
    await follower.close();
    await writer.close();
  });
  await seed(writer, 1_000n);
  // The answer reaches the follower through PostgreSQL, possibly before the writer's engine has
  // marked the batch durable; a read at the writer after the answer must still include it.
  for (let i = 0; i < 40; i++) {
    const id = BigInt(40_000 + i);
    assert.deepEqual(await follower.createTransfers([transfer(id, wallets[0] ?? 0n, shop, 1n)]), [
      'ok',
    ]);
    const [balanceNow, [stored]] = await Promise.all([
      balance(writer, wallets[0] ?? 0n),
      writer.lookupTransfers([id]),
    ]);
    assert.equal(balanceNow, 1_000n - BigInt(i + 1), `balance after transfer ${i}`);
    assert.equal(stored?.id, id, `transfer ${i} visible at the writer`);
  }
});
