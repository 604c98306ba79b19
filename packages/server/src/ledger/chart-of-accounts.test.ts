import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openLedger } from '@mite/ledger';
import {
  ensurePlatformAccounts,
  newAccountId,
  platformAccountIds,
  walletAccount,
} from './chart-of-accounts.ts';

describe('chart of accounts', () => {
  it('creates the platform accounts once, and again without complaint', async () => {
    const ledger = await openLedger({ url: 'sqlite::memory:' });
    try {
      await ensurePlatformAccounts(ledger);
      await ensurePlatformAccounts(ledger);
      const found = await ledger.lookupAccounts(Object.values(platformAccountIds));
      assert.equal(found.length, Object.keys(platformAccountIds).length);
    } finally {
      await ledger.close();
    }
  });

  it('gives wallets random ids above every platform id, and a wallet cannot go negative', async () => {
    const id = newAccountId();
    assert.ok(id >= 1n << 127n && id !== newAccountId());
    const ledger = await openLedger({ url: 'sqlite::memory:' });
    try {
      await ensurePlatformAccounts(ledger);
      assert.deepEqual(await ledger.createAccounts([walletAccount(id)]), ['ok']);
      const overdraw = {
        id: 1n,
        debitAccountId: id,
        creditAccountId: platformAccountIds.platformFees,
        amount: 1n,
        ledger: 1,
        code: 3,
      };
      assert.deepEqual(await ledger.createTransfers([overdraw]), ['exceedsCredits']);
    } finally {
      await ledger.close();
    }
  });
});
