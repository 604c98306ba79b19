import assert from 'node:assert/strict';
import type { Ledger, VerifyReport } from '@mite/ledger';
import { forEachDialect } from '../db/testing.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import { platformFor } from '../platform-testing.ts';
import { readKindBalances } from './kind-balances.ts';
import { createLedgerVerifications } from './ledger-verifications.ts';

/** The platform's ledger with verify() answered by `verify` instead. */
function ledgerVerifying(ledger: Ledger, verify: () => Promise<VerifyReport>): Ledger {
  return {
    createAccounts: (accounts) => ledger.createAccounts(accounts),
    createTransfers: (transfers) => ledger.createTransfers(transfers),
    lookupAccounts: (ids) => ledger.lookupAccounts(ids),
    lookupTransfers: (ids) => ledger.lookupTransfers(ids),
    getAccountTransfers: (filter) => ledger.getAccountTransfers(filter),
    verify,
    close: () => ledger.close(),
  };
}

forEachDialect('ledger verifications', (dialect, it) => {
  it('records a run the ledger could not finish as failed, with its message', async (t) => {
    const platform = await platformFor(t, dialect, { backgroundJobs: false });
    const errors: unknown[] = [];
    const verifications = createLedgerVerifications({
      platform: platform.platformDb,
      ledger: ledgerVerifying(platform.ledger, () => Promise.reject(new Error('disk gone'))),
      clock: () => 1_000_000,
      onError: (error) => errors.push(error),
    });
    const run = await verifications.start('operator:test');
    assert.equal(run.started, true);
    await verifications.drain();
    const done = await verifications.byId(run.verification.id);
    assert.equal(done?.state, 'failed');
    assert.equal(done?.error, 'disk gone');
    assert.equal(done?.report, null);
    assert.equal(errors.length, 1);
  });

  it('counts the problems verify() did not list', async (t) => {
    const platform = await platformFor(t, dialect, { backgroundJobs: false });
    const listed = Array.from({ length: 100 }, (_, index) => `problem ${index}`);
    const verifications = createLedgerVerifications({
      platform: platform.platformDb,
      ledger: ledgerVerifying(platform.ledger, () =>
        Promise.resolve({ ok: false, problems: [...listed, '... and 5 more problems'] }),
      ),
      clock: () => 1_000_000,
    });
    const run = await verifications.start('operator:test');
    await verifications.drain();
    const done = await verifications.byId(run.verification.id);
    assert.equal(done?.state, 'done');
    assert.equal(done?.report?.ok, false);
    assert.equal(done?.report?.problemCount, 105);
    assert.equal(done?.report?.problems.length, 101);
  });

  it('sums every wallet and merchant a page at a time', async (t) => {
    const platform = await platformFor(t, dialect, { backgroundJobs: false });
    const { users, merchants } = platform.services;
    const credits: [bigint, bigint][] = [];
    for (const [index, micros] of [1_000_000n, 2_500_000n, 300n].entries()) {
      const signedUp = await users.signUp({
        email: `user${index}@example.com`,
        password: 'a long passphrase',
      });
      assert.ok(signedUp.ok);
      const profile = await users.profile(signedUp.value.userId);
      assert.ok(profile !== undefined);
      credits.push([profile.walletAccountId, micros]);
    }
    const merchant = await merchants.createMerchant({
      name: 'One',
      feeBasisPoints: 1000,
      payoutThresholdMicros: 10_000_000n,
    });
    credits.push([merchant.accountId, 7n]);
    const results = await platform.ledger.createTransfers(
      credits.map(([account, amount]) => ({
        id: platform.services.transferIds.next(),
        debitAccountId: platformAccountIds.processorReceivable,
        creditAccountId: account,
        amount,
        ledger: ledgers.usd,
        code: transferCodes.topUp,
      })),
    );
    assert.ok(results.every((result) => result === 'ok'));
    const balances = await readKindBalances(platform.platformDb, platform.ledger, 2);
    assert.deepEqual(balances.wallets, {
      accounts: 3,
      debitsPosted: '0',
      creditsPosted: '3500300',
      debitsPending: '0',
      creditsPending: '0',
      balance: '3500300',
    });
    assert.equal(balances.merchants.accounts, 1);
    assert.equal(balances.merchants.balance, '7');
    assert.equal(balances.processorReceivable.balance, '3500307');
    assert.equal(balances.settlement.balance, '0');
  });
});
