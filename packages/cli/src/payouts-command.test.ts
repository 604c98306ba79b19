import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimeOrderedIds } from '@mite/ledger';
import { createPlatform } from '@mite/server';
import { tempDir } from '@mite/testkit';
import pino from 'pino';
import { runCliProcess } from './test-helpers.ts';

/** A platform in `dataDir` with one merchant holding 12.345678 USD, past its 10.00 threshold. */
async function merchantDueAPayout(dataDir: string): Promise<void> {
  const platform = await createPlatform({ dataDir, env: {}, logger: pino({ level: 'silent' }) });
  try {
    const { merchants, payouts } = platform.services;
    const { merchantId, accountId } = await merchants.createMerchant({
      name: 'News & Co',
      feeBasisPoints: 0,
      payoutThresholdMicros: 10_000_000n,
    });
    const bank = await payouts.setBankAccount(merchantId, {
      holderName: 'News & Co',
      iban: 'DE89370400440532013000',
      bic: 'COBADEFFXXX',
    });
    assert.ok(bank.ok, JSON.stringify(bank));
    const results = await platform.ledger.createTransfers([
      {
        id: new TimeOrderedIds().next(),
        debitAccountId: 2n,
        creditAccountId: accountId,
        amount: 12_345_678n,
        ledger: 1,
        code: 1,
      },
    ]);
    assert.deepEqual(results, ['ok']);
  } finally {
    await platform.close();
  }
}

describe('mite payouts run', () => {
  it('holds a merchant with new bank details, then pays it once, in whole cents', async () => {
    const dataDir = tempDir('mite-payouts-');
    await merchantDueAPayout(dataDir);
    const held = await runCliProcess(['payouts', 'run', '--data-dir', dataDir]);
    assert.equal(held.code, 0, held.stderr);
    assert.match(held.stdout, /No merchant is due a payout/);
    assert.match(held.stdout, /Held: mer_\S+, whose bank details changed at .* is paid from /);
    const noHold = { MITE_BANK_CHANGE_HOLD_HOURS: '0' };
    const first = await runCliProcess(['payouts', 'run', '--data-dir', dataDir], noHold);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /1 of 1 payouts paid, 12\.34 USD in all/);
    assert.match(first.stderr, /1\/1 payouts/);
    const second = await runCliProcess(['payouts', 'run', '--data-dir', dataDir, '--json'], noHold);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(JSON.parse(second.stdout).nothingDue, true);
  });
});

describe('mite fee-report', () => {
  it('reports card fees through top-ups against card payments', async () => {
    const dataDir = tempDir('mite-fees-');
    const platform = await createPlatform({
      dataDir,
      env: {},
      logger: pino({ level: 'silent' }),
      funding: { provider: 'sandbox' },
    });
    try {
      const { users, topUps } = platform.services;
      const signedUp = await users.signUp({
        email: 'ada@example.com',
        password: 'a long passphrase',
      });
      assert.ok(signedUp.ok);
      const card = { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' };
      const topUp = await topUps.topUp({
        userId: signedUp.value.userId,
        amountMicros: 10_000_000n,
        source: { kind: 'card', card },
        idempotencyKey: 'k',
      });
      assert.ok(topUp.ok);
    } finally {
      await platform.close();
    }
    const day = new Date();
    const from = new Date(day.getTime() - 86_400_000).toISOString();
    const to = new Date(day.getTime() + 86_400_000).toISOString();
    const run = await runCliProcess([
      'fee-report',
      '--from',
      from,
      '--to',
      to,
      '--data-dir',
      dataDir,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /card fees paid on 1 top-ups:\s+0\.59 USD/);
    const bad = await runCliProcess([
      'fee-report',
      '--from',
      'yesterday',
      '--to',
      to,
      '--data-dir',
      dataDir,
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Expected a date/);
  });
});
