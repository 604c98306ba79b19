import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { Transfer } from '@mite/ledger';
import type { PlatformDialect } from '../db/platform-db.ts';
import { forEachDialect } from '../db/testing.ts';
import {
  accountCodes,
  ledgers,
  platformAccountIds,
  transferCodes,
} from '../ledger/chart-of-accounts.ts';
import { platformFor } from '../platform-testing.ts';

/**
 * The wallet service of a platform as `mite serve` builds it (on PostgreSQL, the ledger shares the
 * platform's database), with no background jobs, and one wallet.
 */
async function world(t: TestContext, dialect: PlatformDialect) {
  const { ledger, services } = await platformFor(t, dialect, { backgroundJobs: false });
  const { wallets, transferIds } = services;
  const wallet = await wallets.createWallet();
  /** Moves `amount` between the wallet and the processor's receivable; returns the transfer id. */
  const move = async (
    direction: 'in' | 'out',
    amount: bigint,
    extra: Partial<Transfer> = {},
  ): Promise<bigint> => {
    const id = transferIds.next();
    const [debit, credit] =
      direction === 'in'
        ? [platformAccountIds.processorReceivable, wallet]
        : [wallet, platformAccountIds.processorReceivable];
    const transfer = {
      id,
      debitAccountId: debit,
      creditAccountId: credit,
      amount,
      ledger: ledgers.usd,
      code: direction === 'in' ? transferCodes.topUp : transferCodes.payment,
      ...extra,
    };
    assert.deepEqual(await ledger.createTransfers([transfer]), ['ok']);
    return id;
  };
  return { ledger, wallets, wallet, move };
}

forEachDialect('wallet service', (dialect, it) => {
  it('creates empty wallets, each its own account that cannot go below zero', async (t) => {
    const { ledger, wallets, wallet } = await world(t, dialect);
    const other = await wallets.createWallet();
    assert.notEqual(other, wallet);
    const accounts = await ledger.lookupAccounts([wallet, other]);
    assert.equal(accounts.length, 2);
    for (const account of accounts) {
      assert.equal(account.code, accountCodes.wallet);
      assert.equal(account.flags.debitsMustNotExceedCredits, true);
    }
    assert.deepEqual(await wallets.balance(wallet), { availableMicros: 0n, reservedMicros: 0n });
    assert.equal(await wallets.balance(12_345n), undefined, 'no such account');
  });

  it('counts posted money, holds pending debits apart, and ignores pending credits', async (t) => {
    const { wallets, wallet, move } = await world(t, dialect);
    await move('in', 10_000_000n);
    await move('out', 2_000_000n);
    const held = await move('out', 3_000_000n, { flags: { pending: true }, timeoutSeconds: 60 });
    // Money on its way in (a top-up not yet confirmed, say) cannot be spent yet.
    await move('in', 50_000_000n, { flags: { pending: true }, timeoutSeconds: 60 });
    assert.deepEqual(await wallets.balance(wallet), {
      availableMicros: 5_000_000n,
      reservedMicros: 3_000_000n,
    });
    await move('out', 0n, { flags: { voidPending: true }, pendingId: held });
    assert.deepEqual(await wallets.balance(wallet), {
      availableMicros: 8_000_000n,
      reservedMicros: 0n,
    });
  });

  it('lists the history newest first, in pages that end where the cursor says', async (t) => {
    const { wallets, wallet, move } = await world(t, dialect);
    const topUp = await move('in', 10_000_000n);
    const payment = await move('out', 1_500_000n);
    const refund = await move('in', 500_000n, { code: transferCodes.refund });
    const odd = await move('out', 1n, { code: 999 });
    const all = await wallets.history(wallet, { limit: 10 });
    assert.deepEqual(
      all.map((entry) => [entry.transferId, entry.direction, entry.amountMicros, entry.kind]),
      [
        [odd, 'out', 1n, 'other'],
        [refund, 'in', 500_000n, 'refund'],
        [payment, 'out', 1_500_000n, 'payment'],
        [topUp, 'in', 10_000_000n, 'topUp'],
      ],
    );
    const times = all.map((entry) => entry.recordedAtNs);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => (a > b ? -1 : 1)),
      'strictly newest first',
    );
    assert.ok(Math.abs(Number((times[0] ?? 0n) / 1_000_000n) - Date.now()) < 60_000);

    const first = await wallets.history(wallet, { limit: 2 });
    assert.deepEqual(
      first.map((entry) => entry.transferId),
      [odd, refund],
    );
    const before = first.at(-1)?.recordedAtNs;
    assert.ok(before !== undefined);
    const second = await wallets.history(wallet, { limit: 2, beforeNs: before });
    assert.deepEqual(
      second.map((entry) => entry.transferId),
      [payment, topUp],
      '`beforeNs` is exclusive',
    );
    assert.deepEqual(await wallets.history(wallet, { limit: 2, beforeNs: times.at(-1) ?? 0n }), []);
    assert.deepEqual(await wallets.history(wallet, { limit: 2, beforeNs: 0n }), []);
    await assert.rejects(wallets.history(wallet, { limit: 0 }), /limit/);
  });
});
